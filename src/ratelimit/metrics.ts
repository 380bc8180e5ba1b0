import type { Registry } from 'prom-client';
import { createRegistry, prom } from '../telemetry/metrics.js';

/**
 * The rate limit service's Prometheus metrics. Per-rule counters carry the reference's stats key
 * ("domain.key_value.subkey") as the `key` label, so dashboards built on envoyproxy/ratelimit's
 * ratelimit.service.rate_limit.<key>.<stat> map one to one.
 */
/** Per-rule counts since the last scrape; see RateLimitMetrics.rule. */
export class RuleCounts {
  totalHits = 0;
  overLimit = 0;
  nearLimit = 0;
  withinLimit = 0;
  shadowMode = 0;
  overLimitWithLocalCache = 0;
}
type RuleField = keyof RuleCounts;

export class RateLimitMetrics {
  readonly registry: Registry;
  private readonly pending = new Map<string, RuleCounts>();
  readonly totalHits;
  readonly overLimit;
  readonly nearLimit;
  readonly withinLimit;
  readonly shadowMode;
  readonly overLimitWithLocalCache;
  readonly configLoadSuccess;
  readonly configLoadError;
  readonly backendErrors;
  readonly failureModeAllowed;
  readonly globalShadowMode;
  readonly latency;
  readonly breakerState;
  readonly breakerTransitions;

  constructor(registry: Registry = createRegistry()) {
    this.registry = registry;
    // Prometheus counters end in _total: the reference's stat names (total_hits, over_limit, ...) plus the suffix.
    // The per-rule counters are counted in plain numbers per decision (RuleCounts) and moved into
    // prom-client when read: its inc() hashes the label set on every call, which was a visible share
    // of a decision's CPU.
    const pending = this.pending;
    const rule = (field: RuleField, name: string, help: string) =>
      new prom.Counter({
        name: `banyan_ratelimit_${name}_total`,
        help,
        labelNames: ['key'] as const,
        registers: [registry],
        collect() {
          for (const [key, counts] of pending) {
            if (counts[field] === 0) continue;
            this.inc({ key }, counts[field]);
            counts[field] = 0;
          }
        },
      });
    this.totalHits = rule('totalHits', 'total_hits', 'Hits counted against a rule');
    this.overLimit = rule('overLimit', 'over_limit', 'Hits over the rule limit');
    this.nearLimit = rule('nearLimit', 'near_limit', 'Hits past the near-limit ratio (80%) but within the limit');
    this.withinLimit = rule('withinLimit', 'within_limit', 'Hits within the rule limit');
    this.shadowMode = rule('shadowMode', 'shadow_mode', 'Over-limit hits let through because the rule is in shadow mode');
    this.overLimitWithLocalCache = rule('overLimitWithLocalCache', 'over_limit_with_local_cache', 'Over-limit hits answered from the local over-limit cache without the backend');
    this.configLoadSuccess = new prom.Counter({ name: 'banyan_ratelimit_config_load_success_total', help: 'Rate limit configs applied', registers: [registry] });
    this.configLoadError = new prom.Counter({ name: 'banyan_ratelimit_config_load_error_total', help: 'Rate limit configs rejected (last good kept)', registers: [registry] });
    this.backendErrors = new prom.Counter({ name: 'banyan_ratelimit_backend_errors_total', help: 'Backend calls that failed (error), timed out (timeout) or were not made because the circuit breaker was open (breaker_open)', labelNames: ['backend', 'reason'] as const, registers: [registry] });
    this.failureModeAllowed = new prom.Counter({ name: 'banyan_ratelimit_failure_mode_allowed_total', help: 'Requests answered OK, uncounted, because the backend was unavailable, slow or behind an open breaker (fail open)', registers: [registry] });
    this.globalShadowMode = new prom.Counter({ name: 'banyan_ratelimit_global_shadow_mode_total', help: 'Over-limit responses turned OK by the global shadow mode', registers: [registry] });
    // With --workers the primary reports the worst breaker of any worker, not a sum.
    this.breakerState = new prom.Gauge({ name: 'banyan_ratelimit_breaker_state', help: 'Circuit breaker in front of the backend: 0 closed, 1 half-open (probing), 2 open', aggregator: 'max', registers: [registry] });
    this.breakerTransitions = new prom.Counter({ name: 'banyan_ratelimit_breaker_transitions_total', help: 'Circuit breaker state changes, by the state entered', labelNames: ['to'] as const, registers: [registry] });
    this.latency = new prom.Histogram({
      name: 'banyan_ratelimit_decision_seconds',
      help: 'ShouldRateLimit latency, from the call\'s arrival',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    });
  }

  /** The counts of one rule (its stats key), added to its counters when they are next read. */
  rule(key: string): RuleCounts {
    let c = this.pending.get(key);
    if (!c) this.pending.set(key, (c = new RuleCounts()));
    return c;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
