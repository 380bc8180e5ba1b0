import type { CompiledSnapshot, EnvoyResource, NodeInfo, ResourceSet } from '../../src/compile/types.js';
import { TypeUrl } from '../../src/proto/envoy.js';

/** Small hand-built Envoy resources (object form), enough to exercise the protocol. */
const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' };
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export function cluster(name: string, timeoutSeconds = 1): EnvoyResource {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE }, connect_timeout: { seconds: timeoutSeconds } };
}

export function endpoints(cluster: string, ...addresses: string[]): EnvoyResource {
  return {
    cluster_name: cluster,
    endpoints: [
      {
        load_balancing_weight: { value: 1 },
        lb_endpoints: addresses.map((a) => {
          const [address, port] = a.split(':');
          return { endpoint: { address: { socket_address: { address, port_value: Number(port) } } } };
        }),
      },
    ],
  };
}

function hcm(routeName: string): EnvoyResource {
  return {
    '@type': HCM,
    stat_prefix: routeName,
    rds: { route_config_name: routeName, config_source: ADS_SOURCE },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
  };
}

export function listener(name: string, routeName: string, port: number): EnvoyResource {
  return {
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(routeName) }] }],
  };
}

/** A proxyless gRPC listener: api_listener with the HCM inline, no address. */
export function apiListener(name: string, routeName: string): EnvoyResource {
  return { name, api_listener: { api_listener: hcm(routeName) } };
}

/** One virtual host with one prefix route per cluster (first cluster gets "/"). */
export function routes(name: string, clusters: string[]): EnvoyResource {
  return {
    name,
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: clusters.map((c, i) => ({ match: { prefix: i === 0 ? '/' : `/${c}/` }, route: { cluster: c } })),
      },
    ],
  };
}

export interface GroupSpec {
  clusters?: EnvoyResource[];
  endpoints?: EnvoyResource[];
  listeners?: EnvoyResource[];
  routes?: EnvoyResource[];
  extra?: Map<string, Map<string, EnvoyResource>>;
}

export function resourceSet(spec: GroupSpec): ResourceSet {
  const set: ResourceSet = new Map();
  const put = (typeUrl: (typeof TypeUrl)[keyof typeof TypeUrl], items: EnvoyResource[] | undefined, key: (r: EnvoyResource) => string) =>
    set.set(typeUrl, new Map((items ?? []).map((r) => [key(r), r])));
  put(TypeUrl.Cluster, spec.clusters, (r) => r.name!);
  put(TypeUrl.ClusterLoadAssignment, spec.endpoints, (r) => r.cluster_name!);
  put(TypeUrl.Listener, spec.listeners, (r) => r.name!);
  put(TypeUrl.RouteConfiguration, spec.routes, (r) => r.name!);
  for (const [t, m] of spec.extra ?? []) set.set(t as (typeof TypeUrl)[keyof typeof TypeUrl], m);
  return set;
}

/** A snapshot whose proxies pick their group by node.cluster (unknown clusters → "default"). */
export function snapshot(groups: Record<string, GroupSpec>, apiListenerNames?: string[]): CompiledSnapshot {
  const map = new Map(Object.entries(groups).map(([g, spec]) => [g, resourceSet(spec)]));
  return {
    groups: map,
    groupOf: (node: NodeInfo) => (map.has(node.cluster) ? node.cluster : 'default'),
    warnings: [],
    apiListenerNames: apiListenerNames ? new Set(apiListenerNames) : undefined,
  };
}

/** The usual two-cluster edge: listener "edge" → routes "edge-routes" → clusters a, b. */
export function basicGroup(overrides: Partial<GroupSpec> = {}): GroupSpec {
  return {
    clusters: [cluster('a'), cluster('b')],
    endpoints: [endpoints('a', '10.0.0.1:8080'), endpoints('b', '10.0.0.2:8080')],
    listeners: [listener('edge', 'edge-routes', 10000)],
    routes: [routes('edge-routes', ['a', 'b'])],
    ...overrides,
  };
}
