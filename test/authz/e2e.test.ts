import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthzServer, type AuthzServer } from '../../src/authz/server.js';
import { authzFeature } from '../../src/compile/authz.js';
import type { Config, Listener, Route } from '../../src/config/model.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';
import { authorizationServiceDefinition } from '../../src/proto/grpc.js';
import { route as baseRoute } from '../compile/fixtures.js';
import { JwksServer, makeKey, provider, sign, type TestKey } from './helpers.js';

const require = createRequire(import.meta.url);
const health = require('grpc-health-check') as { service: grpc.ServiceDefinition };
const pos = { file: 'banyan.yaml', line: 1, col: 1 };

function route(name: string, auth?: Route['auth']): Route {
  return baseRoute({ name, auth, pos, match: { prefix: `/${name}`, caseSensitive: true, headers: [], query: [], grpc: false } });
}

/** What Envoy would send for `r`: context_extensions from the compiled route, after an encode/decode trip. */
function contextExtensionsFor(r: Route, l: Listener, c: Config): Record<string, string> {
  const { typedPerFilterConfig } = authzFeature.route(r, l, c);
  const bytes = encodeMessage('envoy.config.route.v3.Route', { name: r.name, match: { prefix: '/' }, route: { cluster: 'app' }, typed_per_filter_config: typedPerFilterConfig });
  const decoded = decodeMessage<{ typed_per_filter_config: Record<string, { check_settings: { context_extensions: Record<string, string> } }> }>(
    'envoy.config.route.v3.Route',
    bytes,
  );
  return decoded.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions;
}

describe('authz service over gRPC (Envoy external_auth.proto)', () => {
  const jwks = new JwksServer();
  let server: AuthzServer;
  let client: grpc.Client & Record<string, Function>;
  let healthClient: grpc.Client & Record<string, Function>;
  let key: TestKey;
  let listener: Listener;
  let cfg: Config;

  beforeAll(async () => {
    await jwks.start();
    key = await makeKey('RS256', 'k1');
    jwks.keys = [key.jwk];
    const routes = [
      route('orders', { kind: 'jwt', providers: ['main'], mode: 'any', scopes: ['orders:write'], claims: [{ claim: 'tenant', op: 'eqHeader', header: 'x-tenant-id' }], allowMissing: false }),
      route('public', { kind: 'none' }),
    ];
    listener = { name: 'edge', kind: 'socket', address: '0.0.0.0', port: 10000, hosts: [{ name: 'api', domains: ['*'], routes, pos }], authz: { failureMode: 'deny', timeoutMs: 250 }, accessLog: false, pos };
    const main = provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: 300_000, cooldownMs: 30_000 }, removeAuthorization: true });
    cfg = { listeners: [listener], clusters: [], groups: [], ratelimit: [], auth: { providers: [main] }, services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 0 } }, rollouts: [] };
    server = createAuthzServer({ providers: cfg.auth.providers });
    const port = await server.start(0, '127.0.0.1');
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
    const HealthClient = grpc.makeGenericClientConstructor(health.service, 'Health');
    healthClient = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
  });

  afterAll(async () => {
    client?.close();
    healthClient?.close();
    await server?.stop();
    await jwks.stop();
  });

  const call = <T>(c: grpc.Client & Record<string, Function>, method: string, req: unknown) =>
    new Promise<T>((resolve, reject) => c[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));

  function checkRequest(headers: Record<string, string>, ext: Record<string, string>) {
    const req = {
      attributes: {
        source: { address: { socket_address: { address: '10.0.0.7', port_value: 51000 } } },
        request: { time: { seconds: Math.floor(Date.now() / 1000) }, http: { id: '1', method: 'POST', path: '/orders/1', host: 'api.example.com', scheme: 'https', protocol: 'HTTP/2', headers: { ':path': '/orders/1', ':method': 'POST', ...headers } } },
        context_extensions: ext,
      },
    };
    // What goes on the wire must be a valid CheckRequest.
    encodeMessage('envoy.service.auth.v3.CheckRequest', req);
    return req;
  }

  type Res = { status?: { code?: number; message?: string }; ok_response?: { headers?: { header: { key: string; value: string }; append?: { value?: boolean } }[]; headers_to_remove?: string[] }; denied_response?: { status: { code: string }; headers: { header: { key: string; value: string } }[]; body: string } };

  it('allows a route with its compiled requirement satisfied, forwarding identity headers', async () => {
    const ext = contextExtensionsFor(listener.hosts[0].routes[0], listener, cfg);
    expect(ext['banyan.route']).toBe('orders');
    const token = await sign(key, { sub: 'alice', tenant: 't1', scope: 'orders:write' });
    const res = await call<Res>(client, 'Check', checkRequest({ authorization: `Bearer ${token}`, 'x-tenant-id': 't1', 'x-user-id': 'mallory' }, ext));
    // google.rpc.Status code 0 = OK; on the wire the default is omitted, so it decodes as absent or 0.
    expect(res.status?.code ?? 0).toBe(0);
    expect(res.denied_response).toBeUndefined();
    // append is present and false: Envoy replaces the client's copy rather than appending to it.
    expect(res.ok_response?.headers).toEqual([{ header: { key: 'x-user-id', value: 'alice' }, append: { value: false } }]);
    expect(res.ok_response?.headers_to_remove).toEqual(['authorization']);
  });

  it('answers 403 when the tenant header does not match, 401 without a token', async () => {
    const ext = contextExtensionsFor(listener.hosts[0].routes[0], listener, cfg);
    const token = await sign(key, { sub: 'alice', tenant: 't1', scope: 'orders:write' });
    const forbidden = await call<Res>(client, 'Check', checkRequest({ authorization: `Bearer ${token}`, 'x-tenant-id': 't2' }, ext));
    expect(forbidden.status).toEqual({ code: 7, message: 'claim_mismatch' });
    expect(forbidden.denied_response?.status).toEqual({ code: 'Forbidden' });
    expect(forbidden.denied_response?.headers.map((h) => h.header)).toEqual([
      { key: 'content-type', value: 'application/json' },
      { key: 'www-authenticate', value: 'Bearer realm="banyan", error="insufficient_scope", error_description="claim tenant does not satisfy the route requirement", scope="orders:write"' },
    ]);
    const missing = await call<Res>(client, 'Check', checkRequest({}, ext));
    expect(missing.status).toEqual({ code: 16, message: 'missing_token' });
    expect(missing.denied_response?.status).toEqual({ code: 'Unauthorized' });
    expect(JSON.parse(missing.denied_response!.body)).toEqual({ error: 'missing_token', reason: 'no bearer token in the request' });
  });

  it('compiles auth: none to a disabled per-route filter (Envoy never calls the service)', () => {
    expect(authzFeature.route(listener.hosts[0].routes[1], listener, cfg).typedPerFilterConfig).toEqual({
      'envoy.filters.http.ext_authz': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', disabled: true },
    });
  });

  it('serves gRPC health and Prometheus metrics', async () => {
    const h = await call<{ status: string }>(healthClient, 'check', { service: 'envoy.service.auth.v3.Authorization' });
    expect(h.status).toBe('SERVING');
    const text = await server.registry.metrics();
    expect(text).toMatch(/banyan_authz_checks_total\{result="allowed",reason="ok"\} [1-9]/);
    expect(text).toMatch(/banyan_authz_checks_total\{result="denied",reason="missing_token"\} [1-9]/);
    expect(text).toMatch(/banyan_authz_check_duration_seconds_count\{result="denied"\} [1-9]/);
    expect(text).toMatch(/banyan_authz_token_cache_misses_total [1-9]/);
    expect(text).not.toContain('_ratio');
  });

  it('hot-reloads providers through setConfig', async () => {
    const ext = contextExtensionsFor(listener.hosts[0].routes[0], listener, cfg);
    const token = await sign(key, { sub: 'bob', tenant: 't1', scope: 'orders:write', aud: 'new-api' });
    const before = await call<Res>(client, 'Check', checkRequest({ authorization: `Bearer ${token}`, 'x-tenant-id': 't1' }, ext));
    expect(before.status?.message).toBe('wrong_audience');
    server.setConfig([{ ...cfg.auth.providers[0], audiences: ['new-api'] }]);
    const after = await call<Res>(client, 'Check', checkRequest({ authorization: `Bearer ${token}`, 'x-tenant-id': 't1' }, ext));
    expect(after.status?.code ?? 0).toBe(0);
  });
});
