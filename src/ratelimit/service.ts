import { GrpcCode } from '../grpc/wire.js';
import type { RateLimitDomain, RateLimitPolicy } from '../config/model.js';
import { envoyUnitName, UNIT_SECONDS, unitFromEnvoy } from '../config/ratelimit/units.js';
import { validateDomains } from '../config/ratelimit/validate.js';
import { plainToStruct, type PlainValue } from '../proto/struct.js';
import { MemoryBackend } from './backend/memory.js';
import { BREAKER_DEFAULTS, BreakerOpenError, CircuitBreaker, type BreakerOptions, type BreakerState, type Ticket } from './backend/breaker.js';
import type { LimitCheck, LimiterBackend, LimitResult } from './backend/types.js';
import { currentLimitOf, policyHeaderValue } from './current-limit.js';
import { OverLimitCache } from './local-cache.js';
import { RateLimitMetrics } from './metrics.js';
import { RuleTable, type DescriptorEntry, type Rule } from './rules.js';
import type { RlsDescriptor, RlsDescriptorStatus, RlsRequest, RlsResponse } from './types.js';
import { logger, type Logger } from '../telemetry/logger.js';

export interface RateLimitServiceOptions {
  backend?: LimiterBackend;
  domains?: RateLimitDomain[];
  /**
   * Bound on a call, counted from its arrival (not from when the backend call goes out), shortened to
   * the caller's own deadline (grpc-timeout; Envoy's filter sends 20 ms by default) when that is
   * sooner; past it the failure mode answers. Default 50 ms.
   */
  timeoutMs?: number;
  /**
   * Circuit breaker in front of the backend: after `failures` consecutive timeouts or errors, calls
   * are answered by the failure mode at once, one probe goes through after a backoff (doubling up to
   * `maxBackoffMs`), and a probe that succeeds closes it. `failures: 0` turns it off.
   */
  breaker?: BreakerOptions;
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
  /**
   * The reference's STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: when a descriptor of a request is (or
   * would go) over its limit, the request's other counters are not incremented, so a blocked request
   * does not spend the budgets it was not refused by. Costs a read before the increment. Default off.
   */
  stopIncrementWhenOverLimit?: boolean;
  /**
   * The reference's RESPONSE_DYNAMIC_METADATA: every response carries dynamic metadata (domain,
   * descriptors, hits, and the `metadata` of descriptors under their limit). Without it, only
   * responses that involve a quota-mode rule carry it. Default off.
   */
  responseDynamicMetadata?: boolean;
  /** Every descriptor is in quota mode (the reference's global quota mode setting). Default off. */
  globalQuotaMode?: boolean;
  /** RateLimit-Limit / -Remaining / -Reset response headers; true for those names. */
  responseHeaders?: boolean | { limit: string; remaining: string; reset: string; policy?: string };
  metrics?: RateLimitMetrics;
  /** Milliseconds since the epoch; injectable so tests can pin windows. */
  now?: () => number;
  /** Fail-open decisions and breaker changes are logged here (rate-limited). */
  log?: Logger;
}

/**
 * When a call's budget started and when its caller stops waiting, both on the monotonic clock
 * (performance.now()). The server fills it in from the call's arrival and its grpc-timeout.
 */
export interface CallBudget {
  arrivedAt: number;
  /** The caller's deadline (absent: the caller set none). */
  callerDeadlineAt?: number;
}

/** Why a decision did not come from the backend's counters. */
export type BackendFailure = 'timeout' | 'breaker_open' | 'error';

/**
 * What a decision met besides its answer, written for a caller that asks (the tracing span): the
 * answer alone cannot say that an OK was a fail-open. Callers that do not pass one pay nothing.
 */
export interface DecisionNotes {
  /** The backend failed, timed out or was skipped by an open breaker. */
  failure?: BackendFailure;
  /** ...and the failure mode let the call through (OK, uncounted) instead of failing it. */
  failedOpen?: boolean;
}

/** Kept back from the caller's deadline so that our answer reaches it before it gives up. */
export const CALLER_DEADLINE_MARGIN_MS = 2;
/** The least silence from a backend that makes a timeout its fault (see within()). */
const BACKEND_FLOOR_MS = 10;
/** However lively the backend, a call waits at most this long past its deadline (see within()). */
const MAX_LATE_MS = 1000;
/** At most one fail-open log line per this long (with the count since the last one). */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/** A request the service refuses with a gRPC status (Envoy treats any error per failure_mode_deny). */
export class RateLimitError extends Error {
  constructor(
    readonly code: (typeof GrpcCode)[keyof typeof GrpcCode],
    message: string,
  ) {
    super(message);
    this.name = 'RateLimitError';
  }
}

const UNLIMITED_REMAINING = 0xffffffff;
const DEFAULT_HEADERS = { limit: 'RateLimit-Limit', remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset', policy: 'RateLimit-Policy' };

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
  private readonly stopIncrement: boolean;
  private readonly dynamicMetadata: boolean;
  private readonly globalQuotaMode: boolean;
  /** False until a config has been applied: the reference then answers "no rate limit configuration loaded". */
  private loaded = false;
  private readonly headers?: { limit: string; remaining: string; reset: string; policy?: string };
  /** The policy behind each status with a current_limit, for the headers' true window. */
  private readonly policyOf = new WeakMap<RlsDescriptorStatus, RateLimitPolicy>();
  /** current_limit per policy (frozen: shared by every response; weak, since overrides from Envoy make a policy per call). */
  private readonly currentLimits = new WeakMap<RateLimitPolicy, NonNullable<RlsDescriptorStatus['current_limit']>>();
  private readonly now: () => number;
  private readonly breaker: CircuitBreaker;
  private readonly log: Logger;
  private failOpenLog = { at: -Infinity, since: 0 };
  private breakerWasClosed = true;

  constructor(opts: RateLimitServiceOptions = {}) {
    this.backend = opts.backend ?? new MemoryBackend();
    this.metrics = opts.metrics ?? new RateLimitMetrics();
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.failureMode = opts.failureMode ?? 'allow';
    this.globalShadowMode = opts.globalShadowMode ?? false;
    this.nearLimitRatio = opts.nearLimitRatio ?? 0.8;
    this.prefix = opts.cacheKeyPrefix ?? '';
    if (opts.localCache ?? this.backend.name === 'redis') this.localCache = new OverLimitCache();
    this.stopIncrement = opts.stopIncrementWhenOverLimit ?? false;
    this.dynamicMetadata = opts.responseDynamicMetadata ?? false;
    this.globalQuotaMode = opts.globalQuotaMode ?? false;
    if (opts.responseHeaders) this.headers = opts.responseHeaders === true ? DEFAULT_HEADERS : opts.responseHeaders;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger().child({ component: 'ratelimit' });
    this.breaker = new CircuitBreaker({ ...BREAKER_DEFAULTS, ...opts.breaker, onChange: (state) => this.breakerChanged(state, opts.breaker?.onChange) });
    this.metrics.breakerState.set(0);
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
    // Its entries are keyed with their limit already; a new config drops them all the same, so no
    // decision taken under the old config is replayed under the new one.
    this.localCache?.clear();
    this.loaded = true;
    this.metrics.configLoadSuccess.inc();
  }

  /** Whether a config has been applied (until then every call fails, as the reference's). */
  get configLoaded(): boolean {
    return this.loaded;
  }

  /** The breaker's state (closed, open, half_open). */
  get breakerState(): BreakerState {
    return this.breaker.state;
  }

  /**
   * One decision. `budget` says when the call arrived and when its caller stops waiting (the gRPC
   * server passes both); without it the budget starts now, with no caller deadline. `notes`, when
   * given, is told how a backend failure was handled.
   */
  async shouldRateLimit(request: RlsRequest, budget?: CallBudget, notes?: DecisionNotes): Promise<RlsResponse> {
    const arrivedAt = budget?.arrivedAt ?? performance.now();
    let deadlineAt = arrivedAt + this.timeoutMs;
    if (budget?.callerDeadlineAt !== undefined) deadlineAt = Math.min(deadlineAt, budget.callerDeadlineAt - CALLER_DEADLINE_MARGIN_MS);
    try {
      return await this.decide(request, deadlineAt, Math.max(deadlineAt - arrivedAt, BACKEND_FLOOR_MS), notes);
    } finally {
      this.metrics.latency.observe((performance.now() - arrivedAt) / 1000);
    }
  }

  private async decide(request: RlsRequest, deadlineAt: number, silenceMs: number, notes: DecisionNotes | undefined): Promise<RlsResponse> {
    const domain = request.domain ?? '';
    const descriptors = request.descriptors ?? [];
    if (domain === '') throw new RateLimitError(GrpcCode.UNKNOWN, 'rate limit domain must not be empty');
    if (descriptors.length === 0) throw new RateLimitError(GrpcCode.UNKNOWN, 'rate limit descriptor list must not be empty');
    // As the reference: a service that never loaded a valid config refuses (an error, so Envoy's
    // failure_mode_deny applies) rather than letting everything through.
    if (!this.loaded) throw new RateLimitError(GrpcCode.UNKNOWN, 'no rate limit configuration loaded');

    const table = this.table;
    const nowMs = this.now();
    const entries = descriptors.map((d) => (d.entries ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' })));
    // A limit sent by Envoy replaces the configured one; one whose unit is UNKNOWN (or unrecognised)
    // says nothing usable, so the configured limit applies (the reference would fail on it).
    const rules: (Rule | undefined)[] = descriptors.map((d, i) => (d.limit && table.hasDomain(domain) ? (overrideRule(domain, d, entries[i]) ?? table.lookup(domain, entries[i])) : table.lookup(domain, entries[i])));

    // replaces: a matched rule drops every other matched rule it names (reference semantics).
    const replaced = new Set(rules.flatMap((r) => r?.replaces ?? []));
    const unlimited = rules.map((r) => r?.unlimited === true && !(r.name && replaced.has(r.name)));
    const limited = rules.map((r) => (r && !r.unlimited && !(r.name && replaced.has(r.name)) ? r : undefined));
    const hits = descriptors.map((d) => hitsFor(request, d));

    const planned: Planned[][] = limited.map((rule, i) => {
      if (!rule) return [];
      this.metrics.rule(rule.fullKey).totalHits += hits[i];
      return rule.policies.map((policy, j) => {
        const check = this.checkFor(domain, entries[i], rule, policy, j, hits[i], nowMs);
        return { rule, policy, check, cached: check.algorithm === 'fixed' && !!this.localCache?.has(cacheKeyOf(check), nowMs) };
      });
    });

    const all = planned.flat();
    const toSend = all.filter((p) => !p.cached);
    if (toSend.length > 0) {
      let ticket: Ticket;
      try {
        ticket = this.breaker.acquire();
      } catch (err) {
        return this.failure(err, limited, notes);
      }
      try {
        const someCachedOver = all.length > toSend.length;
        const results = this.backend.inProcess
          ? await this.count(toSend, someCachedOver, IN_PROCESS)
          : await this.within((trip) => this.count(toSend, someCachedOver, trip), deadlineAt, silenceMs);
        this.breaker.success(ticket);
        toSend.forEach((p, k) => (p.result = results[k]));
      } catch (err) {
        this.breaker.failure(ticket);
        return this.failure(err, limited, notes);
      }
    }

    const statuses: RlsDescriptorStatus[] = [];
    const passed: number[] = [];
    const quotaViolations: number[] = [];
    let quotaDescriptors = 0;
    let failedLimits = 0;
    // The descriptor reported in the headers: the one with the least remaining, unless a descriptor
    // outside quota mode is over its limit (the last such), as the reference picks it.
    let closest: RlsDescriptorStatus | undefined;
    let minRemaining = UNLIMITED_REMAINING;
    for (let i = 0; i < descriptors.length; i++) {
      if (unlimited[i]) {
        statuses.push({ code: 'OK', limit_remaining: UNLIMITED_REMAINING });
        continue;
      }
      const rule = limited[i];
      const status: RlsDescriptorStatus = rule ? this.statusFor(rule, planned[i], hits[i], nowMs) : { code: 'OK' };
      statuses.push(status);
      if (status.current_limit && (status.limit_remaining ?? 0) < minRemaining) {
        closest = status;
        minRemaining = status.limit_remaining ?? 0;
      }
      // Quota mode (the reference since its 2026-03 change): a quota descriptor over its limit is
      // OVER_LIMIT in its own status, but fails the request only when every quota descriptor is over.
      const over = status.code === 'OVER_LIMIT';
      if (!over) passed.push(i);
      if (this.globalQuotaMode || rule?.quotaMode) {
        quotaDescriptors++;
        if (over) quotaViolations.push(i);
      } else if (over) {
        failedLimits++;
        closest = status;
        minRemaining = 0;
      }
    }
    const quotaExhausted = quotaDescriptors > 0 && quotaViolations.length === quotaDescriptors;
    let overall: RlsDescriptorStatus['code'] = failedLimits > 0 || quotaExhausted ? 'OVER_LIMIT' : 'OK';

    if (overall === 'OVER_LIMIT' && this.globalShadowMode) {
      overall = 'OK';
      this.metrics.globalShadowMode.inc();
    }
    const response: RlsResponse = { overall_code: overall, statuses };
    if (this.headers && closest?.current_limit) response.response_headers_to_add = this.headerValues(closest);
    if (this.dynamicMetadata || quotaDescriptors > 0) {
      response.dynamic_metadata = plainToStruct(responseMetadata(request, limited, passed, quotaDescriptors > 0 ? quotaViolations : undefined));
    }
    return response;
  }

  /**
   * The backend calls of one request. With stop-increment (the reference's
   * STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, redis/fixed_cache_impl.go): when a key of the request is
   * already over in the local cache, the others are only read; otherwise every counter is read first
   * and, when some would go over, only those are incremented.
   */
  private async count(toSend: Planned[], someCachedOver: boolean, trip: SendsToBackend): Promise<LimitResult[]> {
    const checks = toSend.map((p) => p.check);
    const send = (cs: LimitCheck[]) => trip.sent(this.backend.check(cs));
    if (!this.stopIncrement) return send(checks);
    if (someCachedOver) return send(checks.map((c) => ({ ...c, hits: 0 })));
    const current = await send(checks.map((c) => ({ ...c, hits: 0 })));
    const wouldGoOver = checks.map((c, k) => current[k].after + c.hits > c.limit);
    if (!wouldGoOver.some(Boolean)) return send(checks);
    return send(checks.map((c, k) => (wouldGoOver[k] ? c : { ...c, hits: 0 })));
  }

  /**
   * Storage key: the reference's domain_key_value_..._windowStart for a rule's first fixed limit,
   * with a share_threshold entry's value replaced by its wildcard (domain_files_files/*_windowStart).
   */
  private checkFor(domain: string, entries: DescriptorEntry[], rule: Rule, policy: RateLimitPolicy, index: number, hits: number, nowMs: number): LimitCheck {
    const windowSeconds = policy.windowSeconds ?? UNIT_SECONDS[policy.unit];
    let key = `${this.prefix}${domain}_`;
    for (let i = 0; i < entries.length; i++) key += `${entries[i].key}_${rule.sharedValues?.[i] ?? entries[i].value}_`;
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
    const counts = this.metrics.rule(rule.fullKey);
    let worst: { p: Planned; after: number; over: boolean; remaining: number } | undefined;
    for (const p of planned) {
      const after = p.cached ? p.policy.requestsPerUnit + hits : p.result!.after;
      const over = p.cached || after > p.policy.requestsPerUnit;
      const remaining = over ? 0 : p.policy.requestsPerUnit - after;
      if (!worst || (over && !worst.over) || (over === worst.over && remaining < worst.remaining)) worst = { p, after, over, remaining };
      if (over && !p.cached && p.check.algorithm === 'fixed' && this.localCache) this.localCache.add(cacheKeyOf(p.check), nowMs + p.result!.resetMs);
    }
    const { p, after, over, remaining } = worst!;
    const limit = p.policy.requestsPerUnit;
    const near = Math.floor(limit * this.nearLimitRatio);
    const before = after - hits;
    if (p.cached) {
      counts.overLimit += hits;
      counts.overLimitWithLocalCache += hits;
    } else if (over) {
      if (before >= limit) counts.overLimit += hits;
      else {
        counts.overLimit += after - limit;
        counts.nearLimit += limit - Math.max(near, before);
      }
    } else {
      if (after > near) counts.nearLimit += before >= near ? hits : after - near;
      counts.withinLimit += hits;
    }
    const resetMs = p.cached ? p.check.windowSeconds * 1000 - (nowMs % (p.check.windowSeconds * 1000)) : p.result!.resetMs;
    const status: RlsDescriptorStatus = {
      code: over ? 'OVER_LIMIT' : 'OK',
      current_limit: rule.name ? { ...this.currentLimit(p.policy), name: rule.name } : this.currentLimit(p.policy),
      limit_remaining: remaining,
      duration_until_reset: { seconds: Math.ceil(resetMs / 1000) },
    };
    if (this.headers) this.policyOf.set(status, p.policy);
    if (over && rule.shadowMode) {
      status.code = 'OK';
      counts.shadowMode += hits;
    }
    return status;
  }

  private currentLimit(policy: RateLimitPolicy): NonNullable<RlsDescriptorStatus['current_limit']> {
    let c = this.currentLimits.get(policy);
    if (!c) this.currentLimits.set(policy, (c = Object.freeze(currentLimitOf(policy)) as NonNullable<RlsDescriptorStatus['current_limit']>));
    return c;
  }

  private headerValues(s: RlsDescriptorStatus): { key: string; value: string }[] {
    const h = this.headers!;
    const policy = this.policyOf.get(s);
    const out = [
      { key: h.limit, value: String(policy?.requestsPerUnit ?? s.current_limit!.requests_per_unit) },
      { key: h.remaining, value: String(s.limit_remaining ?? 0) },
      { key: h.reset, value: String(s.duration_until_reset?.seconds ?? 0) },
    ];
    if (policy) out.push({ key: h.policy ?? DEFAULT_HEADERS.policy, value: policyHeaderValue(policy) });
    return out;
  }

  /**
   * Backend down or slow. Descriptors whose rule says fail_open (or, unset, the global mode says
   * allow) are let through; if any limited descriptor must fail closed the call fails UNAVAILABLE.
   */
  private failure(err: unknown, limited: (Rule | undefined)[], notes: DecisionNotes | undefined): RlsResponse {
    const reason: BackendFailure = err instanceof TimeoutError ? 'timeout' : err instanceof BreakerOpenError ? 'breaker_open' : 'error';
    this.metrics.backendErrors.inc({ backend: this.backend.name, reason });
    const closed = limited.some((r) => r && !(r.failOpen ?? this.failureMode === 'allow'));
    if (notes) {
      notes.failure = reason;
      notes.failedOpen = !closed;
    }
    if (closed) throw new RateLimitError(GrpcCode.UNAVAILABLE, `rate limit backend ${this.backend.name} unavailable: ${(err as Error).message}`);
    this.metrics.failureModeAllowed.inc();
    this.failedOpen(reason, err);
    return { overall_code: 'OK', statuses: limited.map(() => ({ code: 'OK' })) };
  }

  /** Every fail-open is counted (failure_mode_allowed_total); the log says so at most every 10 s. */
  private failedOpen(reason: string, err: unknown): void {
    const now = performance.now();
    this.failOpenLog.since++;
    if (now - this.failOpenLog.at < FAIL_OPEN_LOG_INTERVAL_MS) return;
    this.log.warn({ reason, err: (err as Error).message, failOpenSinceLastLog: this.failOpenLog.since, backend: this.backend.name }, 'rate limit backend unavailable: requests let through uncounted (failure mode allow)');
    this.failOpenLog = { at: now, since: 0 };
  }

  private breakerChanged(state: BreakerState, also?: (state: BreakerState) => void): void {
    this.metrics.breakerState.set(state === 'closed' ? 0 : state === 'half_open' ? 1 : 2);
    this.metrics.breakerTransitions.inc({ to: state });
    if (state === 'closed') this.log.info({ backend: this.backend.name }, 'rate limit backend answering again: circuit breaker closed');
    else if (state === 'open' && this.breakerWasClosed) this.log.warn({ backend: this.backend.name }, 'rate limit backend failing: circuit breaker open, the failure mode answers until a probe succeeds');
    this.breakerWasClosed = state === 'closed';
    also?.(state);
  }

  /**
   * The backend's answer, or TimeoutError when the backend did not answer within the budget. The
   * budget is the call's (from its arrival to `deadlineAt`), but a verdict of timeout blames the
   * backend, so it is only given when the backend is at fault, never because this process was late:
   * - the timer only says when to look, and a verdict is taken after the event loop has read its
   *   sockets (setImmediate runs after the poll phase), twice: a reply that reached the socket
   *   before the first look is read by the second, so a reply that arrived in time is used even
   *   when the loop was busy (a timer runs before that turn's I/O; a long poll phase misses what
   *   arrives during it);
   * - the backend is given what was left of the budget when the commands were issued (at least
   *   BACKEND_FLOOR_MS), counted from when they were written: this process may write them late (the
   *   Redis client writes a tick's commands together), and that time is not the backend's;
   * - a backend that is still answering (a reply to any command within the last `silenceMs`: the
   *   call's budget, at least BACKEND_FLOOR_MS) is not stalled: the call waits on, up to
   *   MAX_LATE_MS past its deadline. Only a backend silent that long times out.
   * Without lag a stalled backend times out at `deadlineAt`.
   */
  private within<T>(work: (trip: Trip) => Promise<T>, deadlineAt: number, silenceMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const trip = new Trip();
      // How long before a timeout may be declared (0: now, pending a second look).
      const patience = (now: number): number => {
        if (now >= deadlineAt + MAX_LATE_MS) return 0;
        // What was left of the budget when the commands were issued, counted from their write.
        const writeFloor = trip.writtenAt === undefined ? 1 : trip.writtenAt + Math.max(BACKEND_FLOOR_MS, deadlineAt - trip.issuedAt!) - now;
        const quiet = now - (this.backend.lastAnswerAt?.() ?? -Infinity);
        return Math.max(deadlineAt - now, writeFloor, silenceMs - quiet, 0);
      };
      const verdict = (confirming: boolean) => {
        if (done) return;
        const wait = patience(performance.now());
        if (wait > 0) return look(wait);
        // Once more after the next poll phase, which reads whatever reached the socket by now.
        if (!confirming) return void setImmediate(() => verdict(true));
        done = true;
        reject(new TimeoutError(`no answer within ${this.timeoutMs}ms of the call's arrival (or its caller's deadline)`));
      };
      const look = (ms: number) => {
        timer = setTimeout(() => setImmediate(() => verdict(false)), Math.max(0, ms));
      };
      look(deadlineAt - performance.now());
      work(trip).then(
        (v) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          // After the verdict, a late failure of the abandoned call must not become an unhandled rejection.
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

class TimeoutError extends Error {}

/**
 * When a call's latest backend commands went out, about: the Redis client writes a tick's commands
 * together in a setImmediate queued when the first was issued, so an immediate queued after issuing
 * runs right after that write (later, if the client holds them behind a batch still in flight).
 */
interface SendsToBackend {
  sent<T>(work: Promise<T>): Promise<T>;
}

/** An in-process backend's calls: nothing is written anywhere, so there is nothing to time. */
const IN_PROCESS: SendsToBackend = { sent: (work) => work };

class Trip implements SendsToBackend {
  issuedAt?: number;
  writtenAt?: number;
  private trips = 0;

  sent<T>(work: Promise<T>): Promise<T> {
    const trip = ++this.trips;
    this.issuedAt = performance.now();
    this.writtenAt = undefined;
    setImmediate(() => {
      if (this.trips === trip) this.writtenAt = performance.now();
    });
    return work;
  }
}

/**
 * A local over-limit cache entry names the limit it was over, not only the counter: a raised limit
 * (1 → 50) misses it and asks the backend, which answers with the new limit as the reference does.
 */
function cacheKeyOf(check: LimitCheck): string {
  return `${check.key}|${check.limit}`;
}

type Plain = { [key: string]: PlainValue };

/**
 * The response's dynamic metadata, as the reference's ratelimitToMetadata (service/ratelimit.go):
 * the domain, each descriptor's entries ("key=value"), its limit override and hits_addend, the
 * request's hits_addend when set, and the `metadata` of the descriptors under their limit, merged in
 * request order (a key already set stays; maps merge recursively). Quota mode adds
 * quotaModeEnabled and quotaModeViolations (indices of the quota descriptors over their limit).
 */
function responseMetadata(request: RlsRequest, limited: (Rule | undefined)[], passed: number[], quotaViolations: number[] | undefined): Plain {
  const out: Plain = {
    domain: request.domain ?? '',
    descriptors: (request.descriptors ?? []).map((d) => {
      const s: Plain = { entries: (d.entries ?? []).map((e) => `${e.key ?? ''}=${e.value ?? ''}`) };
      if (d.limit) s.limit = `requests_per_unit:${Number(d.limit.requests_per_unit ?? 0)} unit:${limitUnitName(d.limit.unit)}`;
      if (d.hits_addend) s.hitsAddend = Number(d.hits_addend.value ?? 0);
      return s;
    }),
  };
  if (request.hits_addend) out.hitsAddend = Number(request.hits_addend);
  const merged: Plain = {};
  for (const i of passed) if (limited[i]?.metadata) mergeInto(merged, limited[i]!.metadata!);
  if (Object.keys(merged).length > 0) out.metadata = merged;
  if (quotaViolations) {
    out.quotaModeEnabled = true;
    out.quotaModeViolations = quotaViolations;
  }
  return out;
}

function mergeInto(dest: Plain, src: Plain): void {
  for (const [k, v] of Object.entries(src)) {
    const have = dest[k];
    if (have === undefined) dest[k] = structuredClone(v);
    else if (isPlainMap(have) && isPlainMap(v)) mergeInto(have, v);
  }
}

function isPlainMap(v: PlainValue | undefined): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function limitUnitName(unit: string | number | undefined): string {
  const u = unitFromEnvoy(unit);
  return u ? envoyUnitName(u) : 'UNKNOWN';
}

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
