import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString, type LoadOptions } from '../../src/config/load.js';

// Where the banyan_ratelimit / banyan_authz clusters point; serve's own end-to-end case is
// test/xds/service-clusters.test.ts (real bound ports over ADS).
const yaml = (services = '') => `listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - { name: r, match: { prefix: / }, to: app, auth: { provider: idp } }
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }]
auth:
  providers: [{ name: idp, issuer: https://idp.example.com, audiences: [app], jwks: { uri: https://idp.example.com/jwks } }]
${services}`;

function load(text: string, options: LoadOptions) {
  const r = loadConfigFromString(text, 'x.yaml', options);
  return { services: r.config!.services, warnings: r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic) };
}

describe('services: defaults follow the serving process', () => {
  it('without a serving process: the conventional ports on loopback', () => {
    expect(load(yaml(), {}).services).toEqual({ ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } });
  });

  it('a host naming one address is advertised as itself, with no warning', () => {
    expect(load(yaml(), { served: { host: '10.1.2.3', ratelimit: 7001, authz: 7002 } })).toEqual({
      services: { ratelimit: { address: '10.1.2.3', port: 7001 }, authz: { address: '10.1.2.3', port: 7002 } },
      warnings: [],
    });
    expect(load(yaml(), { served: { host: 'localhost', authz: 7002 } }).services.authz).toEqual({ address: '127.0.0.1', port: 7002 });
  });

  it('every interface: loopback, and a warning for each service a listener calls (authz implied by a route)', () => {
    const { services, warnings } = load(yaml(), { served: { host: '::', ratelimit: 7001, authz: 7002 } });
    expect(services).toEqual({ ratelimit: { address: '127.0.0.1', port: 7001 }, authz: { address: '127.0.0.1', port: 7002 } });
    expect(warnings).toEqual([
      expect.stringMatching(/^x\.yaml:2:5: warning: listener "edge" calls Banyan's ratelimit service at 127\.0\.0\.1:7001, where this process serves it/),
      expect.stringMatching(/^x\.yaml:2:5: warning: listener "edge" calls Banyan's authz service at 127\.0\.0\.1:7002/),
    ]);
  });

  it('an explicit key wins and needs no warning; a service no listener calls needs none either', () => {
    const { services, warnings } = load(yaml('services: { ratelimit: rl.internal:8081 }\n'), { served: { host: '0.0.0.0', ratelimit: 7001, authz: 7002 } });
    expect(services.ratelimit).toEqual({ address: 'rl.internal', port: 8081 });
    expect(warnings).toEqual([expect.stringContaining('authz service at 127.0.0.1:7002')]);
    const unused = 'listeners:\n  - name: edge\n    port: 10000\n    routes: [{ name: r, match: { prefix: / }, to: app }]\nclusters: [{ name: app, endpoints: [10.0.0.1:8080] }]\n';
    expect(load(unused, { served: { host: '0.0.0.0', ratelimit: 7001, authz: 7002 } }).warnings).toEqual([]);
  });
});
