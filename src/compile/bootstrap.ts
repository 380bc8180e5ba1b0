import { stringify } from 'yaml';
import { loadProtos } from '../proto/envoy.js';
import { canonicalJsonOf } from '../proto/json.js';
import { plainToStruct } from '../proto/struct.js';
import type * as envoy from './envoy-types.js';
import { isIP } from 'node:net';
import { ADS_CONFIG_SOURCE, duration, http2ProtocolOptions, socketAddress, typed } from './util.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
/** The static cluster through which Envoy reaches Banyan's xDS server. */
export const XDS_CLUSTER = 'banyan_xds';

/** How often Envoy flushes its stats to the sinks (Banyan's metrics service) unless told otherwise. */
export const DEFAULT_STATS_FLUSH_INTERVAL_MS = 10_000;
/** Envoy's rule for Bootstrap.stats_flush_interval: at least 1 ms, less than 300 s. */
export const STATS_FLUSH_INTERVAL_RANGE_MS = { min: 1, below: 300_000 } as const;

const METRICS_SERVICE_CONFIG = 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig';
// The stats sink's config message is not among the generated types (nothing in src/compile builds it
// but this file); its fields are checked when the bootstrap is encoded, against the loaded proto.
loadProtos(['envoy/config/metrics/v3/metrics_service.proto']);

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
    static_resources: { clusters: [xdsCluster(o.xdsHost, o.xdsPort, o.xdsTls)] },
    cluster_manager: {
      load_stats_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }] },
    },
    stats_sinks: [{ name: 'envoy.stat_sinks.metrics_service', typed_config: metricsServiceSink() }],
    stats_flush_interval: duration(o.statsFlushIntervalMs ?? DEFAULT_STATS_FLUSH_INTERVAL_MS),
    admin: { address: socketAddress('127.0.0.1', o.adminPort) },
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
