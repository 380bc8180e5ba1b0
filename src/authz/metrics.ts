import type { Registry } from 'prom-client';
import { prom } from '../telemetry/metrics.js';

export interface AuthzMetrics {
  checks: prom.Counter<'result' | 'reason'>;
  latency: prom.Histogram<'result'>;
  jwksFetches: prom.Counter<'provider'>;
  jwksFailures: prom.Counter<'provider'>;
  cacheHits: prom.Counter;
  cacheMisses: prom.Counter;
  /** Checks denied because the token's jti, sub or sid is revoked, by the kind of revocation that matched. */
  revoked: prom.Counter<'kind'>;
}

/**
 * The authz service's metrics on `registry`. No hit-ratio gauge: a ratio since start hides every
 * recent change and can't be aggregated across replicas; PromQL derives it from the two counters.
 */
export function createAuthzMetrics(registry: Registry): AuthzMetrics {
  const registers = [registry];
  const cacheHits = new prom.Counter({ name: 'banyan_authz_token_cache_hits_total', help: 'Checks answered from the verified-token cache', registers });
  const cacheMisses = new prom.Counter({ name: 'banyan_authz_token_cache_misses_total', help: 'Checks that needed a signature verification', registers });
  return {
    checks: new prom.Counter({ name: 'banyan_authz_checks_total', help: 'Authorization checks by result and reason', labelNames: ['result', 'reason'], registers }),
    latency: new prom.Histogram({
      name: 'banyan_authz_check_duration_seconds',
      help: 'Time to answer a Check',
      labelNames: ['result'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
      registers,
    }),
    jwksFetches: new prom.Counter({ name: 'banyan_authz_jwks_fetches_total', help: 'JWKS loads attempted, by provider', labelNames: ['provider'], registers }),
    jwksFailures: new prom.Counter({ name: 'banyan_authz_jwks_fetch_failures_total', help: 'JWKS loads that failed, by provider', labelNames: ['provider'], registers }),
    cacheHits,
    cacheMisses,
    revoked: new prom.Counter({ name: 'banyan_authz_revoked_denials_total', help: 'Checks denied because the token is revoked, by revocation kind (jti, sub, sid)', labelNames: ['kind'], registers }),
  };
}
