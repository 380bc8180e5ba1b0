import type { NodeInfo } from '../compile/types.js';
import { structToPlain } from '../proto/struct.js';

/** DiscoveryRequest.node in protobufjs object form (only the fields Banyan reads). */
export interface RawNode {
  id?: string;
  cluster?: string;
  /** A google.protobuf.Struct in the loaded root's object form; read only through proto/struct.ts. */
  metadata?: unknown;
  user_agent_name?: string;
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
