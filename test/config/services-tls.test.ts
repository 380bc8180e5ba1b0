import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString, type LoadOptions } from '../../src/config/load.js';
import { TypeUrl } from '../../src/proto/envoy.js';

// `services.<name>.tls`: the banyan_ratelimit / banyan_authz clusters over TLS (golden case:
// test/golden/in/tls-ratelimit-service.yaml).
const yaml = (services = '') => `secrets:
  - { name: banyan-ca, caFile: ca.crt }
  - { name: envoy-client, certFile: client.crt, keyFile: client.key }
listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - { name: r, match: { prefix: / }, to: app, ratelimit: [[remote_address]] }
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }]
ratelimit:
  - domain: edge
    descriptors: [{ key: remote_address, rate_limit: { unit: second, requests_per_unit: 5 } }]
${services}`;

function load(text: string, options: LoadOptions = {}) {
  const r = loadConfigFromString(text, 'x.yaml', options);
  return { config: r.config, errors: r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
}

describe('services.<name>.tls', () => {
  it('the string form is unchanged: no TLS', () => {
    const { config, errors } = load(yaml('services: { ratelimit: rl.internal:8081 }'));
    expect(errors).toEqual([]);
    expect(config!.services.ratelimit).toEqual({ address: 'rl.internal', port: 8081 });
    const cluster = compile(config!).groups.get('default')!.get(TypeUrl.Cluster)!.get('banyan_ratelimit') as { transport_socket?: unknown };
    expect(cluster).toBeDefined();
    expect(cluster.transport_socket).toBeUndefined();
  });

  it('{address, tls}: the cluster gets an UpstreamTlsContext and the group the secrets it names', () => {
    const { config, errors } = load(
      yaml(`services:
  ratelimit:
    address: rl.internal:8081
    tls: { ca: { secret: banyan-ca }, clientCertificate: { secret: envoy-client }, sni: rl.internal }`),
    );
    expect(errors).toEqual([]);
    expect(config!.services.ratelimit).toEqual({
      address: 'rl.internal',
      port: 8081,
      tls: { sni: 'rl.internal', caSecret: 'banyan-ca', clientCertificate: 'envoy-client', insecureSkipVerify: false, alpn: [] },
    });
    const set = compile(config!).groups.get('default')!;
    const cluster = set.get(TypeUrl.Cluster)!.get('banyan_ratelimit') as { transport_socket: { typed_config: { sni: string; common_tls_context: { alpn_protocols: string[] } } } };
    expect(cluster.transport_socket.typed_config.sni).toBe('rl.internal');
    expect(cluster.transport_socket.typed_config.common_tls_context.alpn_protocols).toEqual(['h2']);
    expect([...set.get(TypeUrl.Secret)!.keys()]).toEqual(['banyan-ca', 'envoy-client']);
  });

  it('authz takes the same form: banyan_authz over TLS, its alpn as written', () => {
    const text = yaml(`services:
  authz: { address: 10.0.0.9:9191, tls: { ca: { secret: banyan-ca }, sni: authz.internal, alpn: [h2, grpc-exp] } }`).replace('ratelimit: { domain: edge }', 'ratelimit: { domain: edge }\n    authz: { failureMode: deny }');
    const { config, errors } = load(text);
    expect(errors).toEqual([]);
    const set = compile(config!).groups.get('default')!;
    const cluster = set.get(TypeUrl.Cluster)!.get('banyan_authz') as { type: string; transport_socket: { typed_config: { sni: string; common_tls_context: { alpn_protocols: string[] } } } };
    expect(cluster.type).toBe('STATIC');
    expect(cluster.transport_socket.typed_config.sni).toBe('authz.internal');
    expect(cluster.transport_socket.typed_config.common_tls_context.alpn_protocols).toEqual(['h2', 'grpc-exp']);
    expect([...set.get(TypeUrl.Secret)!.keys()]).toEqual(['banyan-ca']);
  });

  it('an unknown secret is reported at its file:line:col', () => {
    const { errors } = load(
      yaml(`services:
  ratelimit:
    address: rl.internal:8081
    tls: { ca: { secret: banyan-cA } }`),
    );
    expect(errors).toEqual([expect.stringMatching(/^x\.yaml:17:26: error: service "ratelimit" refers to unknown secret "banyan-cA"/)]);
  });

  it('an unknown key under tls is reported at its position', () => {
    const { errors } = load(
      yaml(`services:
  ratelimit:
    address: rl.internal:8081
    tls: { cert: x }`),
    );
    expect(errors).toEqual([expect.stringMatching(/^x\.yaml:17:12: error: unknown key "cert"/)]);
  });

  it('serve with TLS and no services key: refused, saying to set services.<name>.tls', () => {
    const { config, errors } = load(yaml(), { served: { host: '127.0.0.1', ratelimit: 7001, tls: true } });
    expect(config).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(/^x\.yaml:5:5: error: listener "edge" calls Banyan's ratelimit service, which this process serves with TLS on 127\.0\.0\.1:7001, but `services\.ratelimit` is not set.*tls:/)]);
  });

  it('serve with TLS and services.<name> set with tls: no error', () => {
    const { errors } = load(
      yaml(`services:
  ratelimit: { address: 127.0.0.1:7001, tls: { ca: { secret: banyan-ca }, sni: localhost } }`),
      { served: { host: '127.0.0.1', ratelimit: 7001, tls: true } },
    );
    expect(errors).toEqual([]);
  });
});
