import { stringify } from 'yaml';
import { loadProtos } from '../proto/envoy.js';
import { canonicalJsonOf } from '../proto/json.js';
import { plainToStruct } from '../proto/struct.js';
import type { AccessLogOptions } from '../config/model.js';
import type * as envoy from './envoy-types.js';
import { isIP } from 'node:net';
import { accessLog } from './observability.js';
import { ADS_CONFIG_SOURCE, duration, HCM_TYPE, http2ProtocolOptions, socketAddress, typed } from './util.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
/** The static cluster through which Envoy reaches Banyan's xDS server. */
export const XDS_CLUSTER = 'banyan_xds';

/** How often Envoy flushes its stats to the sinks (Banyan's metrics service) unless told otherwise. */
export const DEFAULT_STATS_FLUSH_INTERVAL_MS = 10_000;
/** Envoy's rule for Bootstrap.stats_flush_interval: at least 1 ms, less than 300 s. */
export const STATS_FLUSH_INTERVAL_RANGE_MS = { min: 1, below: 300_000 } as const;

/** The static listener for kubelet probes and Prometheus scrapes (the chart's edge.probePort). */
export const DEFAULT_PROBE_PORT = 9902;
/** The static cluster through which the probes listener reaches Envoy's loopback admin. */
export const ADMIN_CLUSTER = 'envoy_admin';
/** The only admin paths the probes listener exposes. */
export const PROBE_PATHS = ['/ready', '/stats/prometheus'] as const;

/** Overload manager defaults: Envoy's edge best practices (shrink the heap at 95%, shed requests at 98%). */
export const DEFAULT_OVERLOAD = { maxHeapBytes: 1024 ** 3, shrinkHeapAt: 0.95, stopRequestsAt: 0.98 } as const;

const METRICS_SERVICE_CONFIG = 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig';
const FIXED_HEAP_CONFIG = 'type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig';
const FIXED_HEAP = 'envoy.resource_monitors.fixed_heap';
// The stats sink's and heap monitor's config messages are not among the generated types (nothing in
// src/compile builds them but this file); their fields are checked when the bootstrap is encoded,
// against the loaded protos.
loadProtos(['envoy/config/metrics/v3/metrics_service.proto', 'envoy/extensions/resource_monitors/fixed_heap/v3/fixed_heap.proto']);

/** Envoy's own (application) log lines as JSON: application_log_config (Envoy's spdlog flags). */
const JSON_APPLICATION_LOG = { timestamp: '%Y-%m-%dT%T.%e%z', level: '%l', logger: '%n', thread: '%t', source: '%g:%#', message: '%j' };

/** envoy.config.metrics.v3.MetricsServiceConfig in object form. */
interface MetricsServiceConfig {
  grpc_service: envoy.GrpcService;
  transport_api_version: 'V3';
  report_counters_as_deltas?: { value: boolean };
  emit_tags_as_labels?: boolean;
}

export interface BootstrapOptions {
  nodeId: string;
  /** Becomes node.cluster, which is what proxy groups match on first. */
  group: string;
  kind: 'sidecar' | 'edge';
  xdsHost: string;
  xdsPort: number;
  adminPort: number;
  /** Bootstrap.stats_flush_interval: how often Envoy sends its stats to Banyan's metrics service (default 10 s). */
  statsFlushIntervalMs?: number;
  /** TLS to Banyan's xDS server (`serve --tls-cert`): files on the proxy's disk, as ADS is not up yet for SDS. */
  xdsTls?: XdsTls;
  /**
   * `banyan` (default): push stats to Banyan's metrics service (what rollout analysis reads);
   * `prometheus`: no push sink, Prometheus scrapes /stats/prometheus on the probes listener.
   */
  statsSink?: 'banyan' | 'prometheus';
  /** The probes listener (only /ready and /stats/prometheus of the admin); false = none. Default 0.0.0.0:9902. */
  probes?: { address: string; port: number } | false;
  /** The overload manager (fixed heap monitor); false = none. Defaults: DEFAULT_OVERLOAD. */
  overload?: OverloadOptions | false;
  /** Envoy's own log lines (application_log_config): json, or text (Envoy's default, nothing written). */
  logFormat?: 'text' | 'json';
  /** An access log for the admin interface and the probes listener (default none: probes are noisy). */
  accessLog?: AccessLogOptions;
}

export interface OverloadOptions {
  /** FixedHeapConfig.max_heap_size_bytes: the heap Envoy may use (set it near the container's memory limit). */
  maxHeapBytes: number;
  /** Heap fraction at which Envoy returns free memory to the system (envoy.overload_actions.shrink_heap). */
  shrinkHeapAt: number;
  /** Heap fraction at which Envoy answers new requests 503 (envoy.overload_actions.stop_accepting_requests). */
  stopRequestsAt: number;
}

export interface XdsTls {
  /** PEM CA bundle the xDS server's certificate must chain to. */
  caFile: string;
  /** A client certificate and key, for `serve --tls-client-ca` (mTLS). */
  certFile?: string;
  keyFile?: string;
}

/** Edge proxies face the internet: Envoy's edge best practices cap downstream connections. */
const EDGE_MAX_DOWNSTREAM_CONNECTIONS = 50_000;

/**
 * An Envoy v3 bootstrap (protobufjs object form) that takes listeners and clusters — and through
 * them routes and endpoints — from Banyan over one ADS stream. Everything else is dynamic, so this
 * file rarely changes. node.metadata.kind lets groups match on `kind: edge` / `kind: sidecar`.
 * Envoy also reports to Banyan over the same cluster: per-cluster load over LRS
 * (cluster_manager.load_stats_config) and its stats, upstream latency histograms among them, to the
 * metrics service (a stats sink), counters as deltas and tags as labels (src/loadstats/).
 */
export function renderBootstrap(o: BootstrapOptions): envoy.Bootstrap {
  const probes = o.probes === undefined ? { address: '0.0.0.0', port: DEFAULT_PROBE_PORT } : o.probes;
  const statsSink = o.statsSink ?? 'banyan';
  if (statsSink === 'prometheus' && !probes) throw new Error('stats sink prometheus needs the probes listener: Prometheus scrapes /stats/prometheus there');
  if (probes && probes.port === o.adminPort) throw new Error(`the probes listener and the admin interface cannot share port ${o.adminPort}`);
  const overload = o.overload === undefined ? DEFAULT_OVERLOAD : o.overload;
  const adminLog = o.accessLog ? [accessLog(o.accessLog)] : undefined;
  const bootstrap: envoy.Bootstrap = {
    node: { id: o.nodeId, cluster: o.group, metadata: plainToStruct({ kind: o.kind }) },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      lds_config: ADS_CONFIG_SOURCE,
      cds_config: ADS_CONFIG_SOURCE,
    },
    static_resources: {
      ...(probes ? { listeners: [probesListener(probes.address, probes.port, adminLog)] } : {}),
      clusters: [xdsCluster(o.xdsHost, o.xdsPort, o.xdsTls), ...(probes ? [adminCluster(o.adminPort)] : [])],
    },
    cluster_manager: {
      load_stats_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }] },
    },
    ...(statsSink === 'banyan'
      ? {
          stats_sinks: [{ name: 'envoy.stat_sinks.metrics_service', typed_config: metricsServiceSink() }],
          stats_flush_interval: duration(o.statsFlushIntervalMs ?? DEFAULT_STATS_FLUSH_INTERVAL_MS),
        }
      : {}),
    ...(overload ? { overload_manager: overloadManager(overload) } : {}),
    ...(o.logFormat === 'json' ? { application_log_config: { log_format: { json_format: plainToStruct(JSON_APPLICATION_LOG) } } } : {}),
    admin: { address: socketAddress('127.0.0.1', o.adminPort), ...(adminLog ? { access_log: adminLog } : {}) },
  };
  if (o.kind === 'edge') {
    bootstrap.layered_runtime = {
      layers: [
        {
          name: 'static',
          static_layer: plainToStruct({ 'overload.global_downstream_max_connections': EDGE_MAX_DOWNSTREAM_CONNECTIONS }),
        },
      ],
    };
  }
  return bootstrap;
}

/**
 * Heap-based load shedding: the fixed heap monitor against max_heap_size_bytes, shrinking the heap
 * first and then answering new requests 503 (so /ready fails too, and the kubelet takes the pod out
 * of its Service) until memory is back under the threshold.
 */
function overloadManager(o: OverloadOptions): envoy.Bootstrap['overload_manager'] {
  const trigger = (value: number) => [{ name: FIXED_HEAP, threshold: { value } }];
  const heap: envoy.TypedAny = { '@type': FIXED_HEAP_CONFIG, max_heap_size_bytes: o.maxHeapBytes };
  return {
    refresh_interval: duration(250),
    resource_monitors: [{ name: FIXED_HEAP, typed_config: heap }],
    actions: [
      { name: 'envoy.overload_actions.shrink_heap', triggers: trigger(o.shrinkHeapAt) },
      { name: 'envoy.overload_actions.stop_accepting_requests', triggers: trigger(o.stopRequestsAt) },
    ],
  };
}

/**
 * A static listener that forwards exactly PROBE_PATHS to the loopback admin (everything else 404s),
 * so kubelet probes and Prometheus reach /ready and /stats/prometheus while the admin itself — which
 * can drain listeners, change log levels and quit — stays on 127.0.0.1. It ignores the global
 * downstream connection cap, so probes still answer when an edge is full.
 */
function probesListener(address: string, port: number, log: envoy.AccessLog[] | undefined): envoy.Listener {
  return {
    name: 'probes',
    address: socketAddress(address, port),
    ignore_global_conn_limit: true,
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: typed(HCM_TYPE, {
              stat_prefix: 'probes',
              route_config: {
                name: 'probes',
                virtual_hosts: [
                  {
                    name: 'probes',
                    domains: ['*'],
                    routes: PROBE_PATHS.map((p) => ({ match: { path: p }, route: { cluster: ADMIN_CLUSTER } })),
                  },
                ],
              },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: typed('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', {}) }],
              ...(log ? { access_log: log } : {}),
            }),
          },
        ],
      },
    ],
  };
}

function adminCluster(adminPort: number): envoy.Cluster {
  return {
    name: ADMIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: duration(1000),
    load_assignment: { cluster_name: ADMIN_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', adminPort) } }] }] },
  };
}

function metricsServiceSink(): envoy.TypedAny {
  const config: MetricsServiceConfig = {
    grpc_service: { envoy_grpc: { cluster_name: XDS_CLUSTER } },
    transport_api_version: 'V3',
    // Deltas: a sample per flush needs no memory of the last value (histograms are per flush interval anyway).
    report_counters_as_deltas: { value: true },
    // Tag-extracted names with the cluster as a label: a cluster name with dots cannot be misread.
    emit_tags_as_labels: true,
  };
  return { '@type': METRICS_SERVICE_CONFIG, ...config };
}

function xdsCluster(host: string, port: number, tls?: XdsTls): envoy.Cluster {
  return {
    ...(tls ? { transport_socket: xdsTransportSocket(host, tls) } : {}),
    name: XDS_CLUSTER,
    type: 'STRICT_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: duration(1000),
    // gRPC needs HTTP/2; keepalives notice a dead control plane instead of waiting on a silent socket.
    typed_extension_protocol_options: http2ProtocolOptions({ connection_keepalive: { interval: duration(30_000), timeout: duration(5_000) } }),
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(host, port) } }] }],
    },
  };
}

/**
 * An UpstreamTlsContext for the xDS cluster: the server's certificate must chain to the CA and name
 * the xDS host (a DNS or IP SAN: a trusted chain alone proves nothing about whom Envoy talks to).
 */
function xdsTransportSocket(host: string, tls: XdsTls): envoy.TransportSocket {
  const ip = isIP(host) !== 0;
  const common: envoy.CommonTlsContext = {
    alpn_protocols: ['h2'],
    validation_context: { trusted_ca: { filename: tls.caFile }, match_typed_subject_alt_names: [{ san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: host } }] },
  };
  if (tls.certFile && tls.keyFile) common.tls_certificates = [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }];
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: typed('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', { ...(ip ? {} : { sni: host }), common_tls_context: common }),
  };
}

/**
 * The bootstrap as Envoy reads it from a file, as YAML or JSON text: the canonical proto3 JSON of its
 * wire encoding, so the file holds exactly what would be sent (a value the encoding drops can't
 * appear in the file either).
 */
export function formatBootstrap(o: BootstrapOptions, format: 'yaml' | 'json'): string {
  const doc = canonicalJsonOf(BOOTSTRAP_TYPE, renderBootstrap(o));
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc);
}
