import type { JWTPayload } from 'jose';
import type { ClaimRule } from '../config/model.js';
import type { HttpView } from './request.js';
import { forbidden } from './failure.js';

/** A claim by name, or by dotted path into nested objects (`realm_access.roles`) when no top-level claim has that name. */
export function claimValue(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let cur: unknown = payload;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Granted scopes: OAuth's space-delimited `scope` (RFC 8693 §4.2), or the `scp` array some issuers use. */
export function grantedScopes(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') for (const s of claim.split(' ')) if (s) out.add(s);
    if (Array.isArray(claim)) for (const s of claim) if (typeof s === 'string') out.add(s);
  }
  return out;
}

/**
 * Throws a 403 failure unless the verified tokens together grant every scope and each claim rule
 * holds for at least one of them. With one token (the usual case) that is simply "this token".
 */
export function checkRequirement(payloads: readonly JWTPayload[], scopes: readonly string[], rules: readonly ClaimRule[], view: HttpView): void {
  if (scopes.length) {
    const granted = new Set(payloads.flatMap((p) => [...grantedScopes(p)]));
    const missing = scopes.filter((s) => !granted.has(s));
    if (missing.length) throw forbidden('insufficient_scope', `missing scope ${missing.join(' ')}`);
  }
  for (const rule of rules) {
    if (!payloads.some((p) => ruleHolds(claimValue(p, rule.claim), rule, view))) {
      throw forbidden('claim_mismatch', `claim ${rule.claim} does not satisfy the route requirement`);
    }
  }
}

function ruleHolds(value: unknown, rule: ClaimRule, view: HttpView): boolean {
  const candidates = (Array.isArray(value) ? value : [value]).filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean').map(String);
  switch (rule.op) {
    case 'eq':
      return candidates.includes(rule.value);
    case 'in':
      return candidates.some((c) => rule.values.includes(c));
    case 'eqHeader': {
      // A missing header never matches, even a missing claim: absence is not equality.
      const header = view.headers[rule.header.toLowerCase()];
      return header !== undefined && header !== '' && candidates.includes(header);
    }
  }
}
