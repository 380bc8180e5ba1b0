import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from './fixtures.js';
import { CDS, EDS, LDS, namesOf, RDS, SotwClient, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.cache.setSnapshot(snapshot({ default: basicGroup() }));
});
afterAll(async () => {
  await h?.stop();
});

describe('per-type services (non-ADS)', () => {
  it('serves LDS, RDS, CDS and EDS on their own services, each on its own stream', async () => {
    const cases: [string, string[], string[]][] = [
      [LDS, [], ['edge']],
      [RDS, ['edge-routes'], ['edge-routes']],
      [CDS, [], ['a', 'b']],
      [EDS, ['a'], ['a']],
    ];
    const clients = cases.map(([t]) => SotwClient.perType(h.address, t, { id: `per-type-${t}` }));
    try {
      for (const [i, [typeUrl, names, expected]] of cases.entries()) {
        clients[i].request(typeUrl, names);
        const r = await clients[i].next(typeUrl);
        expect(namesOf(r)).toEqual(expected);
        clients[i].ack(r, names);
      }
      const kinds = h.xds.status().filter((s) => s.nodeId.startsWith('per-type-'));
      expect(kinds.map((s) => s.kind)).toEqual(['sotw', 'sotw', 'sotw', 'sotw']);
      expect(kinds.map((s) => s.service).sort()).toEqual([
        'envoy.service.cluster.v3.ClusterDiscoveryService',
        'envoy.service.endpoint.v3.EndpointDiscoveryService',
        'envoy.service.listener.v3.ListenerDiscoveryService',
        'envoy.service.route.v3.RouteDiscoveryService',
      ]);

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a'), cluster('b', 2)] }) }));
      const cds = await clients[2].next(CDS);
      expect(namesOf(cds)).toEqual(['a', 'b']);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('takes the type from the service when a request leaves type_url empty', async () => {
    const c = SotwClient.perType(h.address, CDS, { id: 'no-type' });
    try {
      c.write({ resource_names: [] });
      const r = await c.next();
      expect(r.type_url).toBe(CDS);
      expect(r.names.length).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  });
});
