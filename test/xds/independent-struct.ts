/**
 * A decoder for google.protobuf.Struct that shares nothing with Banyan's protobufjs root: the schema
 * is written out here from google/protobuf/struct.proto (field names and numbers as Google publishes
 * them) and parsed into its own Root, so protobufjs's bundled common definitions — the ones whose
 * camelCase spelling hid node metadata — are never consulted. What it reads off the wire is
 * therefore what any other protobuf implementation (Envoy's C++, grpc-go) would read.
 */
import protobuf from 'protobufjs';

const STRUCT_PROTO = `
syntax = "proto3";
package google.protobuf;
message Struct { map<string, Value> fields = 1; }
message Value {
  oneof kind {
    NullValue null_value = 1;
    double number_value = 2;
    string string_value = 3;
    bool bool_value = 4;
    Struct struct_value = 5;
    ListValue list_value = 6;
  }
}
enum NullValue { NULL_VALUE = 0; }
message ListValue { repeated Value values = 1; }
`;

/** Only the field under test of envoy.service.ratelimit.v3.RateLimitResponse (rls.proto: field 6). */
const RLS_PROTO = `
syntax = "proto3";
package oracle;
import "google/protobuf/struct.proto";
message RateLimitResponseMetadata { google.protobuf.Struct dynamic_metadata = 6; }
`;

const root = new protobuf.Root();
protobuf.parse(STRUCT_PROTO, root, { keepCase: true });
protobuf.parse(RLS_PROTO, root, { keepCase: true });
root.resolveAll();

const StructType = root.lookupType('google.protobuf.Struct');
const RlsMetadata = root.lookupType('oracle.RateLimitResponseMetadata');
const toObject = (t: protobuf.Type, bytes: Uint8Array) => t.toObject(t.decode(bytes), { enums: String, oneofs: true });

type Json = null | number | string | boolean | Json[] | { [k: string]: Json };

/** Value (independently decoded) → JSON; throws when no kind is set, which is the bug this guards. */
function valueJson(v: Record<string, unknown>): Json {
  switch (v.kind) {
    case 'null_value':
      return null;
    case 'number_value':
    case 'string_value':
    case 'bool_value':
      return v[v.kind] as Json;
    case 'struct_value':
      return structJson(v.struct_value as Record<string, unknown>);
    case 'list_value':
      return (((v.list_value as { values?: Record<string, unknown>[] }).values) ?? []).map(valueJson);
    default:
      throw new Error(`google.protobuf.Value with no kind set on the wire: ${JSON.stringify(v)}`);
  }
}

function structJson(s: Record<string, unknown> | undefined): { [k: string]: Json } {
  const fields = (s?.fields ?? {}) as Record<string, Record<string, unknown>>;
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, valueJson(v)]));
}

export function decodeStructBytes(bytes: Uint8Array): { [k: string]: Json } {
  return structJson(toObject(StructType, bytes));
}

/** A serialized RateLimitResponse's dynamic_metadata; undefined when the field is absent. */
export function decodeRlsDynamicMetadata(bytes: Uint8Array): { [k: string]: Json } | undefined {
  const m = toObject(RlsMetadata, bytes) as { dynamic_metadata?: Record<string, unknown> };
  return m.dynamic_metadata && structJson(m.dynamic_metadata);
}

/** Encodes a Struct with the independent schema (snake_case object form, as Google's own docs spell it). */
export function encodeStructBytes(json: { [k: string]: Json }): Uint8Array {
  const value = (j: Json): Record<string, unknown> =>
    j === null
      ? { null_value: 'NULL_VALUE' }
      : typeof j === 'number'
        ? { number_value: j }
        : typeof j === 'string'
          ? { string_value: j }
          : typeof j === 'boolean'
            ? { bool_value: j }
            : Array.isArray(j)
              ? { list_value: { values: j.map(value) } }
              : { struct_value: { fields: Object.fromEntries(Object.entries(j).map(([k, v]) => [k, value(v)])) } };
  const obj = { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, value(v)])) };
  return StructType.encode(StructType.fromObject(obj)).finish();
}
