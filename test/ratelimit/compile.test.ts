import { describe, expect, it } from 'vitest';
import type { Config, Listener, Route } from '../../src/config/model.js';
import { ratelimitFeature, rateLimitConfigResources } from '../../src/compile/ratelimit.js';
import { decodeMessage, encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { fromRateLimitConfigResource } from '../../src/config/ratelimit/resource.js';

const pos = { file: 'banyan.yaml', line: 1, col: 1 };

function route(extra: Partial<Route> = {}): Route {
  return {
    name: 'r',
    match: { prefix: '/', caseSensitive: true, headers: [], query: [], grpc: false },
    action: { kind: 'forward', backends: [{ cluster: 'app', weight: 1, pos }], mirrors: [] },
    requestHeaders: { add: [], remove: [] },
    responseHeaders: { add: [], remove: [] },
    ratelimit: [],
    pos,
    ...extra,
  };
}

function listener(extra: Partial<Listener> = {}, routes: Route[] = [route()]): Listener {
  return { name: 'edge', kind: 'socket', address: '0.0.0.0', port: 10000, hosts: [{ name: 'h', domains: ['*'], routes, pos }], accessLog: false, pos, ...extra };
}

function config(listeners: Listener[], ratelimitYaml = ''): Config {
  return {
    listeners,
    clusters: [],
    groups: [],
    ratelimit: ratelimitYaml ? parseRateLimitYaml(ratelimitYaml, 'banyan.yaml').domains : [],
    auth: { providers: [] },
    services: { ratelimit: { address: 'ratelimit.internal', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } },
    rollouts: [],
  };
}

const anyOf = (typed: Record<string, unknown>) => ({ '@type': typed['@type'] as string, ...typed });
const encodeAny = (typed: Record<string, unknown>) => encodeMessage(typed['@type'] as string, Object.fromEntries(Object.entries(typed).filter(([k]) => k !== '@type')));

describe('ratelimit compile feature (golden)', () => {
  it('listener ratelimit → envoy.filters.http.ratelimit pointing at the banyan_ratelimit cluster', () => {
    const l = listener({ ratelimit: { domain: 'edge', failureMode: 'deny', timeoutMs: 50, headers: true } });
    const filters = ratelimitFeature.httpFilters(l, config([l]));
    expect(filters).toEqual([
      {
        name: 'envoy.filters.http.ratelimit',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit',
          domain: 'edge',
          timeout: { seconds: 0, nanos: 50_000_000 },
          failure_mode_deny: true,
          enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
          rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'banyan_ratelimit' } }, transport_api_version: 'V3' },
        },
      },
    ]);
    encodeAny(anyOf(filters[0].typed_config as Record<string, unknown>));
    expect(encodeMessage('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', filters[0]).length).toBeGreaterThan(0);
  });

  it('banyan_ratelimit cluster: HTTP/2, STRICT_DNS for names and STATIC for IPs, only when a listener uses it', () => {
    const l = listener({ ratelimit: { domain: 'edge', failureMode: 'allow', timeoutMs: 20, headers: false } });
    const c = config([l]);
    const [cluster] = ratelimitFeature.clusters(c);
    expect(cluster).toMatchObject({
      name: 'banyan_ratelimit',
      type: 'STRICT_DNS',
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http2_protocol_options: {} } } },
      load_assignment: { cluster_name: 'banyan_ratelimit', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'ratelimit.internal', port_value: 8081 } } } }] }] },
    });
    encodeMessage(TypeUrl.Cluster, cluster);
    c.services.ratelimit.address = '10.0.0.5';
    expect(ratelimitFeature.clusters(c)[0].type).toBe('STATIC');
    expect(ratelimitFeature.clusters(config([listener()]))).toEqual([]);
  });

  it('route ratelimit actions → RouteAction.rate_limits, every action type', () => {
    const r = route({
      ratelimit: [
        { actions: [{ type: 'remote_address' }], stage: 0, pos },
        {
          actions: [
            { type: 'request_headers', header: 'x-client-id', key: 'client', skipIfAbsent: true },
            { type: 'generic_key', value: 'login', key: 'op' },
            { type: 'destination_cluster' },
            { type: 'masked_remote_address', v4PrefixLen: 24, v6PrefixLen: 64 },
            { type: 'header_value_match', value: 'post', key: 'method', expectMatch: true, headers: [{ name: ':method', exact: 'POST', invert: false }] },
            { type: 'query_parameters', param: 'api_key', key: 'key', skipIfAbsent: false },
          ],
          stage: 1,
          pos,
        },
      ],
    });
    const out = ratelimitFeature.route(r, listener(), config([listener()]));
    expect(out.routeAction).toEqual({
      rate_limits: [
        { actions: [{ remote_address: {} }] },
        {
          stage: { value: 1 },
          actions: [
            { request_headers: { header_name: 'x-client-id', descriptor_key: 'client', skip_if_absent: true } },
            { generic_key: { descriptor_value: 'login', descriptor_key: 'op' } },
            { destination_cluster: {} },
            { masked_remote_address: { v4_prefix_mask_len: { value: 24 }, v6_prefix_mask_len: { value: 64 } } },
            { header_value_match: { descriptor_value: 'post', descriptor_key: 'method', expect_match: { value: true }, headers: [{ name: ':method', string_match: { exact: 'POST' } }] } },
            { query_parameters: { query_parameter_name: 'api_key', descriptor_key: 'key', skip_if_absent: false } },
          ],
        },
      ],
    });
    const bytes = encodeMessage('envoy.config.route.v3.RouteAction', { cluster: 'app', ...out.routeAction });
    const back = decodeMessage<{ rate_limits: { actions: Record<string, unknown>[] }[] }>('envoy.config.route.v3.RouteAction', bytes);
    expect(back.rate_limits[1].actions[5]).toEqual({ query_parameters: { query_parameter_name: 'api_key', descriptor_key: 'key', skip_if_absent: false } });
  });

  it('localRateLimit → local_ratelimit filter (off by default) + per-route token bucket at 100%', () => {
    const limited = route({ name: 'limited', localRateLimit: { maxTokens: 10, tokensPerFill: 5, fillIntervalMs: 1000, statusCode: 503 } });
    const l = listener({}, [limited, route({ name: 'free' })]);
    const filters = ratelimitFeature.httpFilters(l, config([l]));
    expect(filters).toEqual([
      { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', stat_prefix: 'local_rate_limit' } },
    ]);
    const per = ratelimitFeature.route(limited, l, config([l])).typedPerFilterConfig!['envoy.filters.http.local_ratelimit'];
    expect(per).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
      stat_prefix: 'local_rate_limit',
      token_bucket: { max_tokens: 10, tokens_per_fill: { value: 5 }, fill_interval: { seconds: 1 } },
      filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'local_rate_limit_enabled' },
      filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'local_rate_limit_enforced' },
      status: { code: 'ServiceUnavailable' },
    });
    encodeAny(per);
    encodeAny(filters[0].typed_config as Record<string, unknown>);
    expect(ratelimitFeature.route(route({ name: 'free' }), l, config([l]))).toEqual({});
    expect(ratelimitFeature.httpFilters(listener(), config([listener()]))).toEqual([]);
  });
});

describe('rate limit config over xDS (RateLimitConfig resources)', () => {
  const YAML = `domain: edge
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 50, name: per_ip }
  - key: client
    value: "gold*"
    shadow_mode: true
    detailed_metric: true
    fail_open: true
    rate_limit: { unit: minute, requests_per_unit: 100, algorithm: gcra, replaces: [{ name: per_ip }] }
    limits: [{ window: 5m, requests_per_unit: 400, algorithm: sliding }]
    descriptors:
      - key: path
        rate_limit: { unlimited: true }
`;

  it('one resource per domain that encodes as ratelimit.config.ratelimit.v3.RateLimitConfig and converts back unchanged', () => {
    const c = config([], YAML);
    const resources = rateLimitConfigResources(c);
    expect([...resources.keys()]).toEqual(['edge']);
    const res = resources.get('edge')!;
    expect(res).toMatchObject({ name: 'edge', domain: 'edge', descriptors: [{ key: 'remote_address', rate_limit: { unit: 'SECOND', requests_per_unit: 50, name: 'per_ip' } }, {}] });
    const bytes = encodeMessage(TypeUrl.RateLimitConfig, res);
    const decoded = decodeMessage(TypeUrl.RateLimitConfig, bytes);
    const domain = fromRateLimitConfigResource(decoded);
    const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x) => (k === 'pos' ? undefined : x)));
    expect(strip(domain)).toEqual(strip(c.ratelimit[0]));
  });

  it('reference fields keep the reference field numbers (key=1 value=2 rate_limit=3 descriptors=4 shadow_mode=5)', () => {
    const bytes = encodeMessage('ratelimit.config.ratelimit.v3.RateLimitDescriptor', { key: 'k', value: 'v', rate_limit: { unit: 'MINUTE', requests_per_unit: 7 }, shadow_mode: true });
    // tag(1,LEN)=0x0a 'k' | tag(2,LEN)=0x12 'v' | tag(3,LEN)=0x1a {unit(1)=2, rpu(2)=7} | tag(5,VARINT)=0x28 1
    expect(Buffer.from(bytes).toString('hex')).toBe('0a016b1201761a04080210072801');
  });

  it('an invalid resource is rejected with the same errors as a file', () => {
    expect(() => fromRateLimitConfigResource({ name: 'bad', domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'UNKNOWN', requests_per_unit: 1 } }] })).toThrow(
      /xds:bad:1:1: error: invalid rate limit unit ''/,
    );
  });
});
