/**
 * Canonical JSON of xDS resources: proto3 JSON exactly as Go's protojson prints it with
 * `UseProtoNames: true`, which is how Envoy's config_dump and go-control-plane tooling spell it
 * (snake_case names, Durations as "1.500s", 64-bit integers as strings, Any as {"@type", ...}).
 *
 * It works from bytes, so what it shows is what goes on the wire: protobufjs decodes, and this module
 * only maps the decoded message to JSON, field by field, through reflection. Fields of well-known
 * types are looked up by number, never by spelling: protobufjs bundles its own google/protobuf
 * definitions, whose names are camelCase (Value.stringValue) even in a root loaded with keepCase.
 */
import protobuf from 'protobufjs';
import { encodeMessage, envoyRoot } from './envoy.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What protojson would refuse to print (an Any of an unknown type, a Duration out of range, ...). */
export class ProtoJsonError extends Error {
  override readonly name = 'ProtoJsonError';
  constructor(
    /** Where in the message: "envoy.config.cluster.v3.Cluster.connect_timeout". */
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** The canonical JSON of a serialized message of the type named by `typeUrl` (a type URL or a full name). */
export function canonicalJson(typeUrl: string, bytes: Uint8Array): JsonValue {
  const type = typeFor(typeUrl, typeUrl);
  return messageJson(type, decode(type, bytes, typeUrl), type.fullName.slice(1));
}

/**
 * The canonical JSON of a compiled resource (protobufjs object form): encoded as the xDS server
 * encodes it, then read back, so fields the encoder drops or defaults never show.
 */
export function canonicalJsonOf(typeUrl: string, value: object): JsonValue {
  const json = canonicalJson(typeUrl, encodeMessage(typeUrl, value));
  return typeUrl === SECRET_TYPE ? redactSecret(json) : json;
}

const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const REDACTED = '[redacted]';

/**
 * A Secret as people may see it (the admin `xds` view, `banyan xds`, goldens): private keys, generic
 * secrets and session ticket keys shown as `[redacted]`; certificates and CAs, which are public, as
 * they are. Only what is shown: the wire and the versions keep the real bytes.
 */
export function redactSecret(json: JsonValue): JsonValue {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  const out = { ...json };
  const hide = (source: JsonValue | undefined): JsonValue | undefined => {
    if (source === null || typeof source !== 'object' || Array.isArray(source)) return source;
    return Object.fromEntries(Object.entries(source).map(([k, v]) => [k, k === 'filename' || k === 'environment_variable' ? v : REDACTED]));
  };
  const cert = out.tls_certificate;
  if (cert && typeof cert === 'object' && !Array.isArray(cert)) {
    out.tls_certificate = { ...cert, ...(cert.private_key !== undefined ? { private_key: hide(cert.private_key)! } : {}), ...(cert.password !== undefined ? { password: hide(cert.password)! } : {}) };
  }
  const generic = out.generic_secret;
  if (generic && typeof generic === 'object' && !Array.isArray(generic) && generic.secret !== undefined) out.generic_secret = { ...generic, secret: hide(generic.secret)! };
  const tickets = out.session_ticket_keys;
  if (tickets && typeof tickets === 'object' && !Array.isArray(tickets) && Array.isArray(tickets.keys)) out.session_ticket_keys = { ...tickets, keys: tickets.keys.map((k) => hide(k)!) };
  return out;
}

type Decoded = protobuf.Message & Record<string, unknown>;
type LongLike = { toString(): string; isZero(): boolean };
/** protobufjs's MapField, which its typings do not declare as a Field. */
type MapLike = protobuf.Field & { keyType: string };

const typeCache = new Map<string, protobuf.Type>();

let wellKnown: protobuf.Root | undefined;

/**
 * The well-known types, whether or not an Envoy proto Banyan loads imports them: an Any may carry any
 * of them (a FieldMask, say), and Go's registry always knows them.
 */
function wellKnownRoot(): protobuf.Root {
  if (!wellKnown) {
    wellKnown = new protobuf.Root();
    for (const file of ['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers']) {
      wellKnown.addJSON(protobuf.common.get(`google/protobuf/${file}.proto`)!.nested!);
    }
    wellKnown.resolveAll();
  }
  return wellKnown;
}

/** Like protojson's resolver, a type URL is resolved by what follows its last "/". */
function typeFor(url: string, path: string): protobuf.Type {
  const name = url.slice(url.lastIndexOf('/') + 1);
  let type = typeCache.get(name);
  if (!type) {
    const found = name ? (envoyRoot().lookup(name) ?? wellKnownRoot().lookup(name)) : null;
    if (!(found instanceof protobuf.Type)) throw new ProtoJsonError(path, `unable to resolve "${url}": not a message type Banyan loads`);
    type = found;
    typeCache.set(name, type);
  }
  return type;
}

function decode(type: protobuf.Type, bytes: Uint8Array, path: string): Decoded {
  try {
    return type.decode(bytes) as Decoded;
  } catch (err) {
    throw new ProtoJsonError(path, `cannot decode ${type.fullName.slice(1)}: ${(err as Error).message}`);
  }
}

function messageJson(type: protobuf.Type, msg: Decoded | null, path: string): JsonValue {
  const special = WELL_KNOWN[type.fullName];
  if (special) return special(type, msg ?? (type.create() as Decoded), path);
  const out: { [key: string]: JsonValue } = {};
  if (!msg) return out;
  // Declaration order, as protojson's order.IndexOrder, so that output is stable and diffs with Go's.
  for (const field of type.fieldsArray) {
    const value = msg[field.name];
    const at = `${path}.${field.name}`;
    if (field.map) {
      const entries = value && typeof value === 'object' ? Object.keys(value) : [];
      if (entries.length > 0) out[field.name] = mapJson(field as MapLike, value as Record<string, unknown>, at);
    } else if (field.repeated) {
      if (Array.isArray(value) && value.length > 0) out[field.name] = value.map((v, i) => singularJson(field, v, `${at}[${i}]`));
    } else if (isPopulated(field, msg)) {
      out[field.name] = singularJson(field, value, at);
    }
  }
  return out;
}

/**
 * proto3 presence: message fields, oneof members and `optional` scalars count when set (even to their
 * default); other scalars only when they differ from their default, which is all the wire can tell.
 */
function isPopulated(field: protobuf.Field, msg: Decoded): boolean {
  const value = msg[field.name];
  const own = Object.prototype.hasOwnProperty.call(msg, field.name) && value !== null && value !== undefined;
  if (field.resolvedType instanceof protobuf.Type || field.partOf || field.hasPresence) return own;
  if (!own) return false;
  if (typeof value === 'number') return value !== 0 || Object.is(value, -0);
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'boolean') return value;
  if (value instanceof Uint8Array) return value.length > 0;
  return !(value as LongLike).isZero();
}

function singularJson(field: protobuf.Field, value: unknown, path: string): JsonValue {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return messageJson(resolved, value as Decoded | null, path);
  if (resolved instanceof protobuf.Enum) return enumJson(resolved, value as number);
  return scalarJson(field.type, value ?? defaultOf(field), path);
}

function defaultOf(field: protobuf.Field): unknown {
  return field.type === 'bytes' ? new Uint8Array() : field.typeDefault;
}

function enumJson(type: protobuf.Enum, n: number): JsonValue {
  if (type.fullName === '.google.protobuf.NullValue') return null;
  // The first name declared for the number, as protojson picks among aliases.
  for (const [name, id] of Object.entries(type.values)) if (id === n) return name;
  return n;
}

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalarJson(protoType: string, value: unknown, path: string): JsonValue {
  if (INT64.has(protoType)) return typeof value === 'number' ? String(value) : (value as LongLike).toString();
  switch (protoType) {
    case 'double':
      return floatJson(value as number, 64);
    case 'float':
      return floatJson(value as number, 32);
    case 'bytes':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'string':
    case 'bool':
    case 'int32':
    case 'sint32':
    case 'sfixed32':
    case 'uint32':
    case 'fixed32':
      return value as JsonValue;
  }
  throw new ProtoJsonError(path, `unsupported scalar type ${protoType}`);
}

function floatJson(n: number, bits: 32 | 64): JsonValue {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (bits === 64 || n === 0) return n;
  // protojson prints a float32 with the fewest digits that read back as the same float32; protobufjs
  // hands us the float32 widened to a double (0.1f → 0.10000000149011612).
  for (let p = 1; p < 9; p++) {
    const shortest = Number(n.toPrecision(p));
    if (Math.fround(shortest) === n) return shortest;
  }
  return Number(n.toPrecision(9));
}

/** Map entries in protojson's order (bools false first, integers by value, strings by bytes), keys as strings. */
function mapJson(field: MapLike, map: Record<string, unknown>, path: string): JsonValue {
  const keyType = field.keyType;
  const entries = Object.keys(map).map((raw) => ({ raw, key: mapKey(keyType, raw) }));
  if (keyType === 'bool') entries.sort((a, b) => Number(a.key === 'true') - Number(b.key === 'true'));
  else if (keyType === 'string') entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  else entries.sort((a, b) => (BigInt(a.key) < BigInt(b.key) ? -1 : BigInt(a.key) > BigInt(b.key) ? 1 : 0));
  const out: { [key: string]: JsonValue } = {};
  for (const { raw, key } of entries) put(out, key, singularJson(field, map[raw], `${path}[${JSON.stringify(key)}]`));
  return out;
}

function mapKey(keyType: string, raw: string): string {
  // protobufjs keys 64-bit maps by an 8-character hash of the number's bits.
  if (INT64.has(keyType) && raw.length === 8 && !/^-?\d+$/.test(raw)) {
    return protobuf.util.longFromHash(raw, keyType === 'uint64' || keyType === 'fixed64').toString();
  }
  return raw;
}

/** Sets a key that may be "__proto__" (a legal map key) as plain data. */
function put(obj: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- well-known types with their own JSON form (protojson's wellKnownTypeMarshaler) ----
// Empty is not one of them: it prints as any field-less message, {}, and inside an Any as
// {"@type": ".../google.protobuf.Empty"} with no "value" (protojson follows the spec here).

type Special = (type: protobuf.Type, msg: Decoded, path: string) => JsonValue;

/** The value of field number `id`, with protobufjs's default when unset. */
function get(type: protobuf.Type, msg: Decoded, id: number): unknown {
  const field = type.fieldsById[id];
  return msg[field.name] ?? defaultOf(field);
}

function has(type: protobuf.Type, msg: Decoded, id: number): boolean {
  const field = type.fieldsById[id];
  return Object.prototype.hasOwnProperty.call(msg, field.name) && msg[field.name] !== null && msg[field.name] !== undefined;
}

const toBigInt = (v: unknown): bigint => BigInt(typeof v === 'number' ? v : (v as LongLike).toString());

/** protojson's rule for Durations and Timestamps: 0, 3, 6 or 9 fractional digits. */
function fraction(nanos: number): string {
  let s = `.${String(nanos).padStart(9, '0')}`;
  for (let i = 0; i < 2 && s.endsWith('000'); i++) s = s.slice(0, -3);
  return s === '.000' ? '' : s;
}

const MAX_DURATION_SECONDS = 315_576_000_000n;

const duration: Special = (type, msg, path) => {
  let secs = toBigInt(get(type, msg, 1));
  let nanos = get(type, msg, 2) as number;
  if (secs < -MAX_DURATION_SECONDS || secs > MAX_DURATION_SECONDS) throw new ProtoJsonError(path, `seconds out of range ${secs}`);
  if (nanos <= -1e9 || nanos >= 1e9) throw new ProtoJsonError(path, `nanos out of range ${nanos}`);
  if ((secs > 0n && nanos < 0) || (secs < 0n && nanos > 0)) throw new ProtoJsonError(path, `signs of seconds and nanos do not match`);
  let sign = '';
  if (secs < 0n || nanos < 0) [sign, secs, nanos] = ['-', -secs, -nanos];
  return `${sign}${secs}${fraction(nanos)}s`;
};

const MIN_TIMESTAMP_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

const timestamp: Special = (type, msg, path) => {
  const secs = toBigInt(get(type, msg, 1));
  const nanos = get(type, msg, 2) as number;
  if (secs < MIN_TIMESTAMP_SECONDS || secs > MAX_TIMESTAMP_SECONDS) throw new ProtoJsonError(path, `seconds out of range ${secs}`);
  if (nanos < 0 || nanos >= 1e9) throw new ProtoJsonError(path, `nanos out of range ${nanos}`);
  const date = new Date(Number(secs) * 1000).toISOString(); // "YYYY-MM-DDTHH:MM:SS.000Z" for years 1-9999
  return `${date.slice(0, 19)}${fraction(nanos)}Z`;
};

const wrapper: Special = (type, msg, path) => singularJson(type.fieldsById[1], get(type, msg, 1), path);

const struct: Special = (type, msg, path) => {
  const fields = type.fieldsById[1] as MapLike;
  return mapJson(fields, (msg[fields.name] ?? {}) as Record<string, unknown>, path);
};

const listValue: Special = (type, msg, path) => {
  const values = type.fieldsById[1];
  return ((msg[values.name] ?? []) as Decoded[]).map((v, i) => messageJson(values.resolvedType as protobuf.Type, v, `${path}[${i}]`));
};

const value: Special = (type, msg, path) => {
  // Value's oneof "kind": null_value = 1, number_value, string_value, bool_value, struct_value, list_value = 6.
  for (let id = 1; id <= 6; id++) {
    if (!has(type, msg, id)) continue;
    const field = type.fieldsById[id];
    const v = msg[field.name];
    if (id === 2 && !Number.isFinite(v)) throw new ProtoJsonError(path, `invalid google.protobuf.Value: ${v}`);
    return singularJson(field, v, path);
  }
  throw new ProtoJsonError(path, 'google.protobuf.Value: none of the oneof fields is set');
};

const IDENT_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const fieldMask: Special = (type, msg, path) =>
  ((get(type, msg, 1) ?? []) as string[])
    .map((p) => {
      if (!IDENT_PATH.test(p)) throw new ProtoJsonError(path, `google.protobuf.FieldMask.paths contains invalid path: ${JSON.stringify(p)}`);
      const camel = p.replace(/_+([a-z]?)/g, (_m, c: string) => c.toUpperCase());
      if (camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) !== p) {
        throw new ProtoJsonError(path, `google.protobuf.FieldMask.paths contains irreversible value ${JSON.stringify(p)}`);
      }
      return camel;
    })
    .join(',');

const any: Special = (type, msg, path): JsonValue => {
  const url = get(type, msg, 1) as string;
  const bytes = get(type, msg, 2) as Uint8Array;
  if (!url) {
    if (bytes.length === 0) return {};
    throw new ProtoJsonError(path, 'google.protobuf.Any: missing type_url');
  }
  const inner = typeFor(url, path);
  const innerMsg = decode(inner, bytes, path);
  // A type with its own JSON form (a Duration, a Struct, another Any) cannot spread into the object.
  if (WELL_KNOWN[inner.fullName]) return { '@type': url, value: messageJson(inner, innerMsg, path) };
  return { '@type': url, ...(messageJson(inner, innerMsg, path) as { [key: string]: JsonValue }) };
};

const WELL_KNOWN: Record<string, Special> = {
  '.google.protobuf.Any': any,
  '.google.protobuf.Duration': duration,
  '.google.protobuf.Timestamp': timestamp,
  '.google.protobuf.Struct': struct,
  '.google.protobuf.ListValue': listValue,
  '.google.protobuf.Value': value,
  '.google.protobuf.FieldMask': fieldMask,
  ...Object.fromEntries(
    ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((t) => [`.google.protobuf.${t}Value`, wrapper]),
  ),
};
