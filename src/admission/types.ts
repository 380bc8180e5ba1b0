/**
 * What admission needs to know about a message type, worked out once per type: protobufjs computes
 * `fullName` by walking up the namespace on every read, which made it the single largest cost of
 * checking a thousand routes.
 */
import protobuf from 'protobufjs';

export type TypeKind = 'any' | 'duration' | 'timestamp' | 'struct' | 'wrapper' | 'google' | 'message';

export interface TypeInfo {
  fullName: string;
  kind: TypeKind;
  /** For wrappers: the scalar rule kind of their `value` (uint32, string, ...). */
  scalar?: string;
}

const WRAPPERS: Record<string, string> = {
  DoubleValue: 'double',
  FloatValue: 'float',
  Int64Value: 'int64',
  UInt64Value: 'uint64',
  Int32Value: 'int32',
  UInt32Value: 'uint32',
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
};

const infos = new WeakMap<protobuf.Type, TypeInfo>();

export function typeInfo(type: protobuf.Type): TypeInfo {
  let info = infos.get(type);
  if (!info) {
    const fullName = type.fullName;
    const local = fullName.startsWith('.google.protobuf.') ? fullName.slice('.google.protobuf.'.length) : undefined;
    const kind: TypeKind =
      local === undefined
        ? 'message'
        : local === 'Any'
          ? 'any'
          : local === 'Duration'
            ? 'duration'
            : local === 'Timestamp'
              ? 'timestamp'
              : local === 'Struct' || local === 'Value' || local === 'ListValue'
                ? 'struct'
                : WRAPPERS[local]
                  ? 'wrapper'
                  : 'google';
    info = { fullName, kind, scalar: local ? WRAPPERS[local] : undefined };
    infos.set(type, info);
  }
  return info;
}
