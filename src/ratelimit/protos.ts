/**
 * The parts of Envoy's API the standalone rate limit service needs (restrictEnvoyProtos): the service
 * itself, and ADS when it takes its config from Banyan over xDS. Banyan's own RateLimitConfig proto
 * is always loaded.
 */
export function rateLimitProtos(xds: boolean): string[] {
  return ['envoy/service/ratelimit/v3/rls.proto', ...(xds ? ['envoy/service/discovery/v3/ads.proto', 'envoy/service/discovery/v3/discovery.proto'] : [])];
}
