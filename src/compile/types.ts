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
  /** Non-fatal findings from compilation (already positioned). */
  warnings: import('../config/diagnostics.js').Diagnostic[];
}
