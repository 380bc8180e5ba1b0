import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadConfigFromFiles, loadConfigFromString } from '../../src/config/load.js';
import type { Config, ForwardAction, Route } from '../../src/config/model.js';
import { exportJsonSchema } from '../../src/config/schema.js';

const fixtures = join(import.meta.dirname, '../fixtures');

function routeNamed(config: Config, name: string): Route {
  const r = config.listeners.flatMap((l) => l.hosts.flatMap((h) => h.routes)).find((x) => x.name === name);
  if (!r) throw new Error(`no route ${name}`);
  return r;
}

describe('loading the full valid fixture', () => {
  let config: Config;
  const file = join(fixtures, 'valid/full.yaml');

  beforeAll(async () => {
    const result = await loadConfig(file);
    // Only the note on how far listener edge's authz reaches (see test/config/cross-checks.test.ts).
    expect(result.diagnostics.map((d) => `${d.severity} ${d.line}:${d.col}`)).toEqual(['info 3:5']);
    expect(result.files).toEqual([file]);
    config = result.config!;
  });

  it('builds listeners with defaults and the api listener without a socket', () => {
    const [edge, orders] = config.listeners;
    expect(edge).toMatchObject({
      name: 'edge',
      kind: 'socket',
      address: '0.0.0.0',
      port: 10000,
      accessLog: true,
      authz: { failureMode: 'allow', timeoutMs: 300 },
      ratelimit: { domain: 'edge', failureMode: 'deny', timeoutMs: 100, headers: true },
      pos: { file, line: 3, col: 5 },
    });
    expect(orders).toMatchObject({ name: 'orders', kind: 'api', port: 0, accessLog: false });
    expect(orders.hosts).toHaveLength(1);
    expect(orders.hosts[0]).toMatchObject({ name: '*', domains: ['*'] });
    expect(orders.hosts[0].routes[0].match).toMatchObject({ prefix: '/orders.Orders/', grpc: true });
  });

  it('derives virtual host names from the first domain and route names from their position', () => {
    const legacy = config.listeners[0].hosts[1];
    expect(legacy.name).toBe('legacy.example.com');
    expect(legacy.routes[0].name).toBe('legacy.example.com/0');
    expect(config.listeners[0].hosts[0].cors).toEqual({
      allowOrigins: ['https://app.example.com', '~https://.*\\.example\\.com'],
      allowMethods: ['GET', 'POST'],
      allowHeaders: [],
      exposeHeaders: [],
      maxAgeSeconds: 600,
      allowCredentials: true,
    });
  });

  it('maps matches, header matchers without a matcher meaning "present"', () => {
    expect(routeNamed(config, 'orders-canary').match).toEqual({
      prefix: '/orders/',
      caseSensitive: true,
      headers: [
        { name: 'x-canary', exact: '1', invert: false },
        { name: 'x-debug', present: true, invert: false },
      ],
      query: [{ name: 'v', prefix: '2' }],
      grpc: false,
    });
    expect(routeNamed(config, 'orders').match.caseSensitive).toBe(false);
  });

  it('builds forward actions with weights, durations in ms, retry, mirrors and rewrites', () => {
    const action = routeNamed(config, 'orders').action as ForwardAction;
    expect(action.kind).toBe('forward');
    expect(action.backends.map(({ cluster, weight }) => ({ cluster, weight }))).toEqual([
      { cluster: 'orders-v1', weight: 95 },
      { cluster: 'orders-v2', weight: 5 },
    ]);
    expect(action.backends[1].pos).toEqual({ file, line: 28, col: 28 });
    expect(action.timeoutMs).toBe(1500);
    expect(action.idleTimeoutMs).toBe(60_000);
    expect(action.prefixRewrite).toBe('/v1/orders/');
    // retriable-status-codes is added because status codes only apply with it.
    expect(action.retry).toEqual({
      attempts: 2,
      on: ['connect-failure', 'retriable-status-codes'],
      perTryTimeoutMs: 500,
      retriableStatusCodes: [503],
      backoff: { baseMs: 25, maxMs: 250 },
    });
    expect(action.mirrors.map(({ cluster, percent }) => ({ cluster, percent }))).toEqual([
      { cluster: 'orders-v3', percent: 2.5 },
      { cluster: 'orders-v2', percent: 100 },
    ]);
    expect(routeNamed(config, 'orders-canary').action).toMatchObject({ kind: 'forward', backends: [{ cluster: 'orders-v2', weight: 1 }], mirrors: [] });
  });

  it('builds header mutations from both the map and the list form', () => {
    const r = routeNamed(config, 'orders');
    expect(r.requestHeaders).toEqual({ add: [{ name: 'x-version', value: '2', append: false }], remove: ['x-internal'] });
    expect(r.responseHeaders).toEqual({ add: [{ name: 'x-served-by', value: 'banyan', append: true }], remove: [] });
  });

  it('expands rate limit descriptor sugar into the action union', () => {
    const rl = routeNamed(config, 'orders').ratelimit;
    expect(rl.map((d) => d.actions)).toEqual([
      [{ type: 'remote_address' }],
      [{ type: 'request_headers', header: 'x-client-id', key: 'client', skipIfAbsent: true }],
      [{ type: 'generic_key', value: 'checkout' }, { type: 'destination_cluster' }],
      [
        { type: 'query_parameters', param: 'tenant', key: 'tenant', skipIfAbsent: false },
        { type: 'masked_remote_address', v4PrefixLen: 24, v6PrefixLen: 128 },
      ],
      [{ type: 'header_value_match', value: 'admin', expectMatch: true, headers: [{ name: 'x-role', exact: 'admin', invert: false }] }],
    ]);
    expect(rl.map((d) => d.stage)).toEqual([0, 0, 0, 1, 0]);
    expect(routeNamed(config, 'orders').localRateLimit).toEqual({ maxTokens: 100, tokensPerFill: 10, fillIntervalMs: 500, statusCode: 503 });
  });

  it('builds auth requirements', () => {
    expect(routeNamed(config, 'orders').auth).toEqual({
      kind: 'jwt',
      providers: ['corp', 'partners'],
      mode: 'any',
      scopes: ['orders:read'],
      claims: [
        { claim: 'tier', op: 'in', values: ['gold', 'silver'] },
        { claim: 'tenant', op: 'eqHeader', header: 'x-tenant' },
        { claim: 'email_verified', op: 'eq', value: 'true' },
      ],
      allowMissing: true,
    });
    expect(routeNamed(config, 'health').auth).toEqual({ kind: 'none' });
    expect(routeNamed(config, 'legacy.example.com/0').auth).toMatchObject({ kind: 'jwt', mode: 'all', providers: ['corp', 'partners'] });
    expect(routeNamed(config, 'orders-canary').auth).toBeUndefined();
  });

  it('builds redirects and direct responses', () => {
    expect(routeNamed(config, 'old-home').action).toEqual({ kind: 'redirect', scheme: 'https', path: '/', status: 308, stripQuery: false });
    expect(routeNamed(config, 'health').action).toEqual({ kind: 'direct', status: 200, body: 'ok' });
  });

  it('builds clusters: endpoint forms, derived discovery, defaults', () => {
    const [v1, v2, v3] = config.clusters;
    expect(v1.endpoints).toEqual([
      { host: '10.0.1.10', port: 8080 },
      { host: '10.0.1.11', port: 8080, weight: 2, zone: 'us-east-1a' },
      { host: '2001:db8::1', port: 8080 },
    ]);
    expect(v1).toMatchObject({
      discovery: 'eds',
      protocol: 'http2',
      lbPolicy: 'least_request',
      connectTimeoutMs: 250,
      circuitBreaker: { maxConnections: 100, maxRetries: 3 },
      outlierDetection: { consecutive5xx: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 },
      healthCheck: { httpPath: '/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3, expectedStatuses: [200, 204] },
    });
    expect(v2).toMatchObject({ discovery: 'strict_dns', protocol: 'http1', lbPolicy: 'round_robin', connectTimeoutMs: 5000 });
    expect(v2.tls).toEqual({ sni: 'orders.internal', caFile: '/etc/ssl/ca.pem', insecureSkipVerify: false, alpn: ['h2'] });
    expect(v3.healthCheck).toBeUndefined();
  });

  it('builds groups, services and providers', () => {
    expect(config.groups.map(({ pos: _pos, ...g }) => g)).toEqual([
      { name: 'edge-proxies', match: { cluster: ['edge'], id: [], metadata: { role: 'edge' } }, listeners: ['edge'] },
      { name: 'grpc-clients', match: { cluster: [], id: ['orders-client-*', 'grpc-*'], metadata: {} }, listeners: ['orders'] },
    ]);
    expect(config.services).toEqual({ ratelimit: { address: '10.0.0.5', port: 8081 }, authz: { address: '::1', port: 9191 } });
    const [corp, partners] = config.auth.providers;
    expect(corp).toMatchObject({
      jwks: { kind: 'oidc', cacheMs: 300_000, cooldownMs: 10_000 },
      algorithms: ['ES256'],
      clockSkewMs: 30_000,
      requireExp: false,
      maxLifetimeMs: 3_600_000,
      from: [
        { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
        { kind: 'cookie', name: 'session' },
        { kind: 'query', name: 'access_token' },
        { kind: 'header', name: 'x-token', prefix: '' },
      ],
      claimsToHeaders: [
        { claim: 'sub', header: 'x-user-id' },
        { claim: 'tenant', header: 'x-tenant-id' },
      ],
      payloadHeader: 'x-jwt-payload',
      removeAuthorization: true,
    });
    expect(partners).toMatchObject({
      jwks: { kind: 'file', path: '/etc/banyan/partners-jwks.json' },
      audiences: [],
      algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'],
      clockSkewMs: 60_000,
      requireExp: true,
      from: [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }],
      removeAuthorization: false,
    });
  });
});

describe('defaults', () => {
  it('fills services and empty sections for a minimal config', () => {
    const { config, diagnostics } = loadConfigFromString('clusters: [{ name: a, endpoints: [10.0.0.1:80] }]\n', 'min.yaml');
    expect(diagnostics).toEqual([]);
    expect(config).toMatchObject({
      listeners: [],
      groups: [],
      auth: { providers: [] },
      services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } },
    });
  });

  it.each([
    ['empty', ''],
    ['whitespace-only', '  \n\t\n'],
    ['comment-only', '# nothing yet\n'],
    ['null', 'null\n'],
    ['only empty documents', '---\n---\n~\n'],
  ])('refuses an %s file at file:1:1 (a truncated file must not remove everything)', (_kind, text) => {
    const r = loadConfigFromString(text, 'empty.yaml');
    expect(r.config).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ severity: 'error', file: 'empty.yaml', line: 1, col: 1, message: expect.stringContaining('file is empty') })]);
  });

  it('accepts `{}` as a file that is empty on purpose', () => {
    expect(loadConfigFromString('{}\n', 'empty.yaml').config?.listeners).toEqual([]);
  });
});

describe('several files', () => {
  it('loads a directory: sorted *.yaml/*.yml, multi-document files, references across files', async () => {
    const dir = join(fixtures, 'valid/split');
    const result = await loadConfig(dir);
    expect(result.diagnostics).toEqual([]);
    expect(result.files.map((f) => f.slice(dir.length + 1))).toEqual(['00-listeners.yaml', '10-clusters.yml', '20-auth.yaml']);
    expect(result.config!.listeners.map((l) => l.name)).toEqual(['edge', 'admin']);
    expect(result.config!.clusters.map((c) => c.name)).toEqual(['monolith', 'auth-v2']);
    expect(result.config!.clusters[1].pos).toEqual({ file: join(dir, '10-clusters.yml'), line: 7, col: 5 });
  });

  it('points each error into the file it is in, and finds duplicates across files', () => {
    const { config, diagnostics } = loadConfigFromFiles([
      { file: 'a.yaml', text: 'clusters:\n  - name: app\n    endpoints: [10.0.0.1:80]\nservices: { authz: 10.0.0.9:9191 }\n' },
      { file: 'b.yaml', text: 'clusters:\n  - name: app\n    endpoints: [10.0.0.2:80]\nservices:\n  authz: 10.0.0.8:9191\n' },
      { file: 'c.yaml', text: 'listeners:\n  - name: l\n    port: 1\n    routes: [{ match: { prefix: / }, to: nope }]\n' },
    ]);
    expect(config).toBeUndefined();
    const shown = diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.message}`);
    expect(shown).toContain('b.yaml:2:5 duplicate cluster "app" (first defined at a.yaml:2:5)');
    expect(shown).toContain('b.yaml:5:10 services.authz is already set at a.yaml:4:20');
    expect(shown.some((s) => s.startsWith('c.yaml:4:42 route "*/0" refers to unknown cluster "nope"'))).toBe(true);
  });

  it('reports a missing path and an empty directory as positioned errors', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'banyan-config-'));
    try {
      await mkdir(join(tmp, 'empty'));
      const missing = await loadConfig(join(tmp, 'nope.yaml'));
      expect(missing.diagnostics[0]).toMatchObject({ severity: 'error', file: join(tmp, 'nope.yaml'), line: 1, col: 1 });
      expect(missing.diagnostics[0].message).toContain('cannot read config');
      const empty = await loadConfig(join(tmp, 'empty'));
      expect(empty.diagnostics[0].message).toContain('no *.yaml or *.yml files');
      expect(empty.config).toBeUndefined();
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('diagnostics', () => {
  it('collects every error rather than stopping at the first', () => {
    const text = ['listeners:', '  - name: a', '    port: 99999', '    rotues: []', 'clusters:', '  - name: c', '    endpoints: [nohost]', ''].join('\n');
    const { diagnostics } = loadConfigFromString(text, 'x.yaml');
    expect(diagnostics.map((d) => `${d.line}:${d.col}`).sort()).toEqual(['3:11', '4:5', '7:17']);
  });

  it('reports a typo once, not also as the missing key it was meant to be', () => {
    const text = 'clusters:\n  - name: m\n    endpoints: [10.0.0.1:80]\nlisteners:\n  - name: e\n    port: 1\n    routes:\n      - match: { prefix: / }\n        to: [{ clustr: m, weight: 1 }]\n';
    const { diagnostics } = loadConfigFromString(text, 't.yaml');
    expect(diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual(['9:16 unknown key "clustr"; did you mean "cluster"?']);
  });

  it('says which key is missing even where the value could take several forms', () => {
    const text = 'listeners:\n  - name: e\n    port: 1\n    routes:\n      - match: { prefix: / }\n        direct: { status: 200 }\n        headers: { response: { add: [{ name: x-a }] } }\n';
    const { diagnostics } = loadConfigFromString(text, 't.yaml');
    expect(diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual(['7:38 missing required key "value"']);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const { config, diagnostics } = loadConfigFromString(`${lines.join('\n')}\n`, 'bomb.yaml');
    expect(config).toBeUndefined();
    expect(diagnostics).toEqual([{ severity: 'error', file: 'bomb.yaml', line: 1, col: 1, message: expect.stringContaining('Excessive alias count') }]);
  });

  it('resolves positions through YAML anchors and merge keys', () => {
    const text = [
      'x-defaults: &d',
      '  connectTimeout: soon',
      'clusters:',
      '  - name: c',
      '    endpoints: [10.0.0.1:80]',
      '    <<: *d',
      '',
    ].join('\n');
    const { diagnostics } = loadConfigFromString(text, 'anchors.yaml');
    // x-defaults is not a Banyan key; the bad duration arrives through the merge.
    expect(diagnostics.some((d) => d.line === 1 && d.message.startsWith('unknown key "x-defaults"'))).toBe(true);
    expect(diagnostics.some((d) => d.message.includes('invalid duration "soon"'))).toBe(true);
  });

  it('warns about unreachable routes exactly where the fixture says', async () => {
    const file = join(fixtures, 'valid/shadowed.yaml');
    const text = readFileSync(file, 'utf8');
    const expected = text.split('\n').flatMap((line, i) => (line.includes('# warn:') ? [i + 1] : []));
    const result = await loadConfig(file);
    expect(result.config).toBeDefined();
    expect(result.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
    expect(result.diagnostics.map((d) => d.line)).toEqual(expected);
    expect(result.diagnostics[0].message).toMatch(/route "api-v2" is unreachable: earlier route "api" \(.*shadowed\.yaml:8:13\)/);
  });

  it('hands the ratelimit section to the rate limit config parser and keeps its positioned errors', () => {
    const text = ['ratelimit:', '  - domain: edge', '    descriptors:', '      - key: k', '        rate_limit: { unit: fortnight, requests_per_unit: 5 }', ''].join('\n');
    const bad = loadConfigFromString(text, 'rl.yaml');
    expect(bad.config).toBeUndefined();
    expect(bad.diagnostics.some((d) => d.file === 'rl.yaml' && d.line === 5 && d.severity === 'error')).toBe(true);
    const good = loadConfigFromString(text.replace('fortnight', 'second'), 'rl.yaml');
    expect(good.config!.ratelimit.map((d) => d.domain)).toEqual(['edge']);
  });

  it('checks listener rate limit domains only when the config defines domains', () => {
    const listener = 'listeners:\n  - name: l\n    port: 1\n    ratelimit: { domain: other }\n    routes: []\n';
    expect(loadConfigFromString(listener, 'a.yaml').config).toBeDefined();
    const withDomains = loadConfigFromString(`${listener}ratelimit:\n  - domain: edge\n    descriptors: []\n`, 'b.yaml');
    expect(withDomains.diagnostics.map((d) => d.message)).toContain('listener "l" refers to unknown rate limit domain "other"');
  });
});

describe('size', () => {
  it('loads a 1,000-route config', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => `      - name: r${i}\n        match: { path: /svc/${i} }\n        to: c${i % 10}\n        timeout: ${i % 5 + 1}s\n`).join('');
    const clusters = Array.from({ length: 10 }, (_, i) => `  - name: c${i}\n    endpoints: [10.0.${i}.1:8080]\n`).join('');
    const text = `listeners:\n  - name: edge\n    port: 8080\n    routes:\n${routes}clusters:\n${clusters}`;
    const { config, diagnostics } = loadConfigFromString(text, 'big.yaml');
    expect(diagnostics).toEqual([]);
    expect(config!.listeners[0].hosts[0].routes).toHaveLength(1000);
    expect(config!.listeners[0].hosts[0].routes[999].pos.line).toBe(4 + 999 * 4 + 1);
  });
});

describe('JSON Schema', () => {
  it('describes the strict top level and the input forms of unions', () => {
    const schema = exportJsonSchema() as any;
    expect(Object.keys(schema.properties).sort()).toEqual(['auth', 'ca', 'clusters', 'groups', 'listeners', 'ratelimit', 'rollouts', 'secrets', 'services']);
    expect(schema.additionalProperties).toBe(false);
    const route = schema.properties.listeners.items.properties.hosts.items.properties.routes.items;
    expect(route.additionalProperties).toBe(false);
    expect(route.properties.to.anyOf.map((o: { type: string }) => o.type)).toEqual(['string', 'array']);
    // Durations are strings in the YAML even though the model holds milliseconds.
    expect(route.properties.timeout.type).toEqual(['string', 'number']);
    expect(route.properties.timeout.description).toContain('500ms');
  });
});

describe('header values are the text the operator wrote', () => {
  it('keeps unquoted numbers and booleans as written, not as JavaScript prints them', () => {
    const r = loadConfigFromString(
      `listeners:
  - name: e
    port: 1
    routes:
      - name: r
        match: { prefix: / }
        to: a
        headers: { request: { add: { x-v: 1.10, x-b: true, x-big: 12345678901234567890 } }, response: { add: [{ name: x-n, value: 0x1F }] } }
clusters: [{ name: a, endpoints: [10.0.0.1:1] }]
`,
      'x.yaml',
    );
    const route = r.config!.listeners[0].hosts[0].routes[0];
    expect(route.requestHeaders.add.map((h) => h.value)).toEqual(['1.10', 'true', '12345678901234567890']);
    expect(route.responseHeaders.add.map((h) => h.value)).toEqual(['0x1F']);
  });
});
