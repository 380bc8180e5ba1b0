import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { decodeMessage, encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { cluster, config, encodeAll, host, listener, pos, route } from './fixtures.js';
import { Admission } from '../../src/admission/index.js';

const group = (snap: ReturnType<typeof compile>, name = 'default') => snap.groups.get(name)!;
const names = (snap: ReturnType<typeof compile>, type: (typeof TypeUrl)[keyof typeof TypeUrl], g = 'default') => [...group(snap, g).get(type)!.keys()];

describe('compile', () => {
  it('produces encodable resources sorted by name, deterministically', () => {
    const cfg = config({
      listeners: [listener({ name: 'zeta', hosts: [host([route({ to: 'b' })])] }), listener({ name: 'alpha', port: 10001, hosts: [host([route({ to: 'a' })])] })],
      clusters: [cluster({ name: 'b' }), cluster({ name: 'a' })],
    });
    const snap = compile(cfg);
    expect(encodeAll(snap)).toBe(8);
    expect(names(snap, TypeUrl.Listener)).toEqual(['alpha', 'zeta']);
    expect(names(snap, TypeUrl.Cluster)).toEqual(['a', 'b']);
    const again = compile(structuredClone(cfg));
    expect(JSON.stringify([...again.groups.get('default')!].map(([t, m]) => [t, [...m]]))).toBe(
      JSON.stringify([...snap.groups.get('default')!].map(([t, m]) => [t, [...m]])),
    );
  });

  it('encodes the HttpConnectionManager inside the Any (RDS over ADS, router last)', () => {
    const snap = compile(config({ listeners: [listener({ hosts: [host([route({ cors: { allowOrigins: ['*'], allowMethods: ['GET'], allowHeaders: [], exposeHeaders: [], allowCredentials: false } })])] })] }));
    const l = group(snap).get(TypeUrl.Listener)!.get('edge')!;
    const decoded = decodeMessage<any>(TypeUrl.Listener, encodeMessage(TypeUrl.Listener, l));
    const hcm = decoded.filter_chains[0].filters[0].typed_config;
    expect(hcm.rds).toEqual({ config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'edge' });
    expect(hcm.http_filters.map((f: any) => f.name)).toEqual(['envoy.filters.http.cors', 'envoy.filters.http.router']);
  });

  it('writes weighted_clusters with weights as written and a plain cluster for one backend', () => {
    const snap = compile(config({ listeners: [listener({ hosts: [host([route({ name: 'w', to: [{ cluster: 'app', weight: 90 }, { cluster: 'new', weight: 10 }] }), route({ name: 'p' })])] })], clusters: [cluster(), cluster({ name: 'new' })] }));
    const vh = (group(snap).get(TypeUrl.RouteConfiguration)!.get('edge') as any).virtual_hosts[0];
    expect(vh.routes[0].route).toEqual({ weighted_clusters: { clusters: [{ name: 'app', weight: { value: 90 } }, { name: 'new', weight: { value: 10 } }] } });
    expect(vh.routes[1].route).toEqual({ cluster: 'app' });
  });

  it('gives each zone a locality with load_balancing_weight = sum of its endpoint weights', () => {
    const snap = compile(config({ clusters: [cluster({ endpoints: [{ host: '10.0.0.2', port: 80, zone: 'b', weight: 3 }, { host: '10.0.0.1', port: 80, zone: 'a' }, { host: '10.0.0.3', port: 80, zone: 'b' }] })] }));
    const cla = group(snap).get(TypeUrl.ClusterLoadAssignment)!.get('app') as any;
    expect(cla.endpoints.map((e: any) => [e.locality?.zone, e.load_balancing_weight.value, e.lb_endpoints.length])).toEqual([
      ['a', 1, 1],
      ['b', 4, 2],
    ]);
  });

  it('always sets a locality, empty without a zone (gRPC NACKs a LocalityLbEndpoints without one)', () => {
    const snap = compile(config());
    const cla = group(snap).get(TypeUrl.ClusterLoadAssignment)!.get('app')!;
    const decoded = decodeMessage<any>(TypeUrl.ClusterLoadAssignment, encodeMessage(TypeUrl.ClusterLoadAssignment, cla));
    expect(decoded.endpoints[0].locality).toEqual({});
    expect(decoded.endpoints[0].load_balancing_weight).toEqual({ value: 1 });
  });

  it('inlines DNS endpoints and sends no ClusterLoadAssignment for them', () => {
    const snap = compile(config({ clusters: [cluster({ discovery: 'strict_dns', endpoints: [{ host: 'app.internal', port: 80 }] })] }));
    const c = group(snap).get(TypeUrl.Cluster)!.get('app') as any;
    expect(c.type).toBe('STRICT_DNS');
    expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address).toBe('app.internal');
    expect(names(snap, TypeUrl.ClusterLoadAssignment)).toEqual([]);
  });

  it('sends only the clusters a group routes to and warns about unused ones', () => {
    const snap = compile(config({ clusters: [cluster(), cluster({ name: 'orphan', pos: { file: 'c.yaml', line: 7, col: 5 } })] }));
    expect(names(snap, TypeUrl.Cluster)).toEqual(['app']);
    expect(snap.warnings).toEqual([expect.objectContaining({ severity: 'warning', file: 'c.yaml', line: 7, col: 5, message: expect.stringContaining('"orphan"') })]);
  });

  it('compiles api listeners for proxyless gRPC with only the router and max_stream_duration', () => {
    const api = listener({ name: 'orders', kind: 'api', port: 0, hosts: [host([route({ action: { kind: 'forward', backends: [{ cluster: 'app', weight: 1, pos }], mirrors: [], timeoutMs: 1500 } })], { domains: [] })] });
    const snap = compile(config({ listeners: [listener(), api] }));
    encodeAll(snap);
    const l = group(snap).get(TypeUrl.Listener)!.get('orders') as any;
    expect(l.address).toBeUndefined();
    expect(l.api_listener.api_listener.http_filters.map((f: any) => f.name)).toEqual(['envoy.filters.http.router']);
    const rc = group(snap).get(TypeUrl.RouteConfiguration)!.get('orders') as any;
    expect(rc.virtual_hosts[0].domains).toEqual(['*']);
    expect(rc.virtual_hosts[0].routes[0].route.max_stream_duration).toEqual({ max_stream_duration: { seconds: 1, nanos: 500_000_000 } });
    expect(snap.apiListenerNames).toEqual(new Set(['orders']));
  });

  it('leaves what api listeners cannot honour to admission: compile itself says nothing about a DNS cluster behind one', () => {
    const api = listener({ name: 'orders', kind: 'api', port: 0 });
    const c = cluster({ discovery: 'strict_dns', endpoints: [{ host: 'x.internal', port: 1 }] });
    const cfg = config({ listeners: [api], clusters: [c] });
    expect(compile(cfg).warnings).toEqual([]);
    const admitted = new Admission().admit(cfg, { file: 'x.yaml', line: 1, col: 1 });
    expect(admitted.diagnostics).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringMatching(/cluster "app" uses DNS endpoints, which proxyless gRPC clients \(api listener "orders"\) cannot honour/) })]);
  });
});

describe('compile: reserved names', () => {
  it('warns when a cluster takes the name of a feature cluster', async () => {
    const { FEATURES } = await import('../../src/compile/features.js');
    const base = config({ listeners: [listener({ authz: { failureMode: 'deny', timeoutMs: 250 } })] });
    const reserved = FEATURES.flatMap((f) => f.clusters(base)).map((c) => c.name!);
    expect(reserved).toContain('banyan_authz');
    const snap = compile({ ...base, clusters: [cluster(), cluster({ name: reserved[0], pos: { file: 'c.yaml', line: 3, col: 5 } })] });
    expect(snap.warnings.map((w) => w.message)).toContain(`cluster name "${reserved[0]}" is reserved for Banyan's own service; rename this cluster`);
  });
});
