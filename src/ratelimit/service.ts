import { status as GrpcStatus } from '@grpc/grpc-js';
import type { RateLimitDomain, RateLimitPolicy } from '../config/model.js';
import { envoyUnitName, UNIT_SECONDS, unitFromEnvoy } from '../config/ratelimit/units.js';
import { validateDomains } from '../config/ratelimit/validate.js';
import { plainToStruct } from '../proto/struct.js';
import { MemoryBackend } from './backend/memory.js';
import type { LimitCheck, LimiterBackend, LimitResult } from './backend/types.js';
import { OverLimitCache } from './local-cache.js';
import { RateLimitMetrics } from './metrics.js';
import { RuleTable, type DescriptorEntry, type Rule } from './rules.js';
import type { RlsDescriptor, RlsDescriptorStatus, RlsRequest, RlsResponse } from './types.js';

export interface RateLimitServiceOptions {
  backend?: LimiterBackend;
  domains?: RateLimitDomain[];
  /** Bound on the backend call; past it the failure mode answers. Default 50 ms. */
  timeoutMs?: number;
  /** When the backend is down or slow: allow (OK, counted) or deny (gRPC UNAVAILABLE). Default allow. */
  failureMode?: 'allow' | 'deny';
  /** Every OVER_LIMIT becomes OK (counted), as the reference's SHADOW_MODE setting. */
  globalShadowMode?: boolean;
  /** Default 0.8, as the reference's NEAR_LIMIT_RATIO. */
  nearLimitRatio?: number;
  /** Prepended to every backend key, as the reference's CACHE_KEY_PREFIX. */
  cacheKeyPrefix?: string;
  /** Local cache of over-limit keys. Default on for Redis, off for memory (which is already local). */
  localCache?: boolean;
  /** RateLimit-Limit / -Remaining / -Reset response headers; true for those names. */
  responseHeaders?: boolean | { limit: string; remaining: string; reset: string };
  metrics?: RateLimitMetrics;
  /** Milliseconds since the epoch; injectable so tests can pin windows. */
  now?: () => number;
}

/** A request the service refuses with a gRPC status (Envoy treats any error per failure_mode_deny). */
export class RateLimitError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'RateLimitError';
  }
}

const UNLIMITED_REMAINING = 0xffffffff;
const DEFAULT_HEADERS = { limit: 'RateLimit-Limit', remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset' };

interface Planned {
  rule: Rule;
  policy: RateLimitPolicy;
  check: LimitCheck;
  /** Answered from the local over-limit cache; not sent to the backend. */
  cached: boolean;
  result?: LimitResult;
}

/**
 * envoyproxy/ratelimit's ShouldRateLimit: same matching, counting, statuses and stats, over a
 * pluggable backend, plus Banyan's opt-in algorithms, multiple limits, bounded failure handling and
 * response headers.
 */
export class RateLimiter {
  readonly metrics: RateLimitMetrics;
  readonly backend: LimiterBackend;
  private table: RuleTable;
  private domainsValue: RateLimitDomain[] = [];
  private readonly timeoutMs: number;
  private readonly failureMode: 'allow' | 'deny';
  private readonly globalShadowMode: boolean;
  private readonly nearLimitRatio: number;
  private readonly prefix: string;
  private readonly localCache?: OverLimitCache;
  private readonly headers?: { limit: string; remaining: string; reset: string };
  private readonly now: () => number;

  constructor(opts: RateLimitServiceOptions = {}) {
    this.backend = opts.backend ?? new MemoryBackend();
    this.metrics = opts.metrics ?? new RateLimitMetrics();
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.failureMode = opts.failureMode ?? 'allow';
    this.globalShadowMode = opts.globalShadowMode ?? false;
    this.nearLimitRatio = opts.nearLimitRatio ?? 0.8;
    this.prefix = opts.cacheKeyPrefix ?? '';
    if (opts.localCache ?? this.backend.name === 'redis') this.localCache = new OverLimitCache();
    if (opts.responseHeaders) this.headers = opts.responseHeaders === true ? DEFAULT_HEADERS : opts.responseHeaders;
    this.now = opts.now ?? Date.now;
    this.table = new RuleTable([]);
    if (opts.domains) this.setConfig(opts.domains);
  }

  get domains(): readonly RateLimitDomain[] {
    return this.domainsValue;
  }

  /**
   * Swaps in a new config atomically. A config that fails validation is counted and thrown, and the
   * last good config stays in force.
   */
  setConfig(domains: RateLimitDomain[]): void {
    const problems = validateDomains(domains);
    if (problems.length > 0) {
      this.metrics.configLoadError.inc();
      throw new Error(`rate limit config rejected, keeping the last good one:\n${problems.join('\n')}`);
    }
    this.table = new RuleTable(domains);
    this.domainsValue = domains;
    this.metrics.configLoadSuccess.inc();
  }

  async shouldRateLimit(request: RlsRequest): Promise<RlsResponse> {
    const started = process.hrtime.bigint();
    try {
      return await this.decide(request);
    } finally {
      this.metrics.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async decide(request: RlsRequest): Promise<RlsResponse> {
    const domain = request.domain ?? '';
    const descriptors = request.descriptors ?? [];
    if (domain === '') throw new RateLimitError(GrpcStatus.UNKNOWN, 'rate limit domain must not be empty');
    if (descriptors.length === 0) throw new RateLimitError(GrpcStatus.UNKNOWN, 'rate limit descriptor list must not be empty');

    const table = this.table;
    const nowMs = this.now();
    const entries = descriptors.map((d) => (d.entries ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' })));
    const rules: (Rule | undefined)[] = descriptors.map((d, i) => (d.limit && table.hasDomain(domain) ? overrideRule(domain, d, entries[i]) : table.lookup(domain, entries[i])));

    // replaces: a matched rule drops every other matched rule it names (reference semantics).
    const replaced = new Set(rules.flatMap((r) => r?.replaces ?? []));
    const unlimited = rules.map((r) => r?.unlimited === true && !(r.name && replaced.has(r.name)));
    const limited = rules.map((r) => (r && !r.unlimited && !(r.name && replaced.has(r.name)) ? r : undefined));
    const hits = descriptors.map((d) => hitsFor(request, d));

    const planned: Planned[][] = limited.map((rule, i) => {
      if (!rule) return [];
      this.metrics.totalHits.inc({ key: rule.fullKey }, hits[i]);
      return rule.policies.map((policy, j) => {
        const check = this.checkFor(domain, entries[i], policy, j, hits[i], nowMs);
        return { rule, policy, check, cached: check.algorithm === 'fixed' && !!this.localCache?.has(check.key, nowMs) };
      });
    });

    const toSend = planned.flat().filter((p) => !p.cached);
    if (toSend.length > 0) {
      try {
        const results = await this.withTimeout(this.backend.check(toSend.map((p) => p.check)));
        toSend.forEach((p, k) => (p.result = results[k]));
      } catch (err) {
        return this.failure(err, limited);
      }
    }

    const statuses: RlsDescriptorStatus[] = [];
    const quotaViolations: number[] = [];
    let overall = 'OK' as RlsDescriptorStatus['code'];
    let closest: RlsDescriptorStatus | undefined;
    for (let i = 0; i < descriptors.length; i++) {
      if (unlimited[i]) {
        statuses.push({ code: 'OK', limit_remaining: UNLIMITED_REMAINING });
        continue;
      }
      const rule = limited[i];
      if (!rule) {
        statuses.push({ code: 'OK' });
        continue;
      }
      const status = this.statusFor(rule, planned[i], hits[i], nowMs);
      if (status.code === 'OVER_LIMIT' && rule.quotaMode) {
        status.code = 'OK';
        quotaViolations.push(i);
      }
      statuses.push(status);
      if (status.code === 'OVER_LIMIT') {
        overall = 'OVER_LIMIT';
        closest = status;
      } else if (overall === 'OK' && (!closest || (status.limit_remaining ?? 0) < (closest.limit_remaining ?? 0))) {
        closest = status;
      }
    }

    if (overall === 'OVER_LIMIT' && this.globalShadowMode) {
      overall = 'OK';
      this.metrics.globalShadowMode.inc();
    }
    const response: RlsResponse = { overall_code: overall, statuses };
    if (this.headers && closest?.current_limit) response.response_headers_to_add = this.headerValues(closest);
    if (limited.some((r) => r?.quotaMode)) {
      // As envoyproxy/ratelimit: quota mode is reported to Envoy in the response's dynamic metadata.
      response.dynamic_metadata = plainToStruct({ quotaModeEnabled: true, quotaModeViolations: quotaViolations });
    }
    return response;
  }

  /** Storage key: the reference's domain_key_value_..._windowStart for a rule's first fixed limit. */
  private checkFor(domain: string, entries: DescriptorEntry[], policy: RateLimitPolicy, index: number, hits: number, nowMs: number): LimitCheck {
    const windowSeconds = policy.windowSeconds ?? UNIT_SECONDS[policy.unit];
    let key = `${this.prefix}${domain}_`;
    for (const e of entries) key += `${e.key}_${e.value}_`;
    if (policy.algorithm === 'fixed') {
      // Extra limits and custom windows get their own counters; the reference-shaped key stays the first's.
      if (index > 0 || policy.windowSeconds !== undefined) key += `w${windowSeconds}_`;
      key += Math.floor(nowMs / 1000 / windowSeconds) * windowSeconds;
    } else {
      key += `${policy.algorithm}${windowSeconds}_${policy.requestsPerUnit}`;
    }
    return { key, algorithm: policy.algorithm, limit: policy.requestsPerUnit, windowSeconds, hits, nowMs };
  }

  /** One descriptor's status and stats, from the limit nearest to (or furthest over) its threshold. */
  private statusFor(rule: Rule, planned: Planned[], hits: number, nowMs: number): RlsDescriptorStatus {
    const key = { key: rule.fullKey };
    let worst: { p: Planned; after: number; over: boolean; remaining: number } | undefined;
    for (const p of planned) {
      const after = p.cached ? p.policy.requestsPerUnit + hits : p.result!.after;
      const over = p.cached || after > p.policy.requestsPerUnit;
      const remaining = over ? 0 : p.policy.requestsPerUnit - after;
      if (!worst || (over && !worst.over) || (over === worst.over && remaining < worst.remaining)) worst = { p, after, over, remaining };
      if (over && !p.cached && p.check.algorithm === 'fixed' && this.localCache) this.localCache.add(p.check.key, nowMs + p.result!.resetMs);
    }
    const { p, after, over, remaining } = worst!;
    const limit = p.policy.requestsPerUnit;
    const near = Math.floor(limit * this.nearLimitRatio);
    const before = after - hits;
    if (p.cached) {
      this.metrics.overLimit.inc(key, hits);
      this.metrics.overLimitWithLocalCache.inc(key, hits);
    } else if (over) {
      if (before >= limit) this.metrics.overLimit.inc(key, hits);
      else {
        this.metrics.overLimit.inc(key, after - limit);
        this.metrics.nearLimit.inc(key, limit - Math.max(near, before));
      }
    } else {
      if (after > near) this.metrics.nearLimit.inc(key, before >= near ? hits : after - near);
      this.metrics.withinLimit.inc(key, hits);
    }
    const resetMs = p.cached ? p.check.windowSeconds * 1000 - (nowMs % (p.check.windowSeconds * 1000)) : p.result!.resetMs;
    const status: RlsDescriptorStatus = {
      code: over ? 'OVER_LIMIT' : 'OK',
      current_limit: { requests_per_unit: limit, unit: envoyUnitName(p.policy.unit), ...(rule.name ? { name: rule.name } : {}) },
      limit_remaining: remaining,
      duration_until_reset: { seconds: Math.ceil(resetMs / 1000) },
    };
    if (over && rule.shadowMode) {
      status.code = 'OK';
      this.metrics.shadowMode.inc(key, hits);
    }
    return status;
  }

  private headerValues(s: RlsDescriptorStatus): { key: string; value: string }[] {
    const h = this.headers!;
    return [
      { key: h.limit, value: String(s.current_limit!.requests_per_unit) },
      { key: h.remaining, value: String(s.limit_remaining ?? 0) },
      { key: h.reset, value: String(s.duration_until_reset?.seconds ?? 0) },
    ];
  }

  /**
   * Backend down or slow. Descriptors whose rule says fail_open (or, unset, the global mode says
   * allow) are let through; if any limited descriptor must fail closed the call fails UNAVAILABLE.
   */
  private failure(err: unknown, limited: (Rule | undefined)[]): RlsResponse {
    const reason = err instanceof TimeoutError ? 'timeout' : 'error';
    this.metrics.backendErrors.inc({ backend: this.backend.name, reason });
    const closed = limited.some((r) => r && !(r.failOpen ?? this.failureMode === 'allow'));
    if (closed) throw new RateLimitError(GrpcStatus.UNAVAILABLE, `rate limit backend ${this.backend.name} unavailable: ${(err as Error).message}`);
    this.metrics.failureModeAllowed.inc();
    return { overall_code: 'OK', statuses: limited.map(() => ({ code: 'OK' })) };
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${this.timeoutMs}ms`)), this.timeoutMs);
    });
    // The losing backend call may still reject later; that must not become an unhandled rejection.
    work.catch(() => {});
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

class TimeoutError extends Error {}

/** Per-descriptor hits_addend when present (0 = check only), else the request's, at least 1 (reference). */
function hitsFor(request: RlsRequest, d: RlsDescriptor): number {
  if (d.hits_addend) return Number(d.hits_addend.value ?? 0);
  return Math.max(1, Number(request.hits_addend ?? 0));
}

/** A limit sent by Envoy in the descriptor itself replaces the configured one (never in shadow mode). */
function overrideRule(domain: string, d: RlsDescriptor, entries: DescriptorEntry[]): Rule | undefined {
  const unit = unitFromEnvoy(d.limit?.unit);
  if (!unit) return undefined;
  const policy: RateLimitPolicy = { unit, requestsPerUnit: Number(d.limit?.requests_per_unit ?? 0), unlimited: false, replaces: [], algorithm: 'fixed' };
  return {
    fullKey: `${domain}.${entries.map((e) => (e.value ? `${e.key}_${e.value}` : e.key)).join('.')}`,
    policies: [policy],
    unlimited: false,
    replaces: [],
    shadowMode: false,
    detailedMetric: false,
    quotaMode: false,
  };
}
