/**
 * go-control-plane's generated ValidateAll (test/go/oracle) as an independent judge of Envoy's
 * protoc-gen-validate rules: every golden config compiles to resources it accepts, and each planted
 * case (test/oracle/planted.ts) is rejected for exactly the one field it breaks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrap } from '../../src/compile/bootstrap.js';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { startOracle, type Oracle, type OracleInput, type OracleResult } from '../support/oracle.js';
import { BOOTSTRAP_TYPE_URL, plantedBases, plantedCases } from './planted.js';

const GOLDEN_IN = fileURLToPath(new URL('../golden/in/', import.meta.url));
const goldenNames = fs
  .readdirSync(GOLDEN_IN)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

/**
 * Golden resources the oracle rejects today, as `<config> <group> <type> <name>` → their exact
 * violations. Each entry is a Banyan compiler bug to fix (then delete the entry); the test asserts
 * the listed violations are exactly what the oracle reports, so a fix or a new violation both show.
 */
const KNOWN_VIOLATIONS: Record<string, { path: string; reason: string }[]> = {};

/**
 * Banyan's own RateLimitConfig resource (protos/ratelimit/...) is not an Envoy message: it has no
 * PGV rules and go-control-plane does not know it.
 */
const NOT_ENVOY = new Set<string>([TypeUrl.RateLimitConfig]);

let oracle: Oracle;

beforeAll(async () => {
  // The first run builds the Go helper and fetches its modules; later runs reuse the cached binary.
  oracle = await startOracle();
}, 600_000);

afterAll(async () => {
  await oracle?.close();
});

function byId(results: OracleResult[]): Map<string, OracleResult> {
  return new Map(results.map((r) => [r.id, r]));
}

describe('oracle', () => {
  it('reports a violation, walks into Anys and decodes JSON input the same way', async () => {
    const listener = {
      name: 'l',
      address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: '',
                rds: { route_config_name: 'l', config_source: { ads: {} } },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
              },
            },
          ],
        },
      ],
    };
    const [fromBytes] = await oracle.validate([{ id: 'bytes', typeUrl: TypeUrl.Listener, bytes: encodeMessage(TypeUrl.Listener, listener) }]);
    const [fromJson] = await oracle.validateJson([{ id: 'json', typeUrl: TypeUrl.Listener, json: listener }]);
    const expected = [
      {
        path: 'filter_chains[0].filters[0].typed_config(HttpConnectionManager).stat_prefix',
        reason: 'value length must be at least 1 runes',
      },
    ];
    expect(fromBytes).toEqual({ id: 'bytes', ok: false, violations: expected, unknownFields: [] });
    expect(fromJson).toEqual({ id: 'json', ok: false, violations: expected, unknownFields: [] });
  });

  it('says so when it cannot decode, instead of passing the resource', async () => {
    const results = await oracle.validate([
      { id: 'unknown-type', typeUrl: 'type.googleapis.com/banyan.NoSuchMessage', bytes: new Uint8Array() },
      { id: 'garbage', typeUrl: TypeUrl.Cluster, bytes: Uint8Array.from([0x0a, 0x05, 0x61]) },
      {
        id: 'unresolvable-any',
        typeUrl: TypeUrl.Cluster,
        bytes: encodeMessage(TypeUrl.Cluster, {
          name: 'c',
          connect_timeout: { seconds: 1 },
          transport_socket: { name: 't', typed_config: { type_url: 'type.googleapis.com/banyan.Nope', value: new Uint8Array() } },
        }),
      },
    ]);
    const r = byId(results);
    expect(r.get('unknown-type')).toMatchObject({ ok: false, error: expect.stringContaining('unknown type') });
    expect(r.get('garbage')).toMatchObject({ ok: false, error: expect.stringContaining('cannot decode') });
    expect(r.get('unresolvable-any')).toMatchObject({ ok: false, error: expect.stringContaining('transport_socket.typed_config: cannot unpack Any') });
  });
});

describe('golden outputs pass ValidateAll', () => {
  it('compiles, encodes and validates every golden config', async () => {
    const inputs: OracleInput[] = [];
    const seenTypes = new Set<string>();
    for (const name of goldenNames) {
      const file = `${name}.yaml`;
      // Secret files are relative to the YAML: the case is loaded as a bare file name, resolved against the working directory.
      const readFile = (p: string) => fs.readFileSync(path.join(GOLDEN_IN, path.relative(process.cwd(), p)), 'utf8');
      const loaded = loadConfigFromString(fs.readFileSync(path.join(GOLDEN_IN, file), 'utf8'), file, { readFile });
      expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), file).toEqual([]);
      const snapshot = compile(loaded.config!);
      for (const [group, set] of snapshot.groups) {
        for (const [typeUrl, resources] of set) {
          if (NOT_ENVOY.has(typeUrl)) continue;
          for (const [resName, resource] of resources) {
            seenTypes.add(typeUrl);
            inputs.push({ id: `${name} ${group} ${typeUrl.split('.').pop()} ${resName}`, typeUrl, bytes: encodeMessage(typeUrl, resource) });
          }
        }
      }
    }
    for (const kind of ['sidecar', 'edge'] as const) {
      const bootstrap = renderBootstrap({ nodeId: `${kind}-1`, group: kind, kind, xdsHost: 'banyan.internal', xdsPort: 18000, adminPort: 9901 });
      inputs.push({ id: `bootstrap ${kind}`, typeUrl: BOOTSTRAP_TYPE_URL, bytes: encodeMessage(BOOTSTRAP_TYPE_URL, bootstrap) });
    }
    expect([...seenTypes].sort()).toEqual([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Secret].sort());
    expect(inputs.length).toBeGreaterThan(100);

    const results = await oracle.validate(inputs);
    const failing = Object.fromEntries(results.filter((r) => !r.ok).map((r) => [r.id, r.error ? [{ path: '(decode)', reason: r.error }] : r.violations]));
    expect(failing).toEqual(KNOWN_VIOLATIONS);
    // go-control-plane's protos know every field Banyan writes (none is silently dropped).
    expect(results.filter((r) => r.unknownFields.length).map((r) => `${r.id}: ${r.unknownFields.join(', ')}`)).toEqual([]);
  });

  it('accepts the reviewed golden JSON files too, read as proto3 JSON', async () => {
    const inputs: { id: string; typeUrl: string; json: unknown }[] = [];
    for (const name of goldenNames) {
      const file = path.join(GOLDEN_IN, '..', 'out', `${name}.json`);
      if (!fs.existsSync(file)) continue; // a new case whose output is not written yet
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { groups: Record<string, Record<string, Record<string, unknown>>> };
      for (const [group, types] of Object.entries(doc.groups)) {
        for (const [typeUrl, resources] of Object.entries(types)) {
          if (NOT_ENVOY.has(typeUrl)) continue;
          for (const [resName, json] of Object.entries(resources)) inputs.push({ id: `${name} ${group} ${typeUrl.split('.').pop()} ${resName}`, typeUrl, json });
        }
      }
    }
    expect(inputs.length).toBeGreaterThan(100);
    const results = await oracle.validateJson(inputs);
    const failing = Object.fromEntries(results.filter((r) => !r.ok).map((r) => [r.id, r.error ? [{ path: '(decode)', reason: r.error }] : r.violations]));
    // Same ids as the compiled resources above, so the same known violations (and only those).
    expect(failing).toEqual(KNOWN_VIOLATIONS);
  });
});

describe('planted violations', () => {
  const cases = plantedCases();

  it('has a corpus of at least 40 cases over many rule kinds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    const kinds = new Set(cases.map((c) => c.rule.replace(/ \(.*\)$/, '')));
    expect(kinds.size).toBeGreaterThanOrEqual(30);
  });

  it('leaves every base resource valid', async () => {
    const bases = plantedBases();
    const results = await oracle.validate(bases.map((b) => ({ id: `${b.typeUrl} ${b.name}`, typeUrl: b.typeUrl, bytes: encodeMessage(b.typeUrl, b.resource) })));
    expect(results.filter((r) => !r.ok || r.unknownFields.length)).toEqual([]);
  });

  it('reports exactly the planted violation for every case', async () => {
    const results = await oracle.validate(cases.map((c) => ({ id: c.name, typeUrl: c.typeUrl, bytes: encodeMessage(c.typeUrl, c.resource) })));
    const got = results.map((r) => ({
      name: r.id,
      error: r.error ?? null,
      unknownFields: r.unknownFields,
      paths: r.violations.map((v) => v.path),
      reasonsNonEmpty: r.violations.every((v) => v.reason.trim().length > 0),
    }));
    const want = cases.map((c) => ({ name: c.name, error: null, unknownFields: [], paths: [c.expectPath], reasonsNonEmpty: true }));
    expect(got).toEqual(want);
  });
});
