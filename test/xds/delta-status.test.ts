import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from '../conformance/fixtures.js';
import { CDS, DeltaClient, SotwClient, startHarness, type Harness } from '../conformance/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const cdsState = (nodeId: string) => h.xds.status().find((s) => s.nodeId === nodeId)!.types.find((t) => t.typeUrl === CDS)!.state;

/**
 * NACKED means the proxy rejected the latest response sent (status.ts). A delta stream kept saying
 * NACKED after a newer response had gone out, until that one was ACKed; a SotW stream said STALE.
 */
describe('sync state after a NACK, on both stream kinds', () => {
  it('delta: a newer response in flight is STALE, not NACKED', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = DeltaClient.ads(h.address, { id: 'delta-nack-then-newer' });
    try {
      c.request(CDS);
      c.ack(await c.next(CDS));
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 6), cluster('b')] }) }));
      c.nack(await c.next(CDS), 'cluster a rejected');
      expect(await c.barrier()).toEqual([]);
      expect(cdsState('delta-nack-then-newer')).toBe('NACKED');

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 6), cluster('b', 2)] }) }));
      const newer = await c.next(CDS);
      expect(cdsState('delta-nack-then-newer')).toBe('STALE');
      c.ack(newer);
      expect(await c.barrier()).toEqual([]);
      expect(cdsState('delta-nack-then-newer')).toBe('SYNCED');
    } finally {
      c.close();
    }
  });

  it('SotW: the same sequence reads the same', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = SotwClient.ads(h.address, { id: 'sotw-nack-then-newer' });
    try {
      c.request(CDS);
      const first = await c.next(CDS);
      c.ack(first);
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 6), cluster('b')] }) }));
      c.nack(await c.next(CDS), 'cluster a rejected', first.version_info);
      expect(await c.barrier()).toEqual([]);
      expect(cdsState('sotw-nack-then-newer')).toBe('NACKED');

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 7), cluster('b', 2)] }) }));
      const newer = await c.next(CDS);
      expect(cdsState('sotw-nack-then-newer')).toBe('STALE');
      c.ack(newer);
      expect(await c.barrier()).toEqual([]);
      expect(cdsState('sotw-nack-then-newer')).toBe('SYNCED');
    } finally {
      c.close();
    }
  });
});
