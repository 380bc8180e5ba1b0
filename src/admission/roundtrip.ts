/**
 * "Delivered exactly as written": a resource is encoded, decoded again, and every value the compiler
 * set must come back equal. protobufjs encodes out-of-range numbers without complaint (4294967296 in
 * a uint32 goes out as 0, a fraction in an integer field is truncated, a name not in an enum becomes
 * 0), so this is what stands between a typo and all traffic moving to the other backend.
 */
import protobuf from 'protobufjs';
import { messageType } from '../proto/envoy.js';
import { typeInfo } from './types.js';

export interface Mismatch {
  path: string;
  written: unknown;
  sent: unknown;
  /** The proto field type, e.g. uint32, for the message. */
  protoType: string;
}

type Obj = Record<string, unknown>;

/** Every value in `written` (compiled object form) that does not survive to `decoded` unchanged. */
export function roundTripMismatches(typeName: string, written: Obj, decoded: Obj): Mismatch[] {
  const out: Mismatch[] = [];
  compareMessage(messageType(typeName), written, decoded ?? {}, '', out);
  return out;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function compareMessage(type: protobuf.Type, written: Obj, decoded: Obj, path: string, out: Mismatch[]): void {
  if (typeInfo(type).kind === 'any') {
    const url = written['@type'];
    if (typeof url !== 'string') return;
    if (decoded['@type'] !== url) {
      out.push({ path: join(path, '@type'), written: url, sent: decoded['@type'], protoType: 'Any' });
      return;
    }
    const { ['@type']: _a, ...w } = written;
    const { ['@type']: _b, ...d } = decoded;
    compareMessage(messageType(url), w, d, path, out);
    return;
  }
  for (const [key, value] of Object.entries(written)) {
    if (value === undefined) continue;
    const field = type.fields[key];
    if (!field) continue; // unknown fields are refused by encodeMessage before we get here
    const fpath = join(path, key);
    const sent = decoded[key];
    if (field.map) {
      const w = value as Obj;
      const d = (sent as Obj | undefined) ?? {};
      for (const k of Object.keys(w)) compareValue(field, w[k], d[k], `${fpath}[${k}]`, out);
    } else if (field.repeated) {
      const w = value as unknown[];
      const d = (sent as unknown[] | undefined) ?? [];
      if (w.length !== d.length) out.push({ path: fpath, written: `${w.length} items`, sent: `${d.length} items`, protoType: field.type });
      else w.forEach((item, i) => compareValue(field, item, d[i], `${fpath}[${i}]`, out));
    } else {
      compareValue(field, value, sent, fpath, out);
    }
  }
}

function compareValue(field: protobuf.Field, written: unknown, sent: unknown, path: string, out: Mismatch[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (written === null) return;
    if (typeInfo(resolved).kind === 'struct') {
      if (JSON.stringify(written) !== JSON.stringify(sent ?? {})) out.push({ path, written, sent, protoType: resolved.name });
      return;
    }
    compareMessage(resolved, written as Obj, (sent as Obj | undefined) ?? {}, path, out);
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    const w = typeof written === 'number' ? resolved.valuesById[written] ?? written : written;
    const s = sent ?? resolved.valuesById[0];
    if (w !== s) out.push({ path, written, sent: s, protoType: resolved.name });
    return;
  }
  const s = sent ?? zeroOf(field.type);
  if (!scalarEqual(field.type, written, s)) out.push({ path, written, sent: s, protoType: field.type });
}

function zeroOf(type: string): unknown {
  if (type === 'string') return '';
  if (type === 'bytes') return '';
  if (type === 'bool') return false;
  return 0;
}

function scalarEqual(type: string, written: unknown, sent: unknown): boolean {
  if (type === 'bytes') {
    const w = typeof written === 'string' ? written : Buffer.from(written as Uint8Array).toString('base64');
    return w === sent;
  }
  if (type === 'string' || type === 'bool') return written === sent;
  if (type === 'float') return Math.fround(Number(written)) === Number(sent) && Math.fround(Number(written)) === Number(written);
  // 64-bit integers come back as numbers; strings written for them compare by value.
  return Number(written) === Number(sent) && (typeof written !== 'number' || Number.isSafeInteger(written) || type === 'double');
}
