import { stringify } from 'yaml';
import { canonicalJsonOf } from '../proto/json.js';
import { plainToStruct } from '../proto/struct.js';
import type * as envoy from './envoy-types.js';
import { ADS_CONFIG_SOURCE, duration, http2ProtocolOptions, socketAddress } from './util.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
/** The static cluster through which Envoy reaches Banyan's xDS server. */
export const XDS_CLUSTER = 'banyan_xds';

export interface BootstrapOptions {
  nodeId: string;
  /** Becomes node.cluster, which is what proxy groups match on first. */
  group: string;
  kind: 'sidecar' | 'edge';
  xdsHost: string;
  xdsPort: number;
  adminPort: number;
}

/** Edge proxies face the internet: Envoy's edge best practices cap downstream connections. */
const EDGE_MAX_DOWNSTREAM_CONNECTIONS = 50_000;

/**
 * An Envoy v3 bootstrap (protobufjs object form) that takes listeners and clusters — and through
 * them routes and endpoints — from Banyan over one ADS stream. Everything else is dynamic, so this
 * file rarely changes. node.metadata.kind lets groups match on `kind: edge` / `kind: sidecar`.
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
    static_resources: { clusters: [xdsCluster(o.xdsHost, o.xdsPort)] },
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

function xdsCluster(host: string, port: number): envoy.Cluster {
  return {
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
 * The bootstrap as Envoy reads it from a file, as YAML or JSON text: the canonical proto3 JSON of its
 * wire encoding, so the file holds exactly what would be sent (a value the encoding drops can't
 * appear in the file either).
 */
export function formatBootstrap(o: BootstrapOptions, format: 'yaml' | 'json'): string {
  const doc = canonicalJsonOf(BOOTSTRAP_TYPE, renderBootstrap(o));
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc);
}
