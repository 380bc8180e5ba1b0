import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, endpoints, routes, snapshot } from './fixtures.js';
import { CDS, DeltaClient, LDS, namesOf, RDS, SotwClient, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const before = () => snapshot({ default: basicGroup() });
/** Routes stop using b and start using c: c must arrive before the routes, b must outlive them. */
const after = () =>
  snapshot({
    default: basicGroup({
      clusters: [cluster('a'), cluster('c')],
      endpoints: [endpoints('a', '10.0.0.1:8080'), endpoints('c', '10.0.0.3:8080')],
      routes: [routes('edge-routes', ['a', 'c'])],
    }),
  });

describe('make before break', () => {
  it('SotW: adds clusters before routes, removes a dropped cluster only after the route update is answered', async () => {
    h.cache.setSnapshot(before());
    const c = SotwClient.ads(h.address, { id: 'mbb' });
    try {
      c.request(CDS);
      c.request(LDS);
      c.request(RDS, ['edge-routes']);
      for (let i = 0; i < 3; i++) {
        const r = await c.next();
        c.ack(r, r.type_url === RDS ? ['edge-routes'] : []);
      }
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(after());
      const cds = await c.next(CDS);
      expect(namesOf(cds)).toEqual(['a', 'b', 'c']); // union: new c, old b kept
      const rds = await c.next(RDS);
      expect(c.received.indexOf(cds)).toBeLessThan(c.received.indexOf(rds));
      expect(c.unread()).toEqual([]); // nothing removed b before the routes went out
      c.ack(cds);

      const held = h.xds.status().find((s) => s.nodeId === 'mbb')!.types.find((t) => t.typeUrl === CDS)!;
      expect(held.state).toBe('STALE'); // acked the union, not yet the current set

      c.ack(rds, ['edge-routes']);
      const removal = await c.next(CDS);
      expect(namesOf(removal)).toEqual(['a', 'c']);
      c.ack(removal);
      expect(await c.barrier()).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('SotW: a NACK of the route update also releases the removal', async () => {
    h.cache.setSnapshot(before());
    const c = SotwClient.ads(h.address, { id: 'mbb-nack' });
    try {
      c.request(CDS);
      c.request(RDS, ['edge-routes']);
      const cds0 = await c.next(CDS);
      const rds0 = await c.next(RDS);
      c.ack(cds0);
      c.ack(rds0, ['edge-routes']);
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(after());
      const union = await c.next(CDS);
      const rds = await c.next(RDS);
      c.ack(union);
      c.nack(rds, 'route rejected', rds0.version_info, ['edge-routes']);
      expect(namesOf(await c.next(CDS))).toEqual(['a', 'c']);
    } finally {
      c.close();
    }
  });

  it('delta: cluster removal is deferred until the route update is ACKed', async () => {
    h.cache.setSnapshot(before());
    const c = DeltaClient.ads(h.address, { id: 'mbb-delta' });
    try {
      c.request(CDS);
      c.request(RDS, { subscribe: ['edge-routes'] });
      c.ack(await c.next(CDS));
      c.ack(await c.next(RDS));
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(after());
      const cds = await c.next(CDS);
      expect(cds.resources.map((r) => r.name)).toEqual(['c']);
      expect(cds.removed_resources).toEqual([]);
      const rds = await c.next(RDS);
      expect(c.unread()).toEqual([]);
      c.ack(cds);
      c.ack(rds);
      const removal = await c.next(CDS);
      expect(removal.removed_resources).toEqual(['b']);
      expect(removal.resources).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('removes a cluster at once when no listener or route changes with it', async () => {
    h.cache.setSnapshot(before());
    const c = SotwClient.ads(h.address, { id: 'mbb-plain' });
    try {
      c.request(CDS);
      c.ack(await c.next(CDS));
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a')] }) }));
      expect(namesOf(await c.next(CDS))).toEqual(['a']);
    } finally {
      c.close();
    }
  });
});

