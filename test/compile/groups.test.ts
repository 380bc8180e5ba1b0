import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { globToRegExp } from '../../src/compile/groups.js';
import type { ProxyGroup } from '../../src/config/model.js';
import type { NodeInfo } from '../../src/compile/types.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { config, host, listener, pos, route } from './fixtures.js';

const node = (over: Partial<NodeInfo> = {}): NodeInfo => ({ id: 'n1', cluster: 'c', metadata: {}, userAgentName: 'envoy', ...over });
const grp = (name: string, match: Partial<ProxyGroup['match']>, listeners: string[] = []): ProxyGroup => ({
  name,
  match: { cluster: [], id: [], metadata: {}, ...match },
  listeners,
  pos,
});

describe('proxy groups', () => {
  const cfg = config({
    listeners: [
      listener({ name: 'edge', port: 10000 }),
      listener({ name: 'side', port: 15001 }),
      listener({ name: 'orders', kind: 'api', port: 0, hosts: [host([route()])] }),
    ],
    groups: [
      grp('edges', { cluster: ['edge-*'] }, ['edge']),
      grp('sidecars', { id: ['sidecar~*', 'pod-1'], metadata: { zone: 'eu-*' } }, ['side']),
      grp('everything', { metadata: { role: 'all' } }),
    ],
  });
  const snap = compile(cfg);
  const listeners = (g: string) => [...snap.groups.get(g)!.get(TypeUrl.Listener)!.keys()];

  it('picks the first group whose match accepts the node', () => {
    expect(snap.groupOf(node({ cluster: 'edge-eu' }))).toBe('edges');
    expect(snap.groupOf(node({ cluster: 'edge-eu', metadata: { role: 'all' } }))).toBe('edges');
    expect(snap.groupOf(node({ id: 'pod-1', metadata: { zone: 'eu-west' } }))).toBe('sidecars');
    expect(snap.groupOf(node({ id: 'sidecar~10.0.0.1', metadata: { zone: 'us-east' } }))).toBe('default');
    expect(snap.groupOf(node({ metadata: { role: 'all' } }))).toBe('everything');
    expect(snap.groupOf(node({ metadata: { role: 1 } }))).toBe('default');
    expect(snap.groupOf(node({ cluster: 'edge' }))).toBe('default');
  });

  it('serves each group its listeners, api listeners in every group', () => {
    expect(listeners('edges')).toEqual(['edge', 'orders']);
    expect(listeners('sidecars')).toEqual(['orders', 'side']);
    expect(listeners('everything')).toEqual(['edge', 'orders', 'side']);
    expect(listeners('default')).toEqual(['edge', 'orders', 'side']);
  });

  it('shares one resource object between groups so it can be encoded once', () => {
    const a = snap.groups.get('edges')!.get(TypeUrl.Listener)!.get('orders');
    expect(snap.groups.get('sidecars')!.get(TypeUrl.Listener)!.get('orders')).toBe(a);
  });

  it('uses a group named default for unmatched nodes when one is configured', () => {
    const own = compile(config({ listeners: [listener({ name: 'a' }), listener({ name: 'b', port: 2 })], groups: [grp('default', { cluster: ['never'] }, ['b'])] }));
    expect(own.groupOf(node())).toBe('default');
    expect([...own.groups.keys()]).toEqual(['default']);
    expect([...own.groups.get('default')!.get(TypeUrl.Listener)!.keys()]).toEqual(['b']);
  });

  it('globs: * matches any run, everything else is literal', () => {
    expect(globToRegExp('a.*').test('a.b.c')).toBe(true);
    expect(globToRegExp('a.*').test('axb')).toBe(false);
    expect(globToRegExp('*').test('')).toBe(true);
    expect(globToRegExp('x(y)').test('x(y)')).toBe(true);
  });
});

describe('proxy groups: api-only', () => {
  it('serves no socket listener to a group that lists only api listeners', () => {
    const snap = compile(
      config({
        listeners: [listener({ name: 'edge' }), listener({ name: 'orders', kind: 'api', port: 0 })],
        groups: [{ name: 'grpc', match: { cluster: [], id: [], metadata: { kind: 'grpc' } }, listeners: ['orders'], pos }],
      }),
    );
    expect([...snap.groups.get('grpc')!.get(TypeUrl.Listener)!.keys()]).toEqual(['orders']);
    expect([...snap.groups.get('default')!.get(TypeUrl.Listener)!.keys()]).toEqual(['edge', 'orders']);
  });
});
