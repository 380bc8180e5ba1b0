import type { TypeUrlValue } from '../proto/envoy.js';

/**
 * An Envoy resource in protobufjs object form: snake_case field names as in Envoy's API docs,
 * enums by name, Durations as { seconds, nanos }, Any as { '@type': typeUrl, ...fields }.
 * The xDS layer encodes these; the compiler never touches bytes.
 */
export type EnvoyResource = { name?: string; cluster_name?: string } & Record<string, unknown>;

/** Resources of one proxy group, per type URL, keyed by resource name. Maps are in deterministic order. */
export type ResourceSet = Map<TypeUrlValue, Map<string, EnvoyResource>>;

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
  httpFilters(listener: import('../config/model.js').Listener, config: import('../config/model.js').Config): EnvoyResource[];
  /** Per-route additions: entries for typed_per_filter_config and fields merged into the RouteAction. */
  route(
    route: import('../config/model.js').Route,
    listener: import('../config/model.js').Listener,
    config: import('../config/model.js').Config,
  ): { typedPerFilterConfig?: Record<string, EnvoyResource>; routeAction?: Record<string, unknown> };
  /** Extra clusters this feature needs (e.g. the gRPC cluster of Banyan's own service). */
  clusters(config: import('../config/model.js').Config): EnvoyResource[];
}
