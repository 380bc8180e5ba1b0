/**
 * Token revocations for the authz service: revoke a jti, sub or sid, list, and lift. Stored and
 * shared through the store, so every replica's authz service denies within about a second.
 */
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import { REVOCATION_KINDS, type RevocationKind } from '../../store/types.js';
import type { RevocationOperations } from '../operations.js';
import { HttpError, type Router } from '../router.js';
import { actorFor } from '../auth.js';
import { author, parseBody, validate } from './body.js';
import { guard } from './errors.js';

/**
 * Without expiresAt (or `expires`), a revocation lasts 24 h: it must outlive every token it denies,
 * and 24 h covers the longest-lived access tokens issuers commonly hand out (Auth0, Keycloak and
 * Cognito cap access tokens at 24 h or below). Given a token, a jti revocation lasts until its exp
 * plus the default clock skew the verifier tolerates.
 */
export const DEFAULT_REVOCATION_MS = 24 * 3_600_000;
/** A revocation longer than this is refused: it is a typo, not a token lifetime. */
export const MAX_REVOCATION_MS = 366 * 24 * 3_600_000;
const EXP_SKEW_MS = 60_000;
const MAX_VALUE = 1024;

const revokeBody = z
  .object({
    kind: z.enum(REVOCATION_KINDS),
    value: z.string().trim().min(1).max(MAX_VALUE).optional(),
    /** The token itself (its payload is read, not verified): jti (or sub, sid) and exp come from it. */
    token: z.string().max(16 * 1024).optional(),
    reason: z.string().max(1000).default(''),
    /** Epoch milliseconds or an ISO time. */
    expiresAt: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
    /** A duration from now (`24h`, `90m`) instead of expiresAt. */
    expires: z.string().min(1).optional(),
    author,
  })
  .refine((b) => (b.value === undefined) !== (b.token === undefined), { message: 'give either value or token' })
  .refine((b) => !(b.expiresAt !== undefined && b.expires !== undefined), { message: 'give expiresAt or expires, not both' });

const unrevokeBody = z.object({ author: author.default('unknown') });

export function mountRevocationRoutes(router: Router, ops: RevocationOperations): void {
  router.post(
    '/api/v1/revocations',
    guard(async (ctx) => {
      const body = await parseBody(ctx, revokeBody);
      const now = Date.now();
      const claims = body.token === undefined ? undefined : tokenClaims(body.token);
      const value = body.value ?? claimOf(claims!, body.kind);
      const expiresAt = expiryOf(body, claims, now);
      const revocation = await ops.revoke({ kind: body.kind, value, reason: body.reason, expiresAt, author: actorFor(ctx.principal, body.author) });
      return { revocation };
    }),
    // the operator's job, like shifts and rollout commands (auth.ts roles: admin ⊃ operate ⊃ read)
    { role: 'operate' },
  );

  router.get(
    '/api/v1/revocations',
    guard(async () => ({ revocations: await ops.revocations() })),
  );

  router.delete(
    '/api/v1/revocations/:kind/:value',
    guard(async (ctx) => {
      const kind = kindParam(ctx.params.kind);
      const body = validate((await ctx.body()) ?? {}, unrevokeBody);
      const removed = await ops.unrevoke(kind, ctx.params.value, actorFor(ctx.principal, body.author));
      if (!removed) throw new HttpError(404, `no revocation of ${kind} ${ctx.params.value}`);
      return { kind, value: ctx.params.value, removed };
    }),
    // the operator's job, like shifts and rollout commands (auth.ts roles: admin ⊃ operate ⊃ read)
    { role: 'operate' },
  );
}

function kindParam(kind: string): RevocationKind {
  if (!(REVOCATION_KINDS as readonly string[]).includes(kind)) throw new HttpError(400, `kind must be one of ${REVOCATION_KINDS.join(', ')}, got '${kind}'`);
  return kind as RevocationKind;
}

/** The unverified payload of a compact JWS: only read to name what to revoke, never to allow anything. */
function tokenClaims(token: string): Record<string, unknown> {
  const part = token.trim().split('.')[1];
  try {
    const payload = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    if (payload && typeof payload === 'object' && !Array.isArray(payload)) return payload as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'token is not a JWT (no JSON payload)');
}

function claimOf(claims: Record<string, unknown>, kind: RevocationKind): string {
  const v = claims[kind];
  if (typeof v !== 'string' || !v || v.length > MAX_VALUE) throw new HttpError(400, `the token has no ${kind} claim to revoke`);
  return v;
}

function expiryOf(body: z.infer<typeof revokeBody>, claims: Record<string, unknown> | undefined, now: number): number {
  let at: number;
  if (body.expires !== undefined) {
    const ms = parseDuration(body.expires);
    if (ms === undefined || ms <= 0) throw new HttpError(400, `expires: '${body.expires}' is not a positive duration (e.g. 24h, 90m)`);
    at = now + ms;
  } else if (typeof body.expiresAt === 'number') {
    at = body.expiresAt;
  } else if (typeof body.expiresAt === 'string') {
    at = Date.parse(body.expiresAt);
    if (Number.isNaN(at)) throw new HttpError(400, `expiresAt: '${body.expiresAt}' is not an ISO time or epoch milliseconds`);
  } else if (body.kind === 'jti' && typeof claims?.exp === 'number') {
    at = claims.exp * 1000 + EXP_SKEW_MS;
  } else {
    at = now + DEFAULT_REVOCATION_MS;
  }
  if (at <= now) throw new HttpError(400, 'the revocation would already have expired (expiresAt is in the past)');
  if (at - now > MAX_REVOCATION_MS) throw new HttpError(400, 'a revocation may last at most 366 days');
  return at;
}
