/**
 * protoc-gen-validate's semantics over a decoded message (protobufjs object form: snake_case, enums
 * by name, 64-bit integers as numbers, Any as { '@type', ...fields }). It checks what a proxy will
 * decode, so it runs on the wire round-trip of a resource, not on what the compiler built.
 *
 * Semantics follow PGV's generated validators (what go-control-plane's ValidateAll runs): scalar
 * rules apply to proto3 implicit-presence fields even when unset (their zero value), message rules
 * only when the field is set unless `required`, wrapper fields take the scalar rule of their value,
 * oneof fields only when they are the chosen member, and every `Any` is unpacked and checked too
 * (ValidateAll itself stops at Any; Envoy does not).
 */
import protobuf from 'protobufjs';
import { messageType } from '../proto/envoy.js';
import { flagsOf, oneofRequired, rulesOf, type FieldRules } from './rules.js';
import { typeInfo } from './types.js';

export interface Violation {
  /** Field path inside the resource, e.g. `virtual_hosts[0].routes[2].route.timeout`. */
  path: string;
  /** The rule that failed, e.g. `string.min_len`, `duration.lt`, `oneof.required`. */
  rule: string;
  message: string;
}

type Obj = Record<string, unknown>;

/** Duration's and Timestamp's own validity bounds (seconds), as protobuf's well-known types define them. */
const MAX_DURATION_SECONDS = 315_576_000_000;
const MIN_TIMESTAMP_SECONDS = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

/** Validates `value` (decoded object form) as message `typeName`; returns every violation, in field order. */
export function validateMessage(typeName: string, value: Obj): Violation[] {
  const out: Violation[] = [];
  checkMessage(messageType(typeName), value, '', out);
  return out;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function checkMessage(type: protobuf.Type, obj: Obj, path: string, out: Violation[]): void {
  const kind = typeInfo(type).kind;
  if (kind === 'any') {
    const url = obj['@type'];
    if (typeof url === 'string') {
      const { ['@type']: _t, ...rest } = obj;
      checkMessage(messageType(url), rest, path, out);
    }
    return;
  }
  if (kind !== 'message') return; // well-known types carry no rules inside
  const flags = flagsOf(type);
  if (flags.ignored || flags.disabled) return;
  for (const oneof of type.oneofsArray) {
    if (!oneofRequired(oneof)) continue;
    if (!oneof.fieldsArray.some((f) => isSet(obj[f.name]))) {
      out.push({ path: join(path, oneof.name), rule: 'oneof.required', message: `one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required` });
    }
  }
  for (const { field, rules, nested } of planOf(type)) {
    const value = obj[field.name];
    if (!isSet(value)) {
      // Unset with no rule, or an unset oneof member (or `optional`): nothing applies. This is the common case by far.
      if (!rules || field.partOf !== null) continue;
      // An unset message field only fails `required`; scalars, lists and maps are checked as their zero value.
      if (nested && !field.repeated && !field.map) {
        if (requiredByRules(rules)) out.push({ path: join(path, field.name), rule: `${ruleKind(rules)}.required`, message: 'value is required' });
        continue;
      }
    }
    const fpath = join(path, field.name);
    if (field.map) checkMap(field, (value as Obj | undefined) ?? {}, rules, fpath, out);
    else if (field.repeated) checkRepeated(field, (value as unknown[] | undefined) ?? [], rules, fpath, out);
    else checkSingle(field, value, rules, fpath, out);
  }
}

interface FieldPlan {
  field: protobuf.Field;
  rules: FieldRules | null;
  /** A message-typed field (or a repeated/map of them): set values are walked into. */
  nested: boolean;
}

const plans = new WeakMap<protobuf.Type, FieldPlan[]>();

/** The fields of a type that can ever produce a violation: those with rules, and message-typed ones to recurse into. */
function planOf(type: protobuf.Type): FieldPlan[] {
  let plan = plans.get(type);
  if (!plan) {
    plan = [];
    for (const field of type.fieldsArray) {
      const rules = rulesOf(field);
      const nested = field.resolvedType instanceof protobuf.Type;
      if (rules || nested) plan.push({ field, rules, nested });
    }
    plans.set(type, plan);
  }
  return plan;
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function ruleKind(rules: FieldRules): string {
  return Object.keys(rules)[0] ?? 'message';
}

function requiredByRules(rules: FieldRules): boolean {
  for (const kind of ['message', 'duration', 'timestamp', 'any'] as const) if ((rules[kind] as { required?: boolean } | undefined)?.required) return true;
  return false;
}

function checkSingle(field: protobuf.Field, value: unknown, rules: FieldRules | null, path: string, out: Violation[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const info = typeInfo(resolved);
    if (info.kind === 'wrapper') {
      const wrapped = info.scalar!;
      if (rules?.[wrapped]) checkScalar(wrapped, (value as Obj).value ?? zero(wrapped), rules[wrapped]!, path, out);
      return;
    }
    if (info.kind === 'duration') {
      if (!envoyDurationOk(value as Obj)) {
        out.push({ path, rule: 'envoy.duration', message: `duration must be between 0s and ${MAX_DURATION_SECONDS}s (Envoy refuses negative and out-of-range durations anywhere)` });
        return;
      }
      checkDuration(value as Obj, rules?.duration, path, out);
      return;
    }
    if (info.kind === 'timestamp') {
      checkTimestamp(value as Obj, rules?.timestamp, path, out);
      return;
    }
    if (info.kind === 'any' && rules?.any) checkAnyRules(value as Obj, rules.any, path, out);
    if (rules?.message?.skip) return;
    checkMessage(resolved, value as Obj, path, out);
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    checkEnum(resolved, value ?? Object.keys(resolved.values)[0], rules?.enum, path, out);
    return;
  }
  const kind = scalarKind(field.type);
  const r = rules?.[kind];
  if (r) checkScalar(kind, value ?? zero(kind), r, path, out);
}

function checkRepeated(field: protobuf.Field, items: unknown[], rules: FieldRules | null, path: string, out: Violation[]): void {
  const r = rules?.repeated as { min_items?: number; max_items?: number; unique?: boolean; items?: FieldRules } | undefined;
  if (r) {
    if (r.min_items !== undefined && items.length < Number(r.min_items)) out.push({ path, rule: 'repeated.min_items', message: `value must contain at least ${r.min_items} item(s)` });
    if (r.max_items !== undefined && items.length > Number(r.max_items)) out.push({ path, rule: 'repeated.max_items', message: `value must contain no more than ${r.max_items} item(s)` });
    if (r.unique) {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const key = JSON.stringify(item);
        if (seen.has(key)) out.push({ path: `${path}[${i}]`, rule: 'repeated.unique', message: 'repeated value must contain unique items' });
        seen.add(key);
      });
    }
  }
  items.forEach((item, i) => checkSingle(field, item, r?.items ?? null, `${path}[${i}]`, out));
}

function checkMap(field: protobuf.Field, map: Obj, rules: FieldRules | null, path: string, out: Violation[]): void {
  const r = rules?.map as { min_pairs?: number; max_pairs?: number; keys?: FieldRules; values?: FieldRules } | undefined;
  const keys = Object.keys(map);
  if (r?.min_pairs !== undefined && keys.length < Number(r.min_pairs)) out.push({ path, rule: 'map.min_pairs', message: `value must contain at least ${r.min_pairs} pair(s)` });
  if (r?.max_pairs !== undefined && keys.length > Number(r.max_pairs)) out.push({ path, rule: 'map.max_pairs', message: `value must contain no more than ${r.max_pairs} pair(s)` });
  const keyKind = scalarKind((field as unknown as protobuf.MapField).keyType);
  for (const key of keys) {
    const kpath = `${path}[${key}]`;
    const keyRules = r?.keys?.[keyKind];
    if (keyRules) checkScalar(keyKind, keyKind === 'string' ? key : Number(key), keyRules, `${kpath}<key>`, out);
    checkSingle(field, map[key], r?.values ?? null, kpath, out);
  }
}

function scalarKind(protoType: string): string {
  return protoType;
}

function zero(kind: string): unknown {
  if (kind === 'string' || kind === 'bytes') return '';
  if (kind === 'bool') return false;
  return 0;
}

// ------------------------------------------------------------------------------------------ scalars

type NumberRules = { const?: number; lt?: number; lte?: number; gt?: number; gte?: number; in?: number[]; not_in?: number[]; ignore_empty?: boolean };

function checkScalar(kind: string, value: unknown, rules: Record<string, unknown>, path: string, out: Violation[]): void {
  if (kind === 'string') return checkString(String(value), rules, path, out);
  if (kind === 'bytes') return checkBytes(typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value as Uint8Array), rules, path, out);
  if (kind === 'bool') {
    if (rules.const !== undefined && value !== rules.const) out.push({ path, rule: 'bool.const', message: `value must equal ${rules.const}` });
    return;
  }
  checkNumber(kind, Number(value), rules as NumberRules, path, out);
}

/** A repeated rule option written with a single value (`not_in: 7`) is parsed as a scalar, not a list. */
function list(v: unknown): unknown[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function checkNumber(kind: string, v: number, r0: NumberRules, path: string, out: Violation[]): void {
  const r = { ...r0, in: list(r0.in) as number[] | undefined, not_in: list(r0.not_in) as number[] | undefined };
  if (r.ignore_empty && v === 0) return;
  const fail = (rule: string, message: string) => out.push({ path, rule: `${kind}.${rule}`, message });
  if (r.const !== undefined && v !== Number(r.const)) fail('const', `value must equal ${r.const}`);
  if (r.in && !r.in.map(Number).includes(v)) fail('in', `value must be in list [${r.in.join(', ')}]`);
  if (r.not_in && r.not_in.map(Number).includes(v)) fail('not_in', `value must not be in list [${r.not_in.join(', ')}]`);
  checkRange(v, bound(r.gt, r.gte), bound(r.lt, r.lte), (rule, msg) => fail(rule, msg), String);
}

interface Bound {
  value: number;
  inclusive: boolean;
}

function bound(exclusive: unknown, inclusive: unknown): Bound | undefined {
  if (exclusive !== undefined) return { value: Number(exclusive), inclusive: false };
  if (inclusive !== undefined) return { value: Number(inclusive), inclusive: true };
  return undefined;
}

/**
 * PGV's range semantics: one bound is a plain comparison; with both, lower < upper means "inside",
 * lower > upper means "outside" (an exclusive range).
 */
function checkRange(v: number, lower: Bound | undefined, upper: Bound | undefined, fail: (rule: string, message: string) => void, show: (n: number) => string): void {
  const aboveLower = !lower || (lower.inclusive ? v >= lower.value : v > lower.value);
  const belowUpper = !upper || (upper.inclusive ? v <= upper.value : v < upper.value);
  const lowerText = lower && `${lower.inclusive ? 'greater than or equal to' : 'greater than'} ${show(lower.value)}`;
  const upperText = upper && `${upper.inclusive ? 'less than or equal to' : 'less than'} ${show(upper.value)}`;
  if (lower && upper) {
    const rule = `${lower.inclusive ? 'gte' : 'gt'}_${upper.inclusive ? 'lte' : 'lt'}`;
    if (lower.value <= upper.value) {
      if (!(aboveLower && belowUpper)) fail(rule, `value must be inside range ${show(lower.value)}..${show(upper.value)} (${lowerText} and ${upperText})`);
    } else if (aboveLower === false && belowUpper === false) {
      fail(rule, `value must be outside range ${show(upper.value)}..${show(lower.value)}`);
    }
    return;
  }
  if (!aboveLower) fail(lower!.inclusive ? 'gte' : 'gt', `value must be ${lowerText}`);
  if (!belowUpper) fail(upper!.inclusive ? 'lte' : 'lt', `value must be ${upperText}`);
}

// ------------------------------------------------------------------------------------------ strings

/** PGV's well_known_regex patterns; `strict: false` relaxes both to "no NUL, CR or LF". */
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

function checkString(s: string, r0: Record<string, unknown>, path: string, out: Violation[]): void {
  const r: Record<string, unknown> = { ...r0, in: list(r0.in), not_in: list(r0.not_in) };
  if (r.ignore_empty && s === '') return;
  const fail = (rule: string, message: string) => out.push({ path, rule: `string.${rule}`, message });
  const runes = [...s].length;
  const bytes = Buffer.byteLength(s, 'utf8');
  if (r.const !== undefined && s !== r.const) fail('const', `value must equal ${JSON.stringify(r.const)}`);
  if (r.len !== undefined && runes !== Number(r.len)) fail('len', `value length must be ${r.len} runes`);
  if (r.min_len !== undefined && runes < Number(r.min_len)) fail('min_len', `value length must be at least ${r.min_len} runes`);
  if (r.max_len !== undefined && runes > Number(r.max_len)) fail('max_len', `value length must be at most ${r.max_len} runes`);
  if (r.len_bytes !== undefined && bytes !== Number(r.len_bytes)) fail('len_bytes', `value length must be ${r.len_bytes} bytes`);
  if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) fail('min_bytes', `value length must be at least ${r.min_bytes} bytes`);
  if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) fail('max_bytes', `value length must be at most ${r.max_bytes} bytes`);
  if (typeof r.pattern === 'string' && !compilePattern(r.pattern).test(s)) fail('pattern', `value does not match regex pattern ${JSON.stringify(r.pattern)}`);
  if (typeof r.prefix === 'string' && !s.startsWith(r.prefix)) fail('prefix', `value does not have prefix ${JSON.stringify(r.prefix)}`);
  if (typeof r.suffix === 'string' && !s.endsWith(r.suffix)) fail('suffix', `value does not have suffix ${JSON.stringify(r.suffix)}`);
  if (typeof r.contains === 'string' && !s.includes(r.contains)) fail('contains', `value does not contain substring ${JSON.stringify(r.contains)}`);
  if (typeof r.not_contains === 'string' && s.includes(r.not_contains)) fail('not_contains', `value contains substring ${JSON.stringify(r.not_contains)}`);
  if (Array.isArray(r.in) && !r.in.includes(s)) fail('in', `value must be in list [${r.in.join(', ')}]`);
  if (Array.isArray(r.not_in) && r.not_in.includes(s)) fail('not_in', `value must not be in list [${r.not_in.join(', ')}]`);
  const strict = r.strict !== false;
  if (r.well_known_regex === 'HTTP_HEADER_NAME' && !(strict ? HEADER_NAME_STRICT : HEADER_LOOSE).test(s)) {
    fail('well_known_regex', `value does not match regex pattern for HTTP header names${strict ? '' : ' (no NUL, CR or LF)'}`);
  }
  if (r.well_known_regex === 'HTTP_HEADER_VALUE' && !(strict ? HEADER_VALUE_STRICT : HEADER_LOOSE).test(s)) {
    fail('well_known_regex', `value does not match regex pattern for HTTP header values${strict ? '' : ' (no NUL, CR or LF)'}`);
  }
  if (r.hostname && !isHostname(s)) fail('hostname', 'value must be a valid hostname');
  if (r.ip && !isIp(s)) fail('ip', 'value must be a valid IP address');
  if (r.ipv4 && !/^\d+\.\d+\.\d+\.\d+$/.test(s)) fail('ipv4', 'value must be a valid IPv4 address');
  if (r.ipv6 && !(isIp(s) && s.includes(':'))) fail('ipv6', 'value must be a valid IPv6 address');
  if (r.address && !(isHostname(s) || isIp(s))) fail('address', 'value must be a valid hostname, or ip address');
  if (r.uuid && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) fail('uuid', 'value must be a valid UUID');
  if (r.uri && !isUri(s)) fail('uri', 'value must be a valid URI');
}

function checkBytes(b: Buffer, r: Record<string, unknown>, path: string, out: Violation[]): void {
  const fail = (rule: string, message: string) => out.push({ path, rule: `bytes.${rule}`, message });
  if (r.len !== undefined && b.length !== Number(r.len)) fail('len', `value length must be ${r.len} bytes`);
  if (r.min_len !== undefined && b.length < Number(r.min_len)) fail('min_len', `value length must be at least ${r.min_len} bytes`);
  if (r.max_len !== undefined && b.length > Number(r.max_len)) fail('max_len', `value length must be at most ${r.max_len} bytes`);
}

const patterns = new Map<string, RegExp>();

/** PGV patterns are RE2; the ones in Envoy's protos are also valid JavaScript regexes with the `u` flag. */
function compilePattern(p: string): RegExp {
  let re = patterns.get(p);
  if (!re) {
    re = new RegExp(p, 'u');
    patterns.set(p, re);
  }
  return re;
}

function isIp(s: string): boolean {
  // node:net would do, but this module stays free of Node APIs beyond Buffer so the rule set is portable.
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':') && (s.match(/::/g)?.length ?? 0) <= 1;
}

function isHostname(s: string): boolean {
  const h = s.endsWith('.') ? s.slice(0, -1) : s;
  return h.length > 0 && h.length <= 253 && h.split('.').every((l) => l.length <= 63 && HOSTNAME_LABEL.test(l));
}

function isUri(s: string): boolean {
  try {
    return new URL(s).protocol.length > 1;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------ enums

function checkEnum(type: protobuf.Enum, value: unknown, r0: Record<string, unknown> | undefined, path: string, out: Violation[]): void {
  if (!r0) return;
  const r: Record<string, unknown> = { ...r0, in: list(r0.in), not_in: list(r0.not_in) };
  const num = typeof value === 'number' ? value : type.values[String(value)];
  const fail = (rule: string, message: string) => out.push({ path, rule: `enum.${rule}`, message });
  if (r.defined_only && (num === undefined || type.valuesById[num] === undefined)) fail('defined_only', `value ${String(value)} must be one of the defined enum values of ${type.name}`);
  if (r.const !== undefined && num !== Number(r.const)) fail('const', `value must equal ${r.const}`);
  if (Array.isArray(r.in) && !r.in.map(Number).includes(num)) fail('in', `value must be in list [${r.in.join(', ')}]`);
  if (Array.isArray(r.not_in) && r.not_in.map(Number).includes(num)) fail('not_in', `value must not be in list [${r.not_in.map((n) => type.valuesById[Number(n)] ?? n).join(', ')}]`);
}

// ------------------------------------------------------------------------------------------ well-known types

function nanosOf(d: Obj): bigint {
  return BigInt(Math.trunc(Number(d.seconds ?? 0))) * 1_000_000_000n + BigInt(Math.trunc(Number(d.nanos ?? 0)));
}

function ruleNanos(d: unknown): bigint | undefined {
  return d === undefined ? undefined : nanosOf(d as Obj);
}

function showDuration(n: number): string {
  return `${n / 1e9}s`;
}

/** Envoy's own rule beyond PGV (MessageUtil::validateDurationFields): every Duration in a config is 0..max. */
function envoyDurationOk(d: Obj): boolean {
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  return seconds >= 0 && nanos >= 0 && nanos < 1e9 && seconds <= MAX_DURATION_SECONDS;
}

function checkDuration(d: Obj, r: Record<string, unknown> | undefined, path: string, out: Violation[]): void {
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  if (!r) return;
  // PGV's generated code checks the Duration is valid before comparing it.
  const valid = Math.abs(seconds) <= MAX_DURATION_SECONDS && Math.abs(nanos) < 1e9 && !(seconds > 0 && nanos < 0) && !(seconds < 0 && nanos > 0);
  if (!valid) {
    out.push({ path, rule: 'duration.valid', message: `value is not a valid duration (at most ±${MAX_DURATION_SECONDS}s)` });
    return;
  }
  const v = Number(nanosOf(d));
  const fail = (rule: string, message: string) => out.push({ path, rule: `duration.${rule}`, message });
  const n = (x: unknown) => (x === undefined ? undefined : Number(ruleNanos(x)));
  if (r.const !== undefined && v !== n(r.const)) fail('const', `value must equal ${showDuration(n(r.const)!)}`);
  const allowed = list(r.in);
  const refused = list(r.not_in);
  if (allowed && !allowed.map(n).includes(v)) fail('in', 'value must be in the allowed list');
  if (refused && refused.map(n).includes(v)) fail('not_in', 'value must not be in the disallowed list');
  checkRange(v, bound(n(r.gt), n(r.gte)), bound(n(r.lt), n(r.lte)), fail, showDuration);
}

function checkTimestamp(t: Obj, r: Record<string, unknown> | undefined, path: string, out: Violation[]): void {
  if (!r) return;
  const seconds = Number(t.seconds ?? 0);
  const nanos = Number(t.nanos ?? 0);
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS || nanos < 0 || nanos >= 1e9) {
    out.push({ path, rule: 'timestamp.valid', message: 'value is not a valid timestamp' });
    return;
  }
  const v = Number(nanosOf(t));
  const n = (x: unknown) => (x === undefined ? undefined : Number(ruleNanos(x)));
  checkRange(v, bound(n(r.gt), n(r.gte)), bound(n(r.lt), n(r.lte)), (rule, message) => out.push({ path, rule: `timestamp.${rule}`, message }), (x) => new Date(x / 1e6).toISOString());
}

function checkAnyRules(a: Obj, r0: Record<string, unknown>, path: string, out: Violation[]): void {
  const r: Record<string, unknown> = { ...r0, in: list(r0.in), not_in: list(r0.not_in) };
  const url = String(a['@type'] ?? '');
  if (Array.isArray(r.in) && !r.in.includes(url)) out.push({ path, rule: 'any.in', message: `type URL must be in list [${r.in.join(', ')}]` });
  if (Array.isArray(r.not_in) && r.not_in.includes(url)) out.push({ path, rule: 'any.not_in', message: `type URL must not be in list [${r.not_in.join(', ')}]` });
}
