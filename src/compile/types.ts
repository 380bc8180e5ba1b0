import type { TypeUrlValue } from '../proto/envoy.js';
import type * as envoy from './envoy-types.js';

/**
 * An Envoy resource in protobufjs object form: snake_case field names as in Envoy's API docs,
 * enums by name, Durations as { seconds, nanos }, Any as { '@type': typeUrl, ...fields }.
 * The xDS layer encodes these; the compiler never touches bytes. This is the common supertype for code
 * that handles every type alike (the xDS cache, admission, diff); the compiler itself builds the
 * generated types of ResourceTypes, which are all assignable to it.
 */
export type EnvoyResource = { name?: string; cluster_name?: string } & Record<string, unknown>;

/** The message type served under each type URL (TypeUrl in src/proto/envoy.ts). */
export interface ResourceTypes {
  'type.googleapis.com/envoy.config.listener.v3.Listener': envoy.Listener;
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': envoy.RouteConfiguration;
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': envoy.Cluster;
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': envoy.ClusterLoadAssignment;
  'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig': envoy.RateLimitConfig;
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret': envoy.Secret;
}

/**
 * Resources of one proxy group, per type URL, keyed by resource name. Maps are in deterministic order.
 * The map itself is untyped so that generic code (and hand-built test snapshots) can use any resource;
 * compile() fills each type URL with ResourceTypes[url], and resourcesOf() reads them back typed.
 */
export type ResourceSet = Map<TypeUrlValue, Map<string, EnvoyResource>>;

/**
 * One type's resources of a compiled group, as the type compile() built them. EnvoyResource is
 * assignable to every resource type (all their fields are optional), so this trusts that the set came
 * from compile() rather than proving it.
 */
export function resourcesOf<U extends TypeUrlValue>(set: ResourceSet, typeUrl: U): ReadonlyMap<string, ResourceTypes[U]> {
  return set.get(typeUrl) ?? new Map();
}

/** What a proxy tells us about itself in DiscoveryRequest.node. */
export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  userAgentName: string;
}

/** The compiler's whole output: what each proxy group is served, and how a proxy picks its group. */
export interface CompiledSnapshot {
  groups: Map<string, ResourceSet>;
  groupOf(node: NodeInfo): string;
  /**
   * Names of api listeners (proxyless gRPC, `kind: api`; listener names are global across groups). The
   * xDS server leaves them out of wildcard LDS responses (an Envoy would reject a listener without an
   * address) and serves them only to clients that ask for them by name.
   */
  apiListenerNames?: Set<string>;
  /** Non-fatal findings from compilation (already positioned). */
  warnings: import('../config/diagnostics.js').Diagnostic[];
}

/**
 * A cross-cutting HTTP feature (CORS, ext_authz, rate limiting, ...) that contributes to listeners,
 * routes and clusters, in the style of envoyproxy/gateway's translator. A feature that does not apply
 * returns nothing. Where its filters go is not the feature's business: each filter names a slot of
 * HTTP_FILTER_TABLE (src/compile/filters.ts), which orders every chain.
 */
export interface HttpFeature {
  name: string;
  /**
   * Envoy API .proto files (relative to the API tree) defining the filter and per-route configs this
   * feature emits; loaded into the protobufjs root with everything else, imports followed.
   */
  protos: readonly string[];
  /** HTTP filters for this listener; each `name` is a slot of HTTP_FILTER_TABLE. */
  httpFilters(listener: import('../config/model.js').Listener, config: import('../config/model.js').Config): envoy.HttpFilter[];
  /** Per-route additions: entries for typed_per_filter_config and fields merged into the RouteAction. */
  route(
    route: import('../config/model.js').Route,
    listener: import('../config/model.js').Listener,
    config: import('../config/model.js').Config,
  ): { typedPerFilterConfig?: Record<string, envoy.TypedAny>; routeAction?: envoy.RouteAction };
  /** Extra clusters this feature needs (e.g. the gRPC cluster of Banyan's own service). */
  clusters(config: import('../config/model.js').Config): envoy.Cluster[];
}
