import protobuf from 'protobufjs';
import { messageType } from '../proto/envoy.js';

const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((t) => `.google.protobuf.${t}Value`),
);

/**
 * Converts a resource from protobufjs object form (what the compiler builds and `encodeMessage`
 * takes) to the proto3 JSON form Envoy reads from YAML/JSON files: Durations become "1.5s",
 * wrappers their bare value, Structs plain maps.
 *
 * Only the bootstrap file (compile/bootstrap.ts) still uses this. Anything that shows xDS uses
 * proto/json.ts, which prints the wire bytes exactly as Go's protojson does; the bootstrap can follow
 * once its Struct values are spelled as the loaded root spells them (Value's fields are camelCase
 * there, so `string_value` is dropped by the encoder and the wire carries an empty Value).
 */
export function toEnvoyJson(typeName: string, value: unknown): unknown {
  return convert(messageType(typeName), value);
}

function convert(type: protobuf.Type, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  switch (type.fullName) {
    case '.google.protobuf.Duration':
      return durationString(Number(obj.seconds ?? 0), Number(obj.nanos ?? 0));
    case '.google.protobuf.Struct':
      return structToPlain(obj);
    case '.google.protobuf.Any': {
      const { ['@type']: url, ...rest } = obj;
      return typeof url === 'string' ? { '@type': url, ...(convert(messageType(url), rest) as object) } : obj;
    }
  }
  if (WRAPPERS.has(type.fullName)) return obj.value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(obj)) {
    const field = type.fields[key];
    const resolved = field?.resolvedType;
    if (!(resolved instanceof protobuf.Type)) out[key] = child;
    else if (field.map) out[key] = Object.fromEntries(Object.entries(child as object).map(([k, v]) => [k, convert(resolved, v)]));
    else if (Array.isArray(child)) out[key] = child.map((c) => convert(resolved, c));
    else out[key] = convert(resolved, child);
  }
  return out;
}

function durationString(seconds: number, nanos: number): string {
  const total = seconds + nanos / 1e9;
  return `${Number(total.toFixed(9))}s`;
}

function structToPlain(struct: Record<string, unknown>): Record<string, unknown> {
  const fields = (struct.fields ?? {}) as Record<string, Record<string, unknown>>;
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, valueToPlain(v)]));
}

function valueToPlain(v: Record<string, unknown>): unknown {
  if ('struct_value' in v) return structToPlain(v.struct_value as Record<string, unknown>);
  if ('list_value' in v) return (((v.list_value as { values?: Record<string, unknown>[] }).values) ?? []).map(valueToPlain);
  if ('null_value' in v) return null;
  return v.string_value ?? v.number_value ?? v.bool_value;
}
