/**
 * `banyan serve --ratelimit-port P --authz-port Q` advertises, in the banyan_ratelimit / banyan_authz
 * clusters it serves over xDS, where those services actually listen, unless `services:` says otherwise.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { authorizationServiceDefinition, rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import { CDS, SotwClient } from '../conformance/harness.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const yaml = (services = '') => `
listeners:
  - name: edge
    port: 10000
    authz: { failureMode: deny }
    ratelimit: { domain: edge }
    routes:
      - { name: all, match: { prefix: / }, to: app, ratelimit: [[remote_address]] }
clusters:
  - { name: app, endpoints: [127.0.0.1:9] }
ratelimit:
  - domain: edge
    descriptors:
      - { key: remote_address, rate_limit: { unit: minute, requests_per_unit: 5 } }
auth:
  providers: [{ name: main, issuer: https://issuer.test, audiences: [api], jwks: { uri: https://issuer.test/jwks } }]
${services}`;

type ClusterShape = { name: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] } };

/** The service clusters as a proxy receives them over ADS: name → "address:port". */
async function servedServiceClusters(t: TestBanyan): Promise<Record<string, string>> {
  const client = SotwClient.ads(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'svc-probe' });
  try {
    client.request(CDS);
    const cds = await client.next(CDS);
    const out: Record<string, string> = {};
    for (const c of cds.resources as unknown as ClusterShape[]) {
      if (!c.name.startsWith('banyan_')) continue;
      const { address, port_value } = c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
      out[c.name] = `${address}:${port_value}`;
    }
    return out;
  } finally {
    client.close();
  }
}

function unary(client: grpc.Client, method: string, req: unknown): Promise<unknown> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>)[method](req, { deadline: Date.now() + 5000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

const serviceWarnings = (t: TestBanyan) => t.banyan.pipeline.current!.warnings.filter((w) => w.message.includes("Banyan's"));

describe('service clusters point at the services serve runs', () => {
  let t: TestBanyan | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('ports 0: the served clusters name the bound ports, and those ports answer', async () => {
    t = await startTestBanyan(yaml(), { ratelimitPort: 0, authzPort: 0 });
    const { ratelimit, authz } = t.banyan.ports;
    expect([ratelimit, authz]).not.toContain(undefined);
    expect(await servedServiceClusters(t)).toEqual({ banyan_authz: `127.0.0.1:${authz}`, banyan_ratelimit: `127.0.0.1:${ratelimit}` });

    // What a proxy would dial is really the service: a ShouldRateLimit and a Check are answered there.
    const clusters = await servedServiceClusters(t);
    const rls = new (grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RLS'))(clusters.banyan_ratelimit, grpc.credentials.createInsecure());
    const az = new (grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authz'))(clusters.banyan_authz, grpc.credentials.createInsecure());
    try {
      expect(await unary(rls, 'ShouldRateLimit', { domain: 'edge', descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.1' }] }] })).toMatchObject({ overall_code: 'OK' });
      expect(await unary(az, 'Check', { attributes: { request: { http: { path: '/', headers: { ':path': '/' } } } } })).toMatchObject({ denied_response: { status: { code: 'Unauthorized' } } });
    } finally {
      rls.close();
      az.close();
    }
    expect(serviceWarnings(t)).toEqual([]);
  });

  it('an explicit services: key wins over what serve listens on', async () => {
    t = await startTestBanyan(yaml('services: { ratelimit: 10.9.9.9:7000 }\n'), { ratelimitPort: 0, authzPort: 0 });
    expect(await servedServiceClusters(t)).toEqual({ banyan_authz: `127.0.0.1:${t.banyan.ports.authz}`, banyan_ratelimit: '10.9.9.9:7000' });
  });

  it('a service not run in this process keeps the conventional default', async () => {
    t = await startTestBanyan(yaml(), { authzPort: 0 });
    expect(await servedServiceClusters(t)).toEqual({ banyan_authz: `127.0.0.1:${t.banyan.ports.authz}`, banyan_ratelimit: '127.0.0.1:8081' });
  });

  it('bound on every interface, loopback is advertised with a warning per service, at the listener', async () => {
    t = await startTestBanyan(yaml('services: { authz: 10.9.9.9:9191 }\n'), { host: '0.0.0.0', insecure: true, ratelimitPort: 0, authzPort: 0 });
    expect(await servedServiceClusters(t)).toMatchObject({ banyan_ratelimit: `127.0.0.1:${t.banyan.ports.ratelimit}` });
    const warnings = serviceWarnings(t);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ severity: 'warning', file: t.file, line: 3, col: 5 });
    expect(warnings[0].message).toContain(`listener "edge" calls Banyan's ratelimit service at 127.0.0.1:${t.banyan.ports.ratelimit}`);
    expect(warnings[0].message).toContain('an Envoy in another pod or host would call its own loopback; set `services.ratelimit: host:port`');
  });
});
