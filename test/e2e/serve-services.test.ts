/**
 * `banyan serve` runs the rate limit and authz services in-process and feeds them the same config it
 * compiles for the proxies: a hot edit of the YAML changes their decisions too.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationServiceDefinition, rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { makeKey, sign, type TestKey } from '../authz/helpers.js';

function yaml(limit: number, jwksFile: string): string {
  return `
listeners:
  - name: edge
    port: 10000
    authz: { failureMode: deny }
    ratelimit: { domain: edge, failureMode: allow }
    hosts:
      - domains: ["*"]
        routes:
          - name: all
            match: { prefix: / }
            to: app
            ratelimit: [[remote_address]]
            auth: { provider: main }
clusters:
  - name: app
    endpoints: [127.0.0.1:9]
ratelimit:
  - domain: edge
    descriptors:
      - key: remote_address
        rate_limit: { unit: minute, requests_per_unit: ${limit} }
auth:
  providers:
    - name: main
      issuer: https://issuer.test
      audiences: [api]
      jwks: { file: ${jwksFile} }
      claimsToHeaders: { sub: x-user-id }
`;
}

const Rls = grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RateLimitService');
const Authz = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');

function unary<T>(client: grpc.Client, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>)[method](req, { deadline: Date.now() + 5000 }, (err: Error | null, res: T) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

describe('serve with in-process rate limit and authz services', () => {
  let t: TestBanyan;
  let configFile: string;
  let banyan: RunningBanyan;
  let rls: grpc.Client;
  let authz: grpc.Client;
  let key: TestKey;

  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
    t = await startTestBanyan(
      (dir) => {
        fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [key.jwk] }));
        return yaml(2, path.join(dir, 'jwks.json'));
      },
      { ratelimitPort: 0, authzPort: 0 },
    );
    ({ banyan } = t);
    configFile = t.file;
    rls = new Rls(`127.0.0.1:${banyan.ports.ratelimit}`, grpc.credentials.createInsecure());
    authz = new Authz(`127.0.0.1:${banyan.ports.authz}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    rls?.close();
    authz?.close();
    await t?.stop();
  });

  const hit = (ip: string) =>
    unary<{ overall_code: string }>(rls, 'ShouldRateLimit', { domain: 'edge', descriptors: [{ entries: [{ key: 'remote_address', value: ip }] }] });

  it('limits with the YAML ratelimit section and follows an edit of it', async () => {
    expect((await hit('10.0.0.1')).overall_code).toBe('OK');
    expect((await hit('10.0.0.1')).overall_code).toBe('OK');
    expect((await hit('10.0.0.1')).overall_code).toBe('OVER_LIMIT');
    fs.writeFileSync(configFile, yaml(100, path.join(t.dir, 'jwks.json')));
    await eventually(async () => expect((await hit('10.0.0.1')).overall_code).toBe('OK'), 5_000);
  });

  it('authorizes with the YAML auth providers: 401 without a token, OK with claims forwarded', async () => {
    const route = banyan.pipeline.current!.snapshot.groups.get('default')!;
    const rc = [...route.values()].flatMap((m) => [...m.values()]).find((r) => (r as { virtual_hosts?: unknown }).virtual_hosts) as {
      virtual_hosts: { routes: { typed_per_filter_config: Record<string, { check_settings: { context_extensions: Record<string, string> } }> }[] }[];
    };
    const ext = rc.virtual_hosts[0].routes[0].typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions;
    const req = (headers: Record<string, string>) => ({
      attributes: { context_extensions: ext, request: { http: { path: '/x', headers: { ':path': '/x', ...headers } } } },
    });
    const denied = await unary<{ status: { code: number }; denied_response: { status: { code: string } } }>(authz, 'Check', req({}));
    expect(denied.status.code).not.toBe(0);
    expect(denied.denied_response.status.code).toBe('Unauthorized');
    const token = await sign(key, { sub: 'alice' });
    const ok = await unary<{ status?: { code?: number }; ok_response: { headers: { header: { key: string; value: string } }[] } }>(
      authz,
      'Check',
      req({ authorization: `Bearer ${token}` }),
    );
    expect(ok.status?.code ?? 0).toBe(0);
    expect(ok.ok_response.headers.map((h) => [h.header.key, h.header.value])).toContainEqual(['x-user-id', 'alice']);
  });
});
