import type { Cluster } from '../config/model.js';
import { buildLoadAssignment } from './endpoint.js';
import type * as envoy from './envoy-types.js';
import { upstreamTls } from './tls.js';
import { ADS_CONFIG_SOURCE, compact, duration, http2ProtocolOptions, wrap } from './util.js';

const LB_POLICY: Record<Cluster['lbPolicy'], NonNullable<envoy.Cluster['lb_policy']>> = {
  round_robin: 'ROUND_ROBIN',
  least_request: 'LEAST_REQUEST',
  random: 'RANDOM',
  ring_hash: 'RING_HASH',
  maglev: 'MAGLEV',
};

export interface ClusterOptions {
  /**
   * Clusters whose clients report their load to Banyan: `lrs_server: {self: {}}`, i.e. over LRS to the
   * server they take xDS from (gRPC clients, gRFC A27; Envoy when its bootstrap has
   * cluster_manager.load_stats_config). Who is in the set is the caller's decision (clusters under analysis).
   */
  loadReporting?: ReadonlySet<string>;
}

export function buildCluster(c: Cluster, opts: ClusterOptions = {}): envoy.Cluster {
  const out: envoy.Cluster = {
    name: c.name,
    type: c.discovery === 'eds' ? 'EDS' : 'STRICT_DNS',
    connect_timeout: duration(c.connectTimeoutMs),
    lb_policy: LB_POLICY[c.lbPolicy],
  };
  if (opts.loadReporting?.has(c.name)) out.lrs_server = { self: {} };
  if (c.discovery === 'eds') {
    out.eds_cluster_config = { eds_config: ADS_CONFIG_SOURCE };
  } else {
    // Hostnames like `localhost` resolve to ::1 first on many systems while services listen on IPv4.
    out.dns_lookup_family = 'V4_PREFERRED';
    out.load_assignment = buildLoadAssignment(c);
  }
  if (c.protocol === 'http2') out.typed_extension_protocol_options = http2ProtocolOptions();
  if (c.circuitBreaker) {
    const cb = c.circuitBreaker;
    out.circuit_breakers = {
      thresholds: [
        compact({
          priority: 'DEFAULT',
          max_connections: optWrap(cb.maxConnections),
          max_pending_requests: optWrap(cb.maxPendingRequests),
          max_requests: optWrap(cb.maxRequests),
          max_retries: optWrap(cb.maxRetries),
        }),
      ],
    };
  }
  if (c.outlierDetection) {
    const od = c.outlierDetection;
    out.outlier_detection = compact({
      consecutive_5xx: optWrap(od.consecutive5xx),
      interval: optDuration(od.intervalMs),
      base_ejection_time: optDuration(od.baseEjectionTimeMs),
      max_ejection_percent: optWrap(od.maxEjectionPercent),
    });
  }
  if (c.healthCheck) {
    const hc = c.healthCheck;
    out.health_checks = [
      {
        timeout: duration(hc.timeoutMs),
        interval: duration(hc.intervalMs),
        healthy_threshold: wrap(hc.healthyThreshold),
        unhealthy_threshold: wrap(hc.unhealthyThreshold),
        http_health_check: compact({
          path: hc.httpPath,
          expected_statuses: hc.expectedStatuses.length ? statusRanges(hc.expectedStatuses) : undefined,
        }),
      },
    ];
  }
  if (c.tls) out.transport_socket = upstreamTls(c.tls);
  return out;
}

/** Envoy takes expected statuses as half-open [start, end) ranges; adjacent codes share one range. */
export function statusRanges(statuses: number[]): { start: number; end: number }[] {
  const sorted = [...new Set(statuses)].sort((a, b) => a - b);
  const ranges: { start: number; end: number }[] = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last.end === s) last.end = s + 1;
    else ranges.push({ start: s, end: s + 1 });
  }
  return ranges;
}

function optWrap(n: number | undefined): { value: number } | undefined {
  return n === undefined ? undefined : wrap(n);
}

function optDuration(ms: number | undefined): ReturnType<typeof duration> | undefined {
  return ms === undefined ? undefined : duration(ms);
}
