/**
 * banyan_xds_proxy_sync_state{node_id,group,state} and banyan_xds_proxies{group,state}: each connected
 * proxy in exactly one state (STALE until it ACKs, SYNCED after, NACKED when it rejects the latest
 * response), counted per group, and gone from the next scrape once it disconnects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from '../conformance/fixtures.js';
import { CDS, SotwClient, startHarness, type Harness } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

async function series(name: string): Promise<Record<string, string | number>[]> {
  const m = await h.registry.getSingleMetric(name)!.get();
  return m.values.map((v) => ({ ...v.labels, value: v.value }));
}

describe('sync state gauges', () => {
  it('follow ACK, NACK and disconnect, one state per proxy', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = SotwClient.ads(h.address, { id: 'proxy-1' });
    try {
      c.request(CDS);
      const first = await c.next(CDS);
      expect(await series('banyan_xds_proxy_sync_state')).toEqual([{ node_id: 'proxy-1', group: 'default', state: 'STALE', value: 1 }]);
      c.ack(first);
      // Waited on the gauge itself: a barrier would leave its own sentinel type unACKed (STALE).
      await eventually(async () => expect(await series('banyan_xds_proxy_sync_state')).toEqual([{ node_id: 'proxy-1', group: 'default', state: 'SYNCED', value: 1 }]));
      expect(await series('banyan_xds_proxies')).toEqual([{ group: 'default', state: 'SYNCED', value: 1 }]);

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 7), cluster('b')] }) }));
      const bad = await c.next(CDS);
      c.nack(bad, 'cluster a rejected', first.version_info);
      await eventually(async () => expect(await series('banyan_xds_proxy_sync_state')).toEqual([{ node_id: 'proxy-1', group: 'default', state: 'NACKED', value: 1 }]));
      expect(await series('banyan_xds_proxies')).toEqual([{ group: 'default', state: 'NACKED', value: 1 }]);
    } finally {
      c.close();
    }
    await eventually(async () => expect(await series('banyan_xds_proxy_sync_state')).toEqual([]));
    expect(await series('banyan_xds_proxies')).toEqual([]);
  });
});
