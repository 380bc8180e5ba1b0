import { errors, jwtVerify, type CryptoKey, type JWSHeaderParameters, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { AuthProvider } from '../config/model.js';
import { AuthFailure, invalid } from './failure.js';

export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/** Symmetric and unsigned algorithms can never verify against a public JWKS; they are never allowed. */
const NEVER_ALLOWED = /^(none|HS\d+)$/i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/**
 * A kid is only ever a key into an in-memory map, but one that looks like a path, SQL or markup is
 * refused before lookup so that it cannot even cost a JWKS refetch. Base64 '/' and '+' stay legal
 * (AWS Cognito kids use standard base64); traversal needs '..' or a leading '/', both refused.
 */
const SAFE_KID = /^(?!\/)(?!.*\.\.)[A-Za-z0-9_.~+\/=:-]{1,256}$/;
/** Header parameters that point at keys chosen by the token's author: honouring them is the classic bypass. */
const KEY_POINTERS = ['jku', 'x5u', 'x5c', 'jwk'] as const;

export type KeyResolver = (header: JWSHeaderParameters) => Promise<CryptoKey>;

/**
 * Verifies `token` for one provider: cheap structural checks first (size, shape, header), then
 * jose's signature and claim validation (issuer, audience, exp/nbf with clock skew), then the
 * optional lifetime cap. Every failure is an AuthFailure of kind `invalid` (401).
 */
export async function verifyToken(
  token: string,
  provider: AuthProvider,
  resolveKey: KeyResolver,
  opts: { maxTokenBytes: number; now: number },
): Promise<JWTPayload> {
  precheck(token, provider, opts.maxTokenBytes);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, resolveKey, verifyOptions(provider, opts.now)));
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) payload = await verifyWithCandidates(token, provider, err, opts.now);
    else throw classify(err);
  }
  checkLifetime(payload, provider, opts.now);
  return payload;
}

function verifyOptions(provider: AuthProvider, now: number): JWTVerifyOptions {
  return {
    issuer: provider.issuer,
    // jose accepts the token when any one of these equals aud (a string or any element of an array).
    audience: provider.audiences.length ? provider.audiences : undefined,
    algorithms: provider.algorithms.filter((a) => !NEVER_ALLOWED.test(a)),
    clockTolerance: Math.floor(provider.clockSkewMs / 1000),
    requiredClaims: provider.requireExp ? ['exp'] : [],
    currentDate: new Date(now),
  };
}

function precheck(token: string, provider: AuthProvider, maxTokenBytes: number): void {
  if (token.length > maxTokenBytes) throw invalid('token_too_large', `token larger than ${maxTokenBytes} bytes`);
  if (!COMPACT_JWS.test(token)) throw invalid('malformed', 'token is not a compact JWS');
  const encoded = token.slice(0, token.indexOf('.'));
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed', 'token header is not base64url JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw invalid('malformed', 'token header is not a JSON object');
  const h = header as JWSHeaderParameters & Record<string, unknown>;
  if (typeof h.alg !== 'string' || NEVER_ALLOWED.test(h.alg) || !provider.algorithms.includes(h.alg)) {
    throw invalid('alg_not_allowed', `algorithm ${typeof h.alg === 'string' ? h.alg.slice(0, 32) : 'missing'} not allowed`);
  }
  for (const p of KEY_POINTERS) if (p in h) throw invalid('forbidden_header', `header parameter ${p} is not accepted`);
  if ('crit' in h) throw invalid('crit_unsupported', 'critical header extensions are not supported');
  if ('kid' in h && (typeof h.kid !== 'string' || !SAFE_KID.test(h.kid))) throw invalid('bad_kid', 'malformed key id');
}

/** A kid-less token matched several keys: try each (jose hands them over lazily on the error). */
async function verifyWithCandidates(token: string, provider: AuthProvider, err: errors.JWKSMultipleMatchingKeys, now: number): Promise<JWTPayload> {
  let last: unknown = err;
  for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
    try {
      const { payload } = await jwtVerify(token, key, verifyOptions(provider, now));
      return payload;
    } catch (e) {
      last = e;
      // Only a bad signature means "try the next key"; a claim failure is final.
      if (!(e instanceof errors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw classify(last);
}

function checkLifetime(payload: JWTPayload, provider: AuthProvider, now: number): void {
  if (provider.maxLifetimeMs === undefined) return;
  if (typeof payload.iat !== 'number') throw invalid('missing_claim', 'token has no iat claim and a maximum lifetime applies');
  const end = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
  if (end - payload.iat * 1000 > provider.maxLifetimeMs) throw invalid('lifetime_exceeded', 'token lifetime exceeds the allowed maximum');
}

function classify(err: unknown): AuthFailure {
  if (err instanceof AuthFailure) return err;
  if (err instanceof errors.JWTExpired) return invalid('expired', 'token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return invalid('wrong_issuer', 'unexpected issuer');
      case 'aud':
        return invalid('wrong_audience', 'unexpected audience');
      case 'nbf':
        return invalid('not_yet_valid', 'token not yet valid');
      default:
        return err.reason === 'missing'
          ? invalid('missing_claim', `token has no ${err.claim} claim`)
          : invalid('invalid_claim', `invalid ${err.claim} claim`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('bad_signature', 'signature verification failed');
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('alg_not_allowed', 'algorithm not allowed');
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('unknown_kid', 'no matching signing key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return invalid('malformed', 'malformed token');
  if (err instanceof errors.JOSENotSupported) return invalid('alg_not_allowed', 'unsupported algorithm');
  return invalid('invalid', 'token could not be verified');
}
