import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as envoy from '../../src/compile/envoy-types.js';
import { FEATURES } from '../../src/compile/features.js';
import { compile } from '../../src/compile/index.js';
import { resourcesOf } from '../../src/compile/types.js';
import { compact, HCM_TYPE, typed } from '../../src/compile/util.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { encodeMessage, envoyRoot, messageType, TypeUrl } from '../../src/proto/envoy.js';

/**
 * The compiler's values are typed by proto-loader-gen-types output (npm run gen:types). The
 * `@ts-expect-error` lines are the proof that the types bite: the suite's tsc run fails if any of them
 * stops being an error. At run time they show what encodeMessage alone used to catch, or let through.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'src/proto/generated/manifest.json'), 'utf8')) as { protos: string[] };

describe('generated Envoy types', () => {
  it('a misspelled field is a tsc error, where it used to wait for encodeMessage', () => {
    // @ts-expect-error stat_prefx is not a field of HttpConnectionManager
    const hcm = typed(HCM_TYPE, { stat_prefx: 'edge' });
    expect(() => encodeMessage(TypeUrl.Listener, { name: 'l', api_listener: { api_listener: hcm } })).toThrow(/unknown field "stat_prefx"/);
  });

  it('value shapes are checked too, which nothing did before', () => {
    // @ts-expect-error a Duration is {seconds, nanos}, never Envoy's YAML "1s"
    const cluster: envoy.Cluster = { name: 'c', connect_timeout: '1s' };
    // @ts-expect-error enum names are checked
    const lb: envoy.Cluster = { name: 'c', lb_policy: 'ROUND_ROBBIN' };
    // @ts-expect-error a typed_config's fields are checked against the type its URL names (Router has no stat_prefix)
    const router = typed('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', { stat_prefix: 'x' });
    // @ts-expect-error compact() takes its type from where the result goes, so it does not hide a typo
    const retry: envoy.RouteAction = { retry_policy: compact({ retry_onn: '5xx' }) };
    expect([cluster, lb, router, retry]).toHaveLength(4);
  });

  it('typed() writes protobufjs Any wrapper form: @type first, then the fields', () => {
    const any = typed(HCM_TYPE, { stat_prefix: 'edge', codec_type: 'AUTO' });
    expect(Object.entries(any)).toEqual([
      ['@type', HCM_TYPE],
      ['stat_prefix', 'edge'],
      ['codec_type', 'AUTO'],
    ]);
    expect(encodeMessage(TypeUrl.Listener, { name: 'l', api_listener: { api_listener: any } }).length).toBeGreaterThan(0);
  });

  it('resourcesOf reads a compiled group back as the generated types', () => {
    const yaml = 'listeners:\n  - name: edge\n    port: 10000\n    hosts:\n      - domains: ["*"]\n        routes:\n          - match: { prefix: / }\n            to: app\nclusters:\n  - name: app\n    endpoints: [127.0.0.1:8080]\n';
    const set = compile(loadConfigFromString(yaml, 'test.yaml').config!).groups.get('default')!;
    const listener = resourcesOf(set, TypeUrl.Listener).get('edge')!;
    expect(listener.filter_chains?.[0].filters?.[0].name).toBe('envoy.filters.network.http_connection_manager');
    // @ts-expect-error filter_chain is not a Listener field
    expect(listener.filter_chain).toBeUndefined();
    expect(resourcesOf(set, TypeUrl.Cluster).get('app')?.connect_timeout).toEqual({ seconds: 5 });
  });

  it('every typed_config URL names a message of the root Banyan loads', () => {
    // A Record over the URL union: tsc fails when TypedConfigs gains or loses a URL this list lacks or has.
    const urls: Record<envoy.TypedConfigUrl, true> = {
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': true,
      'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router': true,
      'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors': true,
      'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy': true,
      'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault': true,
      'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz': true,
      'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute': true,
      'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit': true,
      'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit': true,
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog': true,
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext': true,
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext': true,
      'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': true,
      'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions': true,
    };
    for (const url of Object.keys(urls)) expect(messageType(url).fullName).toBe(`.${url.split('/')[1]}`);
  });

  it('types are generated from protos the runtime root loads, including every feature\'s', () => {
    const loaded = envoyRoot().files.map((f) => f.replace(/\\/g, '/'));
    for (const proto of manifest.protos) expect(loaded.some((f) => f.endsWith(`/${proto}`)), proto).toBe(true);
    for (const feature of FEATURES) for (const proto of feature.protos) expect(manifest.protos, `${feature.name}: ${proto}`).toContain(proto);
  });
});
