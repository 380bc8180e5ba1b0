import type protobuf from 'protobufjs';
import { envoyRoot } from './envoy.js';

/**
 * The one home for google.protobuf.Struct / Value ↔ plain JS, in the object form of the loaded root
 * (what `fromObject` takes and `toObject` gives).
 *
 * Field names are looked up by field number, not written down: protobufjs serves
 * google/protobuf/struct.proto from its bundled common definitions, which spell Value's fields in
 * camelCase (`stringValue`) even in a root loaded with keepCase, while every Envoy message in that
 * root is snake_case. Hard-coding either spelling is how node metadata once decoded to nulls; reading
 * the names off the root keeps this right whichever definitions protobufjs (or a future loader) uses.
 */

export type PlainValue = null | number | string | boolean | PlainValue[] | { [key: string]: PlainValue };
export type PlainStruct = { [key: string]: PlainValue };

/** Wire field numbers from struct.proto, which are fixed forever. */
const VALUE_FIELDS = { null: 1, number: 2, string: 3, bool: 4, struct: 5, list: 6 } as const;

interface Names {
  structFields: string;
  listValues: string;
  value: Record<keyof typeof VALUE_FIELDS, string>;
}

let cached: { root: protobuf.Root; names: Names } | undefined;

function names(): Names {
  const root = envoyRoot();
  if (cached?.root === root) return cached.names;
  const byId = (type: string, id: number): string => {
    const field = root.lookupType(type).fieldsById[id];
    if (!field) throw new Error(`${type} has no field number ${id}`);
    return field.name;
  };
  const value = Object.fromEntries(
    Object.entries(VALUE_FIELDS).map(([kind, id]) => [kind, byId('google.protobuf.Value', id)]),
  ) as Names['value'];
  const n: Names = { structFields: byId('google.protobuf.Struct', 1), listValues: byId('google.protobuf.ListValue', 1), value };
  cached = { root, names: n };
  return n;
}

/** A Struct in object form → a plain object. Absent or empty → {}. */
export function structToPlain(struct: unknown): PlainStruct {
  if (!isObject(struct)) return {};
  const fields = struct[names().structFields];
  const out: PlainStruct = {};
  if (isObject(fields)) for (const [k, v] of Object.entries(fields)) out[k] = valueToPlain(v);
  return out;
}

/** A Value in object form → plain JS. A Value with no kind set (or an unknown one) is null. */
export function valueToPlain(value: unknown): PlainValue {
  if (!isObject(value)) return null;
  const n = names();
  const v = n.value;
  if (value[v.string] !== undefined) return String(value[v.string]);
  // toObject with json: true renders NaN and ±Infinity as strings; they stay what was sent.
  if (value[v.number] !== undefined) return typeof value[v.number] === 'number' ? (value[v.number] as number) : Number(value[v.number]);
  if (value[v.bool] !== undefined) return Boolean(value[v.bool]);
  if (value[v.struct] !== undefined) return structToPlain(value[v.struct]);
  if (value[v.list] !== undefined) {
    const list = value[v.list];
    const items = isObject(list) ? list[n.listValues] : undefined;
    return Array.isArray(items) ? items.map(valueToPlain) : [];
  }
  return null;
}

/** A plain object → a Struct in object form, ready for `fromObject` / `encodeMessage`. */
export function plainToStruct(plain: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain)) if (v !== undefined) fields[k] = plainToValue(v);
  return { [names().structFields]: fields };
}

/** Plain JS → a Value in object form. undefined and functions become null_value, as JSON would drop them. */
export function plainToValue(plain: unknown): Record<string, unknown> {
  const n = names();
  const v = n.value;
  if (plain === null || plain === undefined) return { [v.null]: 'NULL_VALUE' };
  if (typeof plain === 'string') return { [v.string]: plain };
  if (typeof plain === 'number') return { [v.number]: plain };
  if (typeof plain === 'bigint') return { [v.number]: Number(plain) };
  if (typeof plain === 'boolean') return { [v.bool]: plain };
  if (Array.isArray(plain)) return { [v.list]: { [n.listValues]: plain.map(plainToValue) } };
  if (typeof plain === 'object') return { [v.struct]: plainToStruct(plain as Record<string, unknown>) };
  return { [v.null]: 'NULL_VALUE' };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
