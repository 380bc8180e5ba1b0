import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXT_AUTHZ_FILTER } from '../../src/compile/authz.js';
import { CORS_FILTER } from '../../src/compile/cors.js';
import { HTTP_FILTER_TABLE, orderHttpFilters } from '../../src/compile/filters.js';
import { compile } from '../../src/compile/index.js';
import type { CompiledSnapshot, EnvoyResource } from '../../src/compile/types.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfig, loadConfigFromString } from '../../src/config/load.js';
import { encodeMessage, messageType, TypeUrl } from '../../src/proto/envoy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TABLE = HTTP_FILTER_TABLE.map((e) => e.name);

/** [listener name, its HCM's filter names] for every socket listener of every group. */
function chains(snapshot: CompiledSnapshot): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const set of snapshot.groups.values()) {
    for (const l of set.get(TypeUrl.Listener)!.values()) {
      const chain = l.filter_chains as { filters: { typed_config: { http_filters: EnvoyResource[] } }[] }[] | undefined;
      const api = (l.api_listener as { api_listener: { http_filters: EnvoyResource[] } } | undefined)?.api_listener;
      const filters = chain ? chain[0].filters[0].typed_config.http_filters : api!.http_filters;
      out.push([l.name!, filters.map((f) => String(f.name))]);
    }
  }
  return out;
}

function compiled(yaml: string, file = 'test.yaml'): CompiledSnapshot {
  const loaded = loadConfigFromString(yaml, file);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  return compile(loaded.config!);
}

describe('HTTP filter order (HTTP_FILTER_TABLE)', () => {
  it('the table states the orderings Banyan promises, each with its reason', () => {
    const at = (name: string) => TABLE.indexOf(name as (typeof TABLE)[number]);
    expect(at('envoy.filters.http.cors')).toBeLessThan(at('envoy.filters.http.ext_authz'));
    expect(at('envoy.filters.http.fault')).toBeLessThan(at('envoy.filters.http.ext_authz'));
    expect(at('envoy.filters.http.local_ratelimit')).toBeLessThan(at('envoy.filters.http.ext_authz'));
    expect(at('envoy.filters.http.ext_authz')).toBeLessThan(at('envoy.filters.http.ratelimit'));
    expect(TABLE.at(-1)).toBe('envoy.filters.http.router');
    for (const e of HTTP_FILTER_TABLE) expect(e.why.length).toBeGreaterThan(40);
  });

  it('a listener with cors, authz, ratelimit and a local limit gets them in table order', () => {
    const file = path.join(root, 'test/golden/in/filter-order.yaml');
    const snapshot = compiled(fs.readFileSync(file, 'utf8'), file);
    expect(chains(snapshot)).toEqual([
      [
        'edge',
        ['envoy.filters.http.cors', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.ext_authz', 'envoy.filters.http.ratelimit', 'envoy.filters.http.router'],
      ],
    ]);
  });

  it('route-level CORS alone, with implicit authz (a route with auth:), still puts CORS first', () => {
    const snapshot = compiled(`
listeners:
  - name: edge
    port: 10000
    routes:
      - { name: api, match: { prefix: /api }, to: app, auth: { provider: idp }, cors: { allowOrigins: ["*"] } }
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }]
auth:
  providers: [{ name: idp, issuer: https://idp.example.com, audiences: [app], jwks: { uri: https://idp.example.com/jwks } }]
`);
    expect(chains(snapshot)[0][1]).toEqual([CORS_FILTER, EXT_AUTHZ_FILTER, 'envoy.filters.http.router']);
  });

  it('in every golden input and example, every chain is in table order and CORS precedes ext_authz', async () => {
    const inputs = [
      ...fs.readdirSync(path.join(root, 'test/golden/in')).filter((f) => f.endsWith('.yaml')).map((f) => path.join(root, 'test/golden/in', f)),
      path.join(root, 'examples/banyan.yaml'),
    ];
    let both = 0;
    for (const file of inputs) {
      const loaded = await loadConfig(file);
      expect(loaded.config, `${file}: ${loaded.diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
      for (const [name, filters] of chains(compile(loaded.config!))) {
        const where = `${path.relative(root, file)} listener ${name}`;
        const positions = filters.map((f) => TABLE.indexOf(f as (typeof TABLE)[number]));
        expect(positions.every((p) => p >= 0), where).toBe(true);
        expect([...positions].sort((a, b) => a - b), where).toEqual(positions);
        expect(filters.at(-1), where).toBe('envoy.filters.http.router');
        if (filters.includes(CORS_FILTER) && filters.includes(EXT_AUTHZ_FILTER)) {
          both++;
          expect(filters.indexOf(CORS_FILTER), where).toBeLessThan(filters.indexOf(EXT_AUTHZ_FILTER));
        }
      }
    }
    expect(both).toBeGreaterThan(0);
  });

  it('refuses a filter without a slot, and a slot filled twice', () => {
    expect(() => orderHttpFilters([{ name: 'envoy.filters.http.lua' }])).toThrow(/no slot/);
    expect(() => orderHttpFilters([{ name: CORS_FILTER }, { name: CORS_FILTER }])).toThrow(/twice/);
  });

  it('the protos each feature declares define the filter configs it emits', () => {
    const snapshot = compiled(fs.readFileSync(path.join(root, 'test/golden/in/filter-order.yaml'), 'utf8'));
    const l = snapshot.groups.get('default')!.get(TypeUrl.Listener)!.get('edge')!;
    const hcm = (l.filter_chains as { filters: { typed_config: { http_filters: { typed_config: { '@type': string } }[] } }[] }[])[0].filters[0].typed_config;
    for (const f of hcm.http_filters) expect(messageType(f.typed_config['@type']).fullName).toBe(`.${f.typed_config['@type'].split('/')[1]}`);
    expect(encodeMessage(TypeUrl.Listener, l).length).toBeGreaterThan(0);
  });
});
