import type { JWTPayload } from 'jose';
import type { AuthProvider } from '../config/model.js';
import type { Span } from '@opentelemetry/api';
import { CONTEXT_AUTH, CONTEXT_ROUTE, decodeRequirement } from '../compile/authz.js';
import type { Logger } from '../telemetry/logger.js';
import { checkRequirement, claimValue } from './claims.js';
import { AuthFailure } from './failure.js';
import type { AuthzMetrics } from './metrics.js';
import { keySourceOf, startProvider, type ProviderRuntime } from './providers.js';
import { viewOf, type CheckRequestObject, type HttpView } from './request.js';
import { allowed, denied, type CheckResponseObject } from './response.js';
import { RevocationList } from './revocations.js';
import { TokenCache } from './token-cache.js';
import { extractToken } from './token-source.js';
import { DEFAULT_MAX_TOKEN_BYTES, verifyToken } from './verify.js';

export interface AuthorizerOptions {
  /** realm in WWW-Authenticate challenges. Default "banyan". */
  realm?: string;
  /** Tokens longer than this are rejected before any parsing. Default 8 KiB. */
  maxTokenBytes?: number;
  /** Verified-token cache entries; 0 disables the cache. Default 10,000. */
  cacheSize?: number;
  /** Upper bound on how long a verified token is trusted without re-verification. Default 5 min. */
  cacheMaxTtlMs?: number;
  /** Revoked jti/sub/sid, checked on every request (cached tokens too); default an empty list of its own. */
  revocations?: RevocationList;
  metrics?: AuthzMetrics;
  logger?: Logger;
}

interface Requirement {
  providers: string[];
  mode: 'any' | 'all';
  scopes: string[];
  claims: import('../config/model.js').ClaimRule[];
  allowMissing: boolean;
}

/** Route without banyan.auth: a valid token from any configured provider (see src/compile/authz.ts). */
const DEFAULT_REQUIREMENT: Requirement = { providers: [], mode: 'any', scopes: [], claims: [], allowMissing: false };
const MAX_DECODED_REQUIREMENTS = 1024;

interface Verified {
  provider: ProviderRuntime;
  token: string;
  payload: JWTPayload;
}

/**
 * The decision logic behind Envoy's Authorization/Check, independent of gRPC: read the route's
 * requirement from context_extensions, find and verify the token(s), check scopes and claims,
 * and build the CheckResponse. Any unexpected error becomes an explicit denial, never an allow.
 */
export class Authorizer {
  private providers = new Map<string, ProviderRuntime>();
  private identityHeaders: string[] = [];
  private readonly cache: TokenCache;
  private readonly requirements = new Map<string, Requirement | AuthFailure>();
  private readonly realm: string;
  private readonly maxTokenBytes: number;
  readonly revocations: RevocationList;

  constructor(private readonly opts: AuthorizerOptions = {}) {
    this.realm = opts.realm ?? 'banyan';
    this.revocations = opts.revocations ?? new RevocationList();
    this.maxTokenBytes = opts.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.cache = new TokenCache(opts.cacheSize ?? 10_000, opts.cacheMaxTtlMs ?? 300_000);
  }

  /**
   * Swaps in a new provider list. Key stores whose source is unchanged are kept (no refetch); new
   * ones start loading at once, and checks that need them wait for that first load. The token cache
   * is cleared because issuer, audience or lifetime rules may have changed.
   */
  setProviders(configs: AuthProvider[]): void {
    const next = new Map<string, ProviderRuntime>();
    const reused = new Set<ProviderRuntime>();
    for (const config of configs) {
      const old = this.providers.get(config.name);
      if (old && old.source === keySourceOf(config)) {
        next.set(config.name, { ...old, config });
        reused.add(old);
      } else {
        next.set(config.name, startProvider(config, this.opts));
      }
    }
    const retired = [...this.providers.values()].filter((p) => !reused.has(p));
    this.providers = next;
    this.identityHeaders = [...new Set(configs.flatMap((p) => [...p.claimsToHeaders.map((c) => c.header.toLowerCase()), ...(p.payloadHeader ? [p.payloadHeader.toLowerCase()] : [])]))];
    this.cache.clear();
    for (const p of retired) void p.close();
  }

  /** Resolves when every provider's current key load has finished (for start-up and tests). */
  async ready(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => (p.keys.hasKeys ? undefined : p.keys.reload())));
  }

  async close(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.close()));
    this.providers.clear();
  }

  /** `span` (the Check's server span) is given the outcome: never the token or a claim. */
  async check(request: CheckRequestObject, span?: Span): Promise<CheckResponseObject> {
    const started = performance.now();
    const view = viewOf(request);
    let requirement: Requirement | undefined;
    let response: CheckResponseObject;
    let reason: string;
    let providers: string[] | undefined;
    let internal = false;
    try {
      requirement = this.requirementFor(view);
      const verified = await this.authenticate(requirement, view);
      checkRequirement(verified.map((v) => v.payload), requirement.scopes, requirement.claims, view);
      response = this.allow(verified);
      reason = verified.length ? 'ok' : 'anonymous';
      providers = verified.map((v) => v.provider.config.name);
    } catch (err) {
      const failure = err instanceof AuthFailure ? err : new AuthFailure('internal', 'internal_error', 'internal error');
      if (!(err instanceof AuthFailure)) this.opts.logger?.error({ err }, 'authz check failed unexpectedly; denying');
      response = denied(failure, this.realm, requirement?.scopes ?? []);
      reason = failure.reason;
      internal = failure.kind === 'internal';
      providers = requirement?.providers;
    }
    const result = response.ok_response ? 'allowed' : 'denied';
    this.opts.metrics?.checks.inc({ result, reason });
    this.opts.metrics?.latency.observe({ result }, (performance.now() - started) / 1000);
    if (span?.isRecording()) {
      span.setAttributes({
        'banyan.authz.result': internal ? 'error' : result,
        'banyan.authz.reason': reason,
        'http.response.status_code': httpStatusOf(response),
        ...(view.contextExtensions[CONTEXT_ROUTE] !== undefined && { 'banyan.route': view.contextExtensions[CONTEXT_ROUTE] }),
        ...(providers?.length && { 'banyan.authz.provider': providers.join(',') }),
      });
    }
    return response;
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }

  private requirementFor(view: HttpView): Requirement {
    const text = view.contextExtensions[CONTEXT_AUTH];
    if (text === undefined) return DEFAULT_REQUIREMENT;
    let decoded = this.requirements.get(text);
    if (!decoded) {
      try {
        decoded = decodeRequirement(text);
      } catch (err) {
        decoded = new AuthFailure('internal', 'bad_requirement', 'route requirement is invalid');
        this.opts.logger?.error({ err: String(err) }, 'undecodable route requirement');
      }
      if (this.requirements.size >= MAX_DECODED_REQUIREMENTS) this.requirements.clear();
      this.requirements.set(text, decoded);
    }
    if (decoded instanceof AuthFailure) throw decoded;
    return decoded;
  }

  private runtimesFor(req: Requirement): ProviderRuntime[] {
    if (!req.providers.length) {
      if (!this.providers.size) throw new AuthFailure('internal', 'no_providers', 'no auth providers configured');
      return [...this.providers.values()];
    }
    return req.providers.map((name) => {
      const p = this.providers.get(name);
      if (!p) throw new AuthFailure('internal', 'unknown_provider', `route requires unknown provider ${name}`);
      return p;
    });
  }

  /** The verified tokens the requirement asks for; [] means "no token and allowMissing". */
  private async authenticate(req: Requirement, view: HttpView): Promise<Verified[]> {
    const runtimes = this.runtimesFor(req);
    const found = runtimes.map((provider) => ({ provider, token: extractToken(provider.config.from, view) }));
    const present = found.filter((f): f is { provider: ProviderRuntime; token: string } => f.token !== undefined);
    if (!present.length) {
      if (req.allowMissing) return [];
      throw new AuthFailure('missing', 'missing_token', 'no bearer token in the request');
    }
    if (req.mode === 'all') {
      if (present.length < found.length) throw new AuthFailure('missing', 'missing_token', 'a token required by this route is missing');
      return Promise.all(present.map(async (f) => ({ ...f, payload: await this.verify(f.provider, f.token) })));
    }
    return [await this.firstValid(present)];
  }

  /** Mode any: try providers whose issuer matches the token's (unverified) iss first; report that failure. */
  private async firstValid(present: { provider: ProviderRuntime; token: string }[]): Promise<Verified> {
    const ordered = present.length > 1 ? [...present].sort((a, b) => Number(issuerMatches(b)) - Number(issuerMatches(a))) : present;
    let first: unknown;
    for (const f of ordered) {
      try {
        return { ...f, payload: await this.verify(f.provider, f.token) };
      } catch (err) {
        first ??= err;
      }
    }
    throw first;
  }

  private async verify(provider: ProviderRuntime, token: string): Promise<JWTPayload> {
    // Size first: an oversized token is not even hashed.
    if (token.length > this.maxTokenBytes) throw new AuthFailure('invalid', 'token_too_large', `token larger than ${this.maxTokenBytes} bytes`);
    const now = Date.now();
    const key = TokenCache.key(provider.config.name, token);
    const hit = this.cache.get(key, now);
    if (hit) {
      this.opts.metrics?.cacheHits.inc();
      return this.notRevoked(hit, now);
    }
    this.opts.metrics?.cacheMisses.inc();
    const payload = await verifyToken(token, provider.config, provider.keys.resolve, { maxTokenBytes: this.maxTokenBytes, now });
    this.cache.set(key, payload, now);
    return this.notRevoked(payload, now);
  }

  /** After the cache, on every request: a token revoked since it was cached is denied at once. */
  private notRevoked(payload: JWTPayload, now: number): JWTPayload {
    const revoked = this.revocations.match(payload, now);
    if (revoked) {
      this.opts.metrics?.revoked.inc({ kind: revoked.kind });
      throw new AuthFailure('invalid', 'revoked', 'token revoked');
    }
    return payload;
  }

  private allow(verified: Verified[]): CheckResponseObject {
    const headers = new Map<string, string>();
    let removeAuthorization = false;
    for (const { provider, token, payload } of verified) {
      for (const { claim, header } of provider.config.claimsToHeaders) {
        const value = headerValue(claimValue(payload, claim));
        if (value !== undefined) headers.set(header.toLowerCase(), value);
      }
      // The token's own payload segment is already base64url JSON of exactly what was verified.
      if (provider.config.payloadHeader) headers.set(provider.config.payloadHeader.toLowerCase(), token.split('.')[1]);
      removeAuthorization ||= provider.config.removeAuthorization;
    }
    const remove = this.identityHeaders.filter((h) => !headers.has(h));
    if (removeAuthorization && !headers.has('authorization')) remove.push('authorization');
    return allowed([...headers], remove);
  }
}

const HTTP_STATUS: Record<string, number> = { Unauthorized: 401, Forbidden: 403, InternalServerError: 500 };

/** The HTTP status Envoy answers the client with: 200 (the request goes on) or the denial's. */
function httpStatusOf(response: CheckResponseObject): number {
  if (response.ok_response) return 200;
  return HTTP_STATUS[response.denied_response?.status.code ?? ''] ?? 403;
}

function issuerMatches(f: { provider: ProviderRuntime; token: string }): boolean {
  try {
    const payload = JSON.parse(Buffer.from(f.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown };
    return payload.iss === f.provider.config.issuer;
  } catch {
    return false;
  }
}

/** Claim → header value; one holding control characters (CR, LF, NUL, …) could split a header and is dropped. */
function headerValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\x00-\x08\x0a-\x1f\x7f]/.test(text) ? undefined : text;
}
