import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { encodeAny, encodeMessage, messageType, TypeUrl } from '../../src/proto/envoy.js';
import { canonicalJson, canonicalJsonOf, ProtoJsonError } from '../../src/proto/json.js';
import { buildProtojson, goProtojson, type OracleAnswer, type OracleRequest } from './protojson-oracle.js';

/**
 * canonicalJson against the real thing: Go's protojson (UseProtoNames), fed the same bytes. Outputs are
 * compared as JSON text, so key order (protojson's declaration order) must match too, not just content.
 */

const GOLDEN_IN = path.join(import.meta.dirname, '../golden/in');
const url = (name: string) => `type.googleapis.com/${name}`;
const bytesOf = (name: string, value: object) => encodeMessage(name, value);

/** Banyan's own resource type has no Go type to compare with; its JSON is checked by the golden files. */
const NO_GO_TYPE = new Set<string>([TypeUrl.RateLimitConfig]);

interface GoldenResource extends OracleRequest {
  what: string;
}

function goldenResources(): GoldenResource[] {
  const out: GoldenResource[] = [];
  for (const file of fs.readdirSync(GOLDEN_IN).filter((f) => f.endsWith('.yaml')).sort()) {
    const loaded = loadConfigFromString(fs.readFileSync(path.join(GOLDEN_IN, file), 'utf8'), `in/${file}`);
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), `${file} loads`).toEqual([]);
    const snapshot = compile(loaded.config!);
    for (const [group, set] of snapshot.groups) {
      for (const [typeUrl, resources] of set) {
        if (NO_GO_TYPE.has(typeUrl)) continue;
        for (const [name, r] of resources) out.push({ what: `${file} ${group} ${typeUrl} ${name}`, typeUrl, bytes: encodeMessage(typeUrl, r) });
      }
    }
  }
  return out;
}

/** An Any whose value is itself an Any: object form cannot say that, so it is put together from bytes. */
function anyOfAny(): Uint8Array {
  const inner = messageType('google.protobuf.Any').encode(encodeAny(url('envoy.extensions.filters.http.router.v3.Router'), { suppress_envoy_headers: true })).finish();
  return messageType('google.protobuf.Any').encode({ type_url: url('google.protobuf.Any'), value: inner }).finish();
}

/** No Envoy proto Banyan loads imports field_mask.proto, so its bytes are written by hand (paths = 1). */
function fieldMask(...paths: string[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const p of paths) w.uint32((1 << 3) | 2).string(p);
  return w.finish();
}

interface Case {
  name: string;
  typeUrl: string;
  bytes: Uint8Array;
  /** What protojson prints; compared with key order. */
  expected?: unknown;
  /** Or: both sides refuse it. */
  error?: RegExp;
}

const D = 'google.protobuf.Duration';
const T = 'google.protobuf.Timestamp';
const CLUSTER = 'envoy.config.cluster.v3.Cluster';

const CASES: Case[] = [
  { name: 'Duration: whole seconds', typeUrl: D, bytes: bytesOf(D, { seconds: 5 }), expected: '5s' },
  { name: 'Duration: zero', typeUrl: D, bytes: bytesOf(D, {}), expected: '0s' },
  { name: 'Duration: millis as 3 digits', typeUrl: D, bytes: bytesOf(D, { seconds: 1, nanos: 500_000_000 }), expected: '1.500s' },
  { name: 'Duration: micros as 6 digits', typeUrl: D, bytes: bytesOf(D, { nanos: 1_000 }), expected: '0.000001s' },
  { name: 'Duration: nanos as 9 digits', typeUrl: D, bytes: bytesOf(D, { seconds: 2, nanos: 1 }), expected: '2.000000001s' },
  { name: 'Duration: negative', typeUrl: D, bytes: bytesOf(D, { seconds: -1, nanos: -500_000_000 }), expected: '-1.500s' },
  { name: 'Duration: negative under a second', typeUrl: D, bytes: bytesOf(D, { nanos: -5 }), expected: '-0.000000005s' },
  { name: 'Duration: largest', typeUrl: D, bytes: bytesOf(D, { seconds: '315576000000', nanos: 999_999_999 }), expected: '315576000000.999999999s' },
  { name: 'Duration: out of range', typeUrl: D, bytes: bytesOf(D, { seconds: '315576000001' }), error: /out of range/ },
  { name: 'Duration: mixed signs', typeUrl: D, bytes: bytesOf(D, { seconds: 1, nanos: -1 }), error: /sign/ },
  { name: 'Timestamp: millis', typeUrl: T, bytes: bytesOf(T, { seconds: 1_700_000_000, nanos: 123_000_000 }), expected: '2023-11-14T22:13:20.123Z' },
  { name: 'Timestamp: epoch', typeUrl: T, bytes: bytesOf(T, {}), expected: '1970-01-01T00:00:00Z' },
  { name: 'Timestamp: year 1, nanos', typeUrl: T, bytes: bytesOf(T, { seconds: '-62135596800', nanos: 1 }), expected: '0001-01-01T00:00:00.000000001Z' },
  { name: 'Timestamp: year 10000', typeUrl: T, bytes: bytesOf(T, { seconds: '253402300800' }), error: /out of range/ },
  { name: 'Int64Value: beyond 2^53, as a string', typeUrl: 'google.protobuf.Int64Value', bytes: bytesOf('google.protobuf.Int64Value', { value: '-9223372036854775808' }), expected: '-9223372036854775808' },
  { name: 'UInt64Value: max, as a string', typeUrl: 'google.protobuf.UInt64Value', bytes: bytesOf('google.protobuf.UInt64Value', { value: '18446744073709551615' }), expected: '18446744073709551615' },
  { name: 'UInt32Value: max, as a number', typeUrl: 'google.protobuf.UInt32Value', bytes: bytesOf('google.protobuf.UInt32Value', { value: 4294967295 }), expected: 4294967295 },
  { name: 'Int32Value: negative', typeUrl: 'google.protobuf.Int32Value', bytes: bytesOf('google.protobuf.Int32Value', { value: -5 }), expected: -5 },
  { name: 'BoolValue: false is still there', typeUrl: 'google.protobuf.BoolValue', bytes: bytesOf('google.protobuf.BoolValue', { value: false }), expected: false },
  { name: 'StringValue: empty', typeUrl: 'google.protobuf.StringValue', bytes: bytesOf('google.protobuf.StringValue', {}), expected: '' },
  { name: 'BytesValue: base64', typeUrl: 'google.protobuf.BytesValue', bytes: bytesOf('google.protobuf.BytesValue', { value: Buffer.from([0, 255, 104, 105]) }), expected: 'AP9oaQ==' },
  { name: 'FloatValue: shortest float32 digits', typeUrl: 'google.protobuf.FloatValue', bytes: bytesOf('google.protobuf.FloatValue', { value: 0.1 }), expected: 0.1 },
  { name: 'FloatValue: max float32', typeUrl: 'google.protobuf.FloatValue', bytes: bytesOf('google.protobuf.FloatValue', { value: 3.4028234663852886e38 }), expected: 3.4028235e38 },
  { name: 'DoubleValue: NaN as a string', typeUrl: 'google.protobuf.DoubleValue', bytes: bytesOf('google.protobuf.DoubleValue', { value: NaN }), expected: 'NaN' },
  { name: 'DoubleValue: -Infinity as a string', typeUrl: 'google.protobuf.DoubleValue', bytes: bytesOf('google.protobuf.DoubleValue', { value: -Infinity }), expected: '-Infinity' },
  { name: 'DoubleValue: negative zero', typeUrl: 'google.protobuf.DoubleValue', bytes: bytesOf('google.protobuf.DoubleValue', { value: -0 }), expected: -0 },
  {
    name: 'Struct: nested lists, nulls, empties; keys sorted',
    typeUrl: 'google.protobuf.Struct',
    bytes: bytesOf('google.protobuf.Struct', {
      fields: {
        zeta: { listValue: { values: [{ numberValue: 1.5 }, { nullValue: 'NULL_VALUE' }, { structValue: { fields: {} } }, { listValue: { values: [] } }, { listValue: { values: [{ boolValue: true }] } }] } },
        alpha: { nullValue: 'NULL_VALUE' },
        mid: { structValue: { fields: { s: { stringValue: '' }, b: { boolValue: false }, n: { numberValue: 0 } } } },
      },
    }),
    expected: { alpha: null, mid: { b: false, n: 0, s: '' }, zeta: [1.5, null, {}, [], [true]] },
  },
  { name: 'Struct: empty', typeUrl: 'google.protobuf.Struct', bytes: bytesOf('google.protobuf.Struct', {}), expected: {} },
  { name: 'Value: no kind set', typeUrl: 'google.protobuf.Value', bytes: bytesOf('google.protobuf.Value', {}), error: /none of the oneof fields is set/ },
  { name: 'Value: NaN', typeUrl: 'google.protobuf.Value', bytes: bytesOf('google.protobuf.Value', { numberValue: NaN }), error: /NaN/ },
  { name: 'ListValue: top level', typeUrl: 'google.protobuf.ListValue', bytes: bytesOf('google.protobuf.ListValue', { values: [{ stringValue: 'a' }, { nullValue: 0 }] }), expected: ['a', null] },
  { name: 'FieldMask: lowerCamelCase, comma-joined', typeUrl: 'google.protobuf.FieldMask', bytes: fieldMask('foo_bar', 'baz.qux_quux'), expected: 'fooBar,baz.quxQuux' },
  { name: 'FieldMask: irreversible path', typeUrl: 'google.protobuf.FieldMask', bytes: fieldMask('foo_1'), error: /irreversible/ },
  { name: 'FieldMask: inside an Any', typeUrl: 'google.protobuf.Any', bytes: messageType('google.protobuf.Any').encode({ type_url: url('google.protobuf.FieldMask'), value: fieldMask('a_b') }).finish(), expected: { '@type': url('google.protobuf.FieldMask'), value: 'aB' } },
  { name: 'Empty', typeUrl: 'google.protobuf.Empty', bytes: bytesOf('google.protobuf.Empty', {}), expected: {} },
  { name: 'Any: empty', typeUrl: 'google.protobuf.Any', bytes: new Uint8Array(), expected: {} },
  {
    name: 'Any: fields spread after @type',
    typeUrl: 'google.protobuf.Any',
    bytes: bytesOf('google.protobuf.Any', { '@type': url('envoy.extensions.filters.http.router.v3.Router'), suppress_envoy_headers: true }),
    expected: { '@type': url('envoy.extensions.filters.http.router.v3.Router'), suppress_envoy_headers: true },
  },
  {
    name: 'Any inside Any: the inner one under "value"',
    typeUrl: 'google.protobuf.Any',
    bytes: anyOfAny(),
    expected: { '@type': url('google.protobuf.Any'), value: { '@type': url('envoy.extensions.filters.http.router.v3.Router'), suppress_envoy_headers: true } },
  },
  {
    name: 'Any of a Duration inside a message: under "value"',
    typeUrl: 'envoy.config.core.v3.TypedExtensionConfig',
    bytes: bytesOf('envoy.config.core.v3.TypedExtensionConfig', { name: 'd', typed_config: { '@type': url(D), seconds: 3 } }),
    expected: { name: 'd', typed_config: { '@type': url(D), value: '3s' } },
  },
  {
    name: 'Any of a Struct under "value"',
    typeUrl: 'google.protobuf.Any',
    bytes: bytesOf('google.protobuf.Any', { '@type': url('google.protobuf.Struct'), fields: { k: { stringValue: 'v' } } }),
    expected: { '@type': url('google.protobuf.Struct'), value: { k: 'v' } },
  },
  { name: 'Any of an Empty: no "value" (Empty has no JSON form of its own)', typeUrl: 'google.protobuf.Any', bytes: bytesOf('google.protobuf.Any', { '@type': url('google.protobuf.Empty') }), expected: { '@type': url('google.protobuf.Empty') } },
  { name: 'Any of an unknown type', typeUrl: 'google.protobuf.Any', bytes: messageType('google.protobuf.Any').encode({ type_url: url('no.such.Type'), value: new Uint8Array([8, 1]) }).finish(), error: /no\.such\.Type/ },
  { name: 'Any: value without a type_url', typeUrl: 'google.protobuf.Any', bytes: messageType('google.protobuf.Any').encode({ value: new Uint8Array([8, 1]) }).finish(), error: /type_url/ },
  {
    name: 'enums: by name; a default enum omitted; a default inside a oneof kept',
    typeUrl: CLUSTER,
    bytes: bytesOf(CLUSTER, { name: 'c', type: 'STATIC', lb_policy: 'ROUND_ROBIN', dns_lookup_family: 'V4_ONLY' }),
    expected: { name: 'c', type: 'STATIC', dns_lookup_family: 'V4_ONLY' },
  },
  { name: 'enums: an unknown number stays a number', typeUrl: CLUSTER, bytes: bytesOf(CLUSTER, { lb_policy: 42 }), expected: { lb_policy: 42 } },
  {
    name: 'implicit defaults omitted; set wrappers and empty messages kept',
    typeUrl: CLUSTER,
    bytes: bytesOf(CLUSTER, { name: '', respect_dns_ttl: false, per_connection_buffer_limit_bytes: { value: 0 }, round_robin_lb_config: {}, health_checks: [] }),
    expected: { per_connection_buffer_limit_bytes: 0, round_robin_lb_config: {} },
  },
  {
    name: 'key order is declaration order, not field number (transport_socket_matches = 43 comes first)',
    typeUrl: CLUSTER,
    bytes: bytesOf(CLUSTER, { name: 'c', transport_socket_matches: [{ name: 'm' }] }),
    expected: { transport_socket_matches: [{ name: 'm' }], name: 'c' },
  },
  {
    name: 'maps: string keys in byte order',
    typeUrl: 'envoy.config.core.v3.Metadata',
    bytes: bytesOf('envoy.config.core.v3.Metadata', { filter_metadata: { 'z.filter': { fields: {} }, 'a.filter': { fields: { k: { numberValue: 2 } } } } }),
    expected: { filter_metadata: { 'a.filter': { k: 2 }, 'z.filter': {} } },
  },
  { name: 'int64 fields as strings, zero omitted', typeUrl: 'envoy.type.v3.Int64Range', bytes: bytesOf('envoy.type.v3.Int64Range', { start: 0, end: '9223372036854775807' }), expected: { end: '9223372036854775807' } },
  { name: 'bytes fields in base64', typeUrl: 'envoy.config.core.v3.DataSource', bytes: bytesOf('envoy.config.core.v3.DataSource', { inline_bytes: Buffer.from('hi\u00ff') }), expected: { inline_bytes: 'aGnDvw==' } },
  { name: 'repeated scalars', typeUrl: 'envoy.config.route.v3.RetryPolicy', bytes: bytesOf('envoy.config.route.v3.RetryPolicy', { retriable_status_codes: [503, 504] }), expected: { retriable_status_codes: [503, 504] } },
  { name: 'bytes that are not a message', typeUrl: CLUSTER, bytes: new Uint8Array([0xff]), error: /./ },
];

let binary: string;
beforeAll(async () => {
  binary = await buildProtojson();
}, 600_000);

function ours(typeUrl: string, bytes: Uint8Array): { json: unknown } | { error: string } {
  try {
    return { json: canonicalJson(typeUrl, bytes) };
  } catch (err) {
    if (!(err instanceof ProtoJsonError)) throw err;
    return { error: err.message };
  }
}

/** Equal content and equal text: JSON.stringify keeps key order, so this checks order too. */
function expectSame(mine: OracleAnswer, go: OracleAnswer, what: string): void {
  expect(mine, what).toEqual(go);
  if ('json' in mine && 'json' in go) expect(JSON.stringify(mine.json), `${what}: key order`).toBe(JSON.stringify(go.json));
}

describe('canonicalJson against Go protojson', () => {
  it('agrees on every resource of every golden input', async () => {
    const resources = goldenResources();
    expect(resources.length).toBeGreaterThan(100);
    const answers = await goProtojson(binary, resources);
    resources.forEach((r, i) => {
      const go = answers[i];
      expect('json' in go ? 'json' : go.error, `${r.what}: Go printed it`).toBe('json');
      expectSame(ours(r.typeUrl, r.bytes), go, r.what);
    });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [go] = await goProtojson(binary, [{ typeUrl: c.typeUrl.includes('/') ? c.typeUrl : url(c.typeUrl), bytes: c.bytes }]);
    const mine = ours(c.typeUrl, c.bytes);
    if (c.error) {
      expect('error' in go ? 'error' : go.json, 'Go refuses it').toBe('error');
      expect('error' in mine ? mine.error : mine.json, 'we refuse it').toMatch(c.error);
    } else {
      expect('json' in mine ? mine.json : mine.error).toEqual(c.expected);
      expect(JSON.stringify('json' in mine && mine.json)).toBe(JSON.stringify(c.expected));
      expectSame(mine, go, c.name);
    }
  });
});

describe('canonicalJsonOf', () => {
  it('is canonicalJson of the encoded resource: what the encoder drops never shows', () => {
    const cluster = { name: 'c', connect_timeout: { seconds: 0, nanos: 250_000_000 }, respect_dns_ttl: false };
    expect(canonicalJsonOf(CLUSTER, cluster)).toEqual({ name: 'c', connect_timeout: '0.250s' });
    expect(canonicalJsonOf(TypeUrl.Cluster, cluster)).toEqual(canonicalJson(CLUSTER, encodeMessage(CLUSTER, cluster)));
  });

  it("covers Banyan's own RateLimitConfig, which Go has no type for", () => {
    const json = canonicalJsonOf(TypeUrl.RateLimitConfig, { name: 'edge', domain: 'edge', descriptors: [{ key: 'remote_address', rate_limit: { unit: 'SECOND', requests_per_unit: 50 } }] });
    expect(json).toEqual({ name: 'edge', domain: 'edge', descriptors: [{ key: 'remote_address', rate_limit: { unit: 'SECOND', requests_per_unit: 50 } }] });
  });
});
