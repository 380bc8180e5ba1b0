import type { NodeInfo } from '../compile/types.js';

/** DiscoveryRequest.node in protobufjs object form (only the fields Banyan reads). */
export interface RawNode {
  id?: string;
  cluster?: string;
  metadata?: { fields?: Record<string, RawValue> };
  user_agent_name?: string;
}
type RawValue = {
  null_value?: unknown;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: { fields?: Record<string, RawValue> };
  list_value?: { values?: RawValue[] };
};

/** The node as the compiler's groupOf() sees it: metadata as plain JSON instead of a Struct. */
export function nodeInfo(raw: RawNode | undefined): NodeInfo {
  return {
    id: raw?.id ?? '',
    cluster: raw?.cluster ?? '',
    metadata: structToJson(raw?.metadata),
    userAgentName: raw?.user_agent_name ?? '',
  };
}

function structToJson(s: { fields?: Record<string, RawValue> } | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: RawValue): unknown {
  if (v.string_value !== undefined) return v.string_value;
  if (v.number_value !== undefined) return v.number_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.struct_value !== undefined) return structToJson(v.struct_value);
  if (v.list_value !== undefined) return (v.list_value.values ?? []).map(valueToJson);
  return null;
}
