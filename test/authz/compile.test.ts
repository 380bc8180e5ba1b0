import { describe, expect, it } from 'vitest';
import {
  authzFeature,
  CONTEXT_AUTH,
  CONTEXT_ROUTE,
  decodeRequirement,
  encodeRequirement,
} from '../../src/compile/authz.js';
import type { AuthRequirement, Config, Listener, Route } from '../../src/config/model.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';
import { route as baseRoute } from '../compile/fixtures.js';

const pos = { file: 'banyan.yaml', line: 1, col: 1 };
const FILTER = 'envoy.filters.http.ext_authz';
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';

function route(name: string, auth?: AuthRequirement): Route {
  return baseRoute({ name, auth, pos });
}

function listener(routes: Route[], extra: Partial<Listener> = {}): Listener {
  return {
    name: 'edge',
    kind: 'socket',
    address: '0.0.0.0',
    port: 10000,
    hosts: [{ name: 'api', domains: ['api.example.com'], routes, pos }],
    accessLog: false,
    pos,
    ...extra,
  };
}

function config(listeners: Listener[], authzAddress = '127.0.0.1'): Config {
  return {
    listeners,
    clusters: [],
    groups: [],
    ratelimit: [],
    auth: { providers: [] },
    services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: authzAddress, port: 9191 } },
    rollouts: [],
  };
}

const jwt = (over: Partial<Extract<AuthRequirement, { kind: 'jwt' }>> = {}): Extract<AuthRequirement, { kind: 'jwt' }> => ({
  kind: 'jwt',
  providers: ['webskyne'],
  mode: 'any',
  scopes: [],
  claims: [],
  allowMissing: false,
  ...over,
});

/** Encodes a route carrying the per-filter config, as the xDS layer would, and decodes it like Envoy. */
function roundTripPerRoute(r: Route, l: Listener, c: Config): Record<string, unknown> {
  const { typedPerFilterConfig } = authzFeature.route(r, l, c);
  const bytes = encodeMessage('envoy.config.route.v3.Route', {
    name: r.name,
    match: { prefix: '/' },
    route: { cluster: 'app' },
    typed_per_filter_config: typedPerFilterConfig,
  });
  const decoded = decodeMessage<{ typed_per_filter_config: Record<string, Record<string, unknown>> }>('envoy.config.route.v3.Route', bytes);
  return decoded.typed_per_filter_config[FILTER];
}

describe('authz compile feature', () => {
  it('adds the ext_authz filter to a listener with authz', () => {
    const l = listener([route('r')], { authz: { failureMode: 'deny', timeoutMs: 250 } });
    const filters = authzFeature.httpFilters(l, config([l]));
    expect(filters).toEqual([
      {
        name: FILTER,
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
          grpc_service: { envoy_grpc: { cluster_name: 'banyan_authz' }, timeout: { seconds: 0, nanos: 250_000_000 } },
          transport_api_version: 'V3',
          failure_mode_allow: false,
          include_peer_certificate: false,
        },
      },
    ]);
    const bytes = encodeMessage('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', filters[0]);
    const back = decodeMessage<{ typed_config: Record<string, unknown> }>('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', bytes);
    expect(back.typed_config).toMatchObject({ transport_api_version: 'V3', grpc_service: { envoy_grpc: { cluster_name: 'banyan_authz' } } });
  });

  it('maps failureMode allow and a 1.5 s timeout', () => {
    const l = listener([route('r')], { authz: { failureMode: 'allow', timeoutMs: 1500 } });
    const tc = authzFeature.httpFilters(l, config([l]))[0].typed_config as Record<string, unknown>;
    expect(tc.failure_mode_allow).toBe(true);
    expect((tc.grpc_service as Record<string, unknown>).timeout).toEqual({ seconds: 1, nanos: 500_000_000 });
  });

  it('carries a route requirement as compact JSON in context_extensions', () => {
    const requirement = jwt({
      providers: ['webskyne', 'partner'],
      mode: 'all',
      scopes: ['auth:write'],
      claims: [
        { claim: 'tenant', op: 'eqHeader', header: 'x-tenant-id' },
        { claim: 'tier', op: 'in', values: ['gold'] },
      ],
      allowMissing: true,
    });
    const r = route('auth-login', requirement);
    const l = listener([r], { authz: { failureMode: 'deny', timeoutMs: 250 } });
    const perRoute = roundTripPerRoute(r, l, config([l]));
    expect(perRoute).toEqual({
      '@type': PER_ROUTE,
      check_settings: {
        context_extensions: {
          [CONTEXT_ROUTE]: 'auth-login',
          [CONTEXT_AUTH]:
            '{"providers":["webskyne","partner"],"mode":"all","scopes":["auth:write"],"claims":[{"claim":"tenant","op":"eqHeader","header":"x-tenant-id"},{"claim":"tier","op":"in","values":["gold"]}],"allowMissing":true}',
        },
      },
    });
    const ext = (perRoute.check_settings as { context_extensions: Record<string, string> }).context_extensions;
    expect(decodeRequirement(ext[CONTEXT_AUTH])).toEqual(requirement);
  });

  it('leaves defaults out of the encoded requirement', () => {
    expect(encodeRequirement(jwt())).toBe('{"providers":["webskyne"]}');
    expect(decodeRequirement('{"providers":["webskyne"]}')).toEqual(jwt());
  });

  it('gives a route without auth the listener default (route name only)', () => {
    const r = route('everything-else');
    const l = listener([r], { authz: { failureMode: 'deny', timeoutMs: 250 } });
    expect(roundTripPerRoute(r, l, config([l]))).toEqual({ '@type': PER_ROUTE, check_settings: { context_extensions: { [CONTEXT_ROUTE]: 'everything-else' } } });
  });

  it('disables ext_authz on auth: none', () => {
    const r = route('health', { kind: 'none' });
    const l = listener([r], { authz: { failureMode: 'deny', timeoutMs: 250 } });
    expect(roundTripPerRoute(r, l, config([l]))).toEqual({ '@type': PER_ROUTE, disabled: true });
  });

  it('adds the filter when routes require auth on a listener without authz, disabling it elsewhere', () => {
    const secured = route('secured', jwt());
    const open = route('open');
    const l = listener([secured, open]);
    const c = config([l]);
    const tc = authzFeature.httpFilters(l, c)[0].typed_config as Record<string, unknown>;
    expect(tc.failure_mode_allow).toBe(false);
    expect(roundTripPerRoute(secured, l, c)).toMatchObject({ check_settings: { context_extensions: { [CONTEXT_AUTH]: '{"providers":["webskyne"]}' } } });
    expect(roundTripPerRoute(open, l, c)).toEqual({ '@type': PER_ROUTE, disabled: true });
  });

  it('contributes nothing where authz does not apply', () => {
    const plain = listener([route('r')]);
    const api = listener([route('g', jwt())], { kind: 'api', port: 0, authz: { failureMode: 'deny', timeoutMs: 250 } });
    const c = config([plain, api]);
    for (const l of [plain, api]) {
      expect(authzFeature.httpFilters(l, c)).toEqual([]);
      expect(authzFeature.route(l.hosts[0].routes[0], l, c)).toEqual({});
    }
    expect(authzFeature.clusters(c)).toEqual([]);
  });

  it('adds an HTTP/2 banyan_authz cluster pointing at services.authz', () => {
    const l = listener([route('r')], { authz: { failureMode: 'deny', timeoutMs: 250 } });
    for (const [address, type] of [['127.0.0.1', 'STATIC'], ['authz.banyan.svc', 'STRICT_DNS']] as const) {
      const clusters = authzFeature.clusters(config([l], address));
      expect(clusters).toHaveLength(1);
      const bytes = encodeMessage('envoy.config.cluster.v3.Cluster', clusters[0]);
      const back = decodeMessage<Record<string, unknown>>('envoy.config.cluster.v3.Cluster', bytes);
      expect(back).toMatchObject({
        name: 'banyan_authz',
        type,
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http2_protocol_options: {} } },
        },
        load_assignment: {
          cluster_name: 'banyan_authz',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address, port_value: 9191 } } } }] }],
        },
      });
    }
  });

  it('rejects malformed requirements with the offending field', () => {
    expect(() => decodeRequirement('not json')).toThrow('banyan.auth is not JSON');
    expect(() => decodeRequirement('{"mode":"some"}')).toThrow(/banyan\.auth: mode:/);
    expect(() => decodeRequirement('{"claims":[{"claim":"a","op":"gt","value":"1"}]}')).toThrow(/claims\.0/);
    expect(() => decodeRequirement('{"providers":["a"],"extra":1}')).toThrow(/banyan\.auth/);
  });
});
