/**
 * Banyan's default ports, in one place. They follow the conventions operators already know: xDS on
 * 18000 and its admin API next door, rate limit on 8081 (as envoyproxy/ratelimit), authz on 9191 (as
 * OPA's Envoy plugin), and Envoy's own admin on 9901. No imports: the CLI reads these for `--help`
 * without loading any server.
 */
export const DEFAULT_PORTS = {
  xds: 18000,
  admin: 18001,
  ratelimit: 8081,
  authz: 9191,
  /** `banyan authz`'s Prometheus endpoint: the port after its gRPC one. */
  authzMetrics: 9192,
  /** Envoy's admin interface in the bootstraps Banyan prints. */
  envoyAdmin: 9901,
} as const;
