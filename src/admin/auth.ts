/**
 * Who may call the admin API. Tokens are named and carry a role; the token's name (not what the
 * client says about itself) is who the audit records. Roles are ordered: admin ⊃ operate ⊃ read.
 *
 * - read: every GET, and the dry runs that parse a config (validate, diff)
 * - operate: shifts and rollout commands
 * - admin: apply, rollback, everything
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HttpError } from './http-error.js';

export const ROLES = ['read', 'operate', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The caller a token names. */
export interface Principal {
  name: string;
  role: Role;
}

/** What a route needs: a role, or nothing at all (`open`: probes). */
export type Requirement = Role | 'open';

/**
 * Checks a request against what its route needs. Returns the caller (undefined: anonymous, allowed
 * because no token is configured and the route only reads), or throws 401/403.
 */
export type Authorizer = (req: IncomingMessage, need: Requirement) => Principal | undefined;

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

const tokenEntry = z
  .object({
    name: z.string().trim().min(1).max(100),
    role: z.enum(ROLES),
    token: z.string().trim().min(16, 'a token must be at least 16 characters').optional(),
    tokenSha256: z.string().trim().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (sha256 of the token)').optional(),
  })
  .strict()
  .refine((e) => (e.token === undefined) !== (e.tokenSha256 === undefined), { message: 'give exactly one of token or tokenSha256' });

export type TokenEntry = z.infer<typeof tokenEntry>;

/** Reads `--admin-tokens-file`: a YAML or JSON list of {name, role, token | tokenSha256} (or {tokens: [...]}). */
export function loadTokensFile(file: string): TokenEntry[] {
  const text = fs.readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new Error(`${file}: not YAML or JSON: ${(err as Error).message}`);
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'tokens' in raw) raw = (raw as { tokens: unknown }).tokens;
  const parsed = z.array(tokenEntry).min(1, 'list at least one token').safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'tokens'}: ${i.message}`).join('; ')}`);
  }
  const names = new Set<string>();
  for (const e of parsed.data) {
    if (names.has(e.name)) throw new Error(`${file}: token name '${e.name}' is listed twice`);
    names.add(e.name);
  }
  return parsed.data;
}

/** Reads the admin token from a file (trailing newline ignored) or returns the literal value. */
export function resolveAdminToken(opts: { token?: string; tokenFile?: string }): string | undefined {
  if (opts.tokenFile) return fs.readFileSync(opts.tokenFile, 'utf8').trim();
  return opts.token?.trim() || undefined;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * `tokens`: a single admin token (`--admin-token`, `BANYAN_ADMIN_TOKEN`; named `admin`), a list of
 * named tokens, or nothing. With no token configured, reads stay open (on the loopback-bound API)
 * and everything else — changes and the parse-heavy dry runs — is refused outright: an
 * unauthenticated admin API must never be the accidental default.
 */
export function bearerAuthorizer(tokens: string | readonly TokenEntry[] | undefined): Authorizer {
  const entries: TokenEntry[] = typeof tokens === 'string' ? [{ name: 'admin', role: 'admin', token: tokens }] : [...(tokens ?? [])];
  // Compared as sha256 digests: equal length always, so timingSafeEqual leaks neither content nor length.
  const known = entries.map((e) => ({ name: e.name, role: e.role, digest: e.token !== undefined ? sha256(e.token) : Buffer.from(e.tokenSha256!, 'hex') }));
  const challenge = { 'www-authenticate': 'Bearer realm="banyan-admin"' };
  return (req, need) => {
    if (need === 'open') return undefined;
    const header = req.headers.authorization;
    if (!known.length) {
      if (need === 'read') return undefined;
      throw new HttpError(401, 'this needs a token and none is configured: start the server with --admin-tokens-file, --admin-token-file or BANYAN_ADMIN_TOKEN', undefined, challenge);
    }
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m) throw new HttpError(401, 'missing bearer token: pass --token or set BANYAN_TOKEN', undefined, challenge);
    const given = sha256(m[1].trim());
    let found: (typeof known)[number] | undefined;
    for (const k of known) if (timingSafeEqual(given, k.digest)) found = k;
    if (!found) throw new HttpError(401, 'invalid token', undefined, challenge);
    if (!roleAtLeast(found.role, need)) {
      throw new HttpError(403, `token '${found.name}' has role ${found.role}; this needs ${need}`);
    }
    return { name: found.name, role: found.role };
  };
}

/**
 * Who the audit records: the token's name, with what the client claims about itself (`--author`) kept
 * beside it when it says something else. Anonymous callers (no token configured) are their claim.
 */
export function actorFor(principal: Principal | undefined, claimed: string | undefined): string {
  if (!principal) return claimed ?? 'unknown';
  if (!claimed || claimed === principal.name || claimed === 'unknown') return principal.name;
  return `${principal.name} (as ${claimed})`;
}
