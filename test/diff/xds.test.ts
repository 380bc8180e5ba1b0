import { describe, expect, it } from 'vitest';
import type { CompiledSnapshot, EnvoyResource, ResourceSet } from '../../src/compile/types.js';
import { TypeUrl, type TypeUrlValue } from '../../src/proto/envoy.js';
import { diffSnapshots } from '../../src/diff/xds.js';

function snapshot(groups: Record<string, Partial<Record<TypeUrlValue, EnvoyResource[]>>>): CompiledSnapshot {
  const map = new Map<string, ResourceSet>();
  for (const [group, types] of Object.entries(groups)) {
    const set: ResourceSet = new Map();
    for (const [typeUrl, resources] of Object.entries(types)) {
      set.set(typeUrl as TypeUrlValue, new Map(resources!.map((r) => [r.name ?? r.cluster_name!, r])));
    }
    map.set(group, set);
  }
  return { groups: map, groupOf: () => 'default', warnings: [] };
}

describe('diffSnapshots', () => {
  const routeConfig = (weight: number) => ({
    name: 'edge',
    virtual_hosts: [{ name: 'h', domains: ['*'], routes: [{ route: { weighted_clusters: { clusters: [{ name: 'a', weight }] } } }] }],
  });

  it('lists resources added, removed and changed per group and type', () => {
    const before = snapshot({
      default: { [TypeUrl.RouteConfiguration]: [routeConfig(10)], [TypeUrl.Cluster]: [{ name: 'a' }, { name: 'old' }] },
    });
    const after = snapshot({
      default: { [TypeUrl.RouteConfiguration]: [routeConfig(50)], [TypeUrl.Cluster]: [{ name: 'a' }, { name: 'new' }] },
      canary: { [TypeUrl.Cluster]: [{ name: 'a' }] },
    });
    const d = diffSnapshots(before, after);
    expect(d.empty).toBe(false);
    expect(d.groups).toEqual([
      { group: 'canary', status: 'added', types: [{ typeUrl: TypeUrl.Cluster, type: 'Cluster', added: ['a'], removed: [], changed: [] }] },
      {
        group: 'default',
        status: 'changed',
        types: [
          { typeUrl: TypeUrl.Cluster, type: 'Cluster', added: ['new'], removed: ['old'], changed: [] },
          { typeUrl: TypeUrl.RouteConfiguration, type: 'RouteConfiguration', added: [], removed: [], changed: ['edge'] },
        ],
      },
    ]);
    expect(d.summary).toBe(
      'canary (group added): 1 Cluster added; default: 1 Cluster added, 1 Cluster removed, 1 RouteConfiguration changed',
    );
  });

  it('treats key order as irrelevant and equal snapshots as no change', () => {
    const a = snapshot({ default: { [TypeUrl.Cluster]: [{ name: 'a', type: 'EDS', lb_policy: 'ROUND_ROBIN' }] } });
    const b = snapshot({ default: { [TypeUrl.Cluster]: [{ lb_policy: 'ROUND_ROBIN', type: 'EDS', name: 'a' }] } });
    expect(diffSnapshots(a, b)).toEqual({ groups: [], empty: true, summary: 'no changes' });
  });
});
