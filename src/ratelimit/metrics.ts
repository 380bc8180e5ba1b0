import type { Registry } from 'prom-client';
import { createRegistry, prom } from '../telemetry/metrics.js';

/**
 * The rate limit service's Prometheus metrics. Per-rule counters carry the reference's stats key
 * ("domain.key_value.subkey") as the `key` label, so dashboards built on envoyproxy/ratelimit's
 * ratelimit.service.rate_limit.<key>.<stat> map one to one.
 */
export class RateLimitMetrics {
  readonly registry: Registry;
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

  constructor(registry: Registry = createRegistry()) {
    this.registry = registry;
    const rule = (name: string, help: string) => new prom.Counter({ name: `banyan_ratelimit_${name}`, help, labelNames: ['key'] as const, registers: [registry] });
    this.totalHits = rule('total_hits', 'Hits counted against a rule');
    this.overLimit = rule('over_limit', 'Hits over the rule limit');
    this.nearLimit = rule('near_limit', 'Hits past the near-limit ratio (80%) but within the limit');
    this.withinLimit = rule('within_limit', 'Hits within the rule limit');
    this.shadowMode = rule('shadow_mode', 'Over-limit hits let through because the rule is in shadow mode');
    this.overLimitWithLocalCache = rule('over_limit_with_local_cache', 'Over-limit hits answered from the local over-limit cache without the backend');
    this.configLoadSuccess = new prom.Counter({ name: 'banyan_ratelimit_config_load_success_total', help: 'Rate limit configs applied', registers: [registry] });
    this.configLoadError = new prom.Counter({ name: 'banyan_ratelimit_config_load_error_total', help: 'Rate limit configs rejected (last good kept)', registers: [registry] });
    this.backendErrors = new prom.Counter({ name: 'banyan_ratelimit_backend_errors_total', help: 'Backend calls that failed or timed out', labelNames: ['backend', 'reason'] as const, registers: [registry] });
    this.failureModeAllowed = new prom.Counter({ name: 'banyan_ratelimit_failure_mode_allowed_total', help: 'Requests answered OK because the backend was unavailable (fail open)', registers: [registry] });
    this.globalShadowMode = new prom.Counter({ name: 'banyan_ratelimit_global_shadow_mode_total', help: 'Over-limit responses turned OK by the global shadow mode', registers: [registry] });
    this.latency = new prom.Histogram({
      name: 'banyan_ratelimit_decision_seconds',
      help: 'ShouldRateLimit latency',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
