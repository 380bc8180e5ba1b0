import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fractionalPercent } from '../../src/compile/util.js';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { validateFiles } from '../../src/admission/index.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { TypeUrl } from '../../src/proto/envoy.js';

// Settings that load fine but would silently never do anything: each is a positioned diagnostic.

const findings = (yaml: string, severity: Diagnostic['severity'] = 'error') =>
  loadConfigFromString(yaml, 'x.yaml')
    .diagnostics.filter((d) => d.severity === severity)
    .map(formatDiagnostic);

/** A listener whose one route builds `descriptor`, against domain `edge` with `descriptors`. */
function rateLimited(descriptor: string, descriptors: string, to = 'app'): string {
  return `listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - name: r
        match: { prefix: / }
        to: ${to}
        ratelimit: [${descriptor}]
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
  - { name: other, endpoints: [10.0.0.2:8080] }
ratelimit:
  - domain: edge
    descriptors:
${descriptors
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;
}

const LIMIT = 'rate_limit: { unit: second, requests_per_unit: 5 }';

describe('route rate limit descriptors are checked against the listener domain', () => {
  it('a key the domain does not have is an error at the descriptor, with a did-you-mean', () => {
    const yaml = rateLimited('[{ header: x-client-id, as: clientid }]', `- key: client_id\n  ${LIMIT}`);
    expect(findings(yaml)).toEqual([
      'x.yaml:9:21: error: rate limit descriptor [clientid] of route "r" matches no descriptor of domain "edge", so it is never limited: domain "edge" has no descriptor key "clientid"; did you mean "client_id"?',
    ]);
    expect(loadConfigFromString(yaml, 'x.yaml').config).toBeUndefined();
  });

  // The matcher is the rate limit service's own (RuleTable.lookup), so these follow envoyproxy/ratelimit.
  it.each([
    ['nested keys in order', '[{ header: x-a, as: k1 }, { header: x-b, as: k2 }]', `- key: k1\n  descriptors:\n    - key: k2\n      ${LIMIT}`, true],
    ['nested keys in the wrong order', '[{ header: x-b, as: k2 }, { header: x-a, as: k1 }]', `- key: k1\n  descriptors:\n    - key: k2\n      ${LIMIT}`, false],
    ['a limit only on a nested entry, request stops short', '[{ header: x-a, as: k1 }]', `- key: k1\n  descriptors:\n    - key: k2\n      ${LIMIT}`, false],
    ['a request deeper than the tree', '[remote_address, { header: x-a, as: k1 }]', `- key: remote_address\n  ${LIMIT}`, false],
    ['a request value reaching a value-specific entry (x-plan: free)', '[{ header: x-plan, as: plan }]', `- key: plan\n  value: free\n  ${LIMIT}`, true],
    ['a fixed generic_key value, value-specific entry', '[{ generic_key: checkout }]', `- key: generic_key\n  value: checkout\n  ${LIMIT}`, true],
    ['a fixed generic_key value, another value only', '[{ generic_key: checkout }]', `- key: generic_key\n  value: cart\n  ${LIMIT}`, false],
    ['a fixed value, wildcard entry', '[{ generic_key: checkout }]', `- key: generic_key\n  value: check*\n  ${LIMIT}`, true],
    ['a fixed value, key-only entry', '[{ generic_key: checkout, as: op }]', `- key: op\n  ${LIMIT}`, true],
    ['header_value_match uses Envoy\'s default key', '[{ header_value_match: { value: admin, headers: [{ name: x-role, exact: admin }] } }]', `- key: header_match\n  value: admin\n  ${LIMIT}`, true],
    ['a request value then a fixed value', '[remote_address, { generic_key: slow }]', `- key: remote_address\n  descriptors:\n    - key: generic_key\n      value: slow\n      ${LIMIT}`, true],
    ['destination_cluster names the route\'s own cluster', '[destination_cluster]', `- key: destination_cluster\n  value: app\n  ${LIMIT}`, true],
    ['destination_cluster of another cluster only', '[destination_cluster]', `- key: destination_cluster\n  value: other\n  ${LIMIT}`, false],
    ['an unlimited entry still matches', '[remote_address]', '- key: remote_address\n  rate_limit: { unlimited: true }', true],
  ])('%s', (_name, descriptor, descriptors, matches) => {
    const errors = findings(rateLimited(descriptor, descriptors));
    if (matches) expect(errors).toEqual([]);
    else expect(errors).toEqual([expect.stringMatching(/^x\.yaml:9:21: error: rate limit descriptor \[.*\] of route "r" matches no descriptor of domain "edge"/)]);
  });

  it('keys that exist but never line up say so', () => {
    const [error] = findings(rateLimited('[{ header: x-b, as: k2 }, { header: x-a, as: k1 }]', `- key: k1\n  descriptors:\n    - key: k2\n      ${LIMIT}`));
    expect(error).toContain('its keys exist in domain "edge", but not nested in this order with these values');
  });

  it('a domain defined in another service is not checked', () => {
    const yaml = `listeners:\n  - name: edge\n    port: 10000\n    ratelimit: { domain: elsewhere }\n    routes:\n      - { name: r, match: { prefix: / }, to: app, ratelimit: [[remote_address]] }\nclusters: [{ name: app, endpoints: [10.0.0.1:8080] }]\n`;
    expect(findings(yaml)).toEqual([]);
  });
});

describe('route rate limits that no filter enforces', () => {
  it('on a listener without ratelimit: is an error at the route\'s ratelimit', () => {
    const yaml = `listeners:
  - name: edge
    port: 10000
    routes:
      - name: r
        match: { prefix: / }
        to: app
        ratelimit: [[remote_address]]
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }]
`;
    expect(findings(yaml)).toEqual([
      'x.yaml:8:21: error: route "r" has rate limit descriptors, but listener "edge" has no `ratelimit:` (no rate limit filter), so they are never enforced; add `ratelimit: { domain: ... }` to the listener',
    ]);
  });

  it('on a proxyless gRPC listener, which runs only the router, is an error too', () => {
    const yaml = `listeners:
  - name: orders
    kind: api
    routes:
      - { name: r, match: { prefix: / }, to: app, ratelimit: [[remote_address]] }
clusters: [{ name: app, protocol: http2, endpoints: [10.0.0.1:8080] }]
`;
    // Admission owns what gRPC clients cannot honour (src/admission/grpc.ts); validate runs it after loading.
    const errors = validateFiles([{ file: 'x.yaml', text: yaml }]).diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    expect(errors).toEqual([expect.stringContaining('x.yaml:5:9: error: route "r" has rate limit descriptors (`ratelimit:`), which proxyless gRPC clients (api listener "orders") cannot honour')]);
  });
});

describe('authz on a listener', () => {
  const yaml = `listeners:
  - name: edge
    port: 10000
    authz: { failureMode: deny }
    routes:
      - { name: login, match: { prefix: /login }, to: app, auth: none }
      - { name: admin, match: { prefix: /admin }, to: app, auth: { provider: idp, scopes: [admin] } }
      - { name: api, match: { prefix: /api }, to: app }
      - { name: monolith, match: { prefix: / }, to: app }
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }]
auth:
  providers: [{ name: idp, issuer: https://idp.example.com, audiences: [app], jwks: { uri: https://idp.example.com/jwks } }]
`;

  it('is an info diagnostic naming how many routes it puts behind a JWT, catch-all included', () => {
    const result = loadConfigFromString(yaml, 'x.yaml');
    expect(result.config).toBeDefined();
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([
      'x.yaml:2:5: info: listener "edge" has authz:, so every route without `auth:` requires a valid JWT from any provider: 2 of 4 routes, catch-all "monolith" included; write `auth: none` on a route that must stay public',
    ]);
  });

  it('is printed by `banyan validate`, which still exits 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-validate-'));
    try {
      const file = path.join(dir, 'authz.yaml');
      fs.writeFileSync(file, yaml);
      const root = path.join(import.meta.dirname, '../..');
      const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [path.join(root, 'bin/banyan.js'), 'validate', file], { timeout: 30_000 }, (err, stdout) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
        ),
      );
      expect(r.stdout).toContain(`${file}:2:5: info: listener "edge" has authz:, so every route without \`auth:\` requires a valid JWT`);
      expect(r.stdout).toMatch(/: valid \(1 listener, 4 routes, 1 cluster; 0 errors, 0 warnings\)$/m);
      expect(r.code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mirror percent', () => {
  const mirrored = (percent: string) => `listeners:
  - name: edge
    port: 10000
    routes:
      - name: r
        match: { prefix: / }
        to: app
        mirror: { cluster: shadow, percent: ${percent} }
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
  - { name: shadow, endpoints: [10.0.0.2:8080] }
`;

  it('that Envoy\'s FractionalPercent would carry as 0 is an error naming the smallest percent', () => {
    expect(findings(mirrored('0.00001'))).toEqual([
      'x.yaml:8:28: error: mirror of route "r" to "shadow" at 0.00001% would be sent to Envoy as 0% (a FractionalPercent counts in millionths): the smallest is 0.0001; use 0 for never',
    ]);
    expect(() => fractionalPercent(0.00001)).toThrow(/smallest is 0.0001%/);
  });

  it('the smallest percent is sent as one in a million, and 0 stays an explicit off', () => {
    for (const [percent, expected] of [
      ['0.0001', { numerator: 1, denominator: 'MILLION' }],
      ['0', { numerator: 0, denominator: 'HUNDRED' }],
    ] as const) {
      const { config, diagnostics } = loadConfigFromString(mirrored(percent), 'x.yaml');
      expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const rc = compile(config!).groups.get('default')!.get(TypeUrl.RouteConfiguration)!.get('edge') as {
        virtual_hosts: { routes: { route: { request_mirror_policies: { runtime_fraction: { default_value: unknown } }[] } }[] }[];
      };
      expect(rc.virtual_hosts[0].routes[0].route.request_mirror_policies[0].runtime_fraction.default_value).toEqual(expected);
    }
  });
});
