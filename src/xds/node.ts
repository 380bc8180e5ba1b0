import type { NodeInfo } from '../compile/types.js';
import { structToPlain } from '../proto/struct.js';

/** envoy.config.core.v3.BuildVersion in object form (uint32 zeros are absent: defaults are not filled in). */
export interface RawBuildVersion {
  version?: { major_number?: number; minor_number?: number; patch?: number };
  metadata?: unknown;
}

/** DiscoveryRequest.node in protobufjs object form (only the fields Banyan reads). */
export interface RawNode {
  id?: string;
  cluster?: string;
  /** A google.protobuf.Struct in the loaded root's object form; read only through proto/struct.ts. */
  metadata?: unknown;
  user_agent_name?: string;
  /** oneof user_agent_version_type: a free-form string (gRPC clients) ... */
  user_agent_version?: string;
  /** ... or a structured version (Envoy). */
  user_agent_build_version?: RawBuildVersion;
}

/** The node as the compiler's groupOf() sees it: metadata as plain JSON instead of a Struct. */
export function nodeInfo(raw: RawNode | undefined): NodeInfo {
  return {
    id: raw?.id ?? '',
    cluster: raw?.cluster ?? '',
    metadata: structToPlain(raw?.metadata),
    userAgentName: raw?.user_agent_name ?? '',
  };
}

/**
 * The client a node says it is: `user_agent_name` ("envoy", "grpc-go") and its version, from
 * `user_agent_version` or, rendered "1.32.4", `user_agent_build_version`. Undefined when the node
 * names neither.
 */
export function userAgentOf(raw: RawNode | undefined): { name: string; version: string } | undefined {
  const name = raw?.user_agent_name ?? '';
  const version = raw?.user_agent_version || buildVersionString(raw?.user_agent_build_version);
  return name || version ? { name, version } : undefined;
}

function buildVersionString(build: RawBuildVersion | undefined): string {
  const v = build?.version;
  if (!v) return '';
  return `${v.major_number ?? 0}.${v.minor_number ?? 0}.${v.patch ?? 0}`;
}
