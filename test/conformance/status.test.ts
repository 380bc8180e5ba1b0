import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from './fixtures.js';
import { CDS, EDS, SotwClient, startHarness, type Harness } from './harness.js';
import { eventually } from '../support/eventually.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await h.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0);
}

describe('proxy status and metrics', () => {
  it('reports node, group, kind and per-type versions, nonces, subscriptions and sync state', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup(), edge: basicGroup() }));
    const c = SotwClient.ads(h.address, { id: 'envoy-1', cluster: 'edge' });
    try {
      c.request(CDS);
      c.request(EDS, ['b', 'a']);
      const cds = await c.next(CDS);
      const eds = await c.next(EDS);

      let [s] = h.xds.status().filter((p) => p.nodeId === 'envoy-1');
      expect(s).toMatchObject({ nodeCluster: 'edge', group: 'edge', kind: 'ads-sotw', service: 'envoy.service.discovery.v3.AggregatedDiscoveryService' });
      expect(Number.isNaN(Date.parse(s.connectedSince))).toBe(false);
      expect(s.types.map((t) => [t.typeUrl, t.state, t.versionSent, t.lastNonce, t.subscribed])).toEqual([
        [CDS, 'STALE', cds.version_info, cds.nonce, ['*']],
        [EDS, 'STALE', eds.version_info, eds.nonce, ['a', 'b']],
      ]);
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);

      c.ack(cds);
      c.ack(eds, ['a', 'b']);
      await eventually(() => {
        [s] = h.xds.status().filter((p) => p.nodeId === 'envoy-1');
        expect(s.types.map((t) => t.state)).toEqual(['SYNCED', 'SYNCED']);
      });
      expect(s.types[0]).toMatchObject({ versionAcked: cds.version_info, currentVersion: cds.version_info });

      h.cache.setSnapshot(snapshot({ default: basicGroup(), edge: basicGroup({ clusters: [cluster('a', 2), cluster('b')] }) }));
      const bad = await c.next(CDS);
      await eventually(() => expect(h.xds.status().find((p) => p.nodeId === 'envoy-1')!.types[0].state).toBe('STALE'));
      c.nack(bad, 'no good', cds.version_info);
      await eventually(() => {
        const t = h.xds.status().find((p) => p.nodeId === 'envoy-1')!.types[0];
        expect(t.state).toBe('NACKED');
        expect(t.lastNack).toMatchObject({ version: bad.version_info, message: 'no good', code: 3 });
        expect(t.versionAcked).toBe(cds.version_info);
      });
    } finally {
      c.close();
    }
    await eventually(() => expect(h.xds.status().find((p) => p.nodeId === 'envoy-1')).toBeUndefined());
  });

  it('counts streams, pushes, bytes, NACKs and push latency', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const pushes = await metric('banyan_xds_pushes_total', { type: 'Cluster' });
    const nacks = await metric('banyan_xds_nacks_total', { type: 'Cluster' });
    const bytes = await metric('banyan_xds_bytes_sent_total', { type: 'Cluster' });
    const c = SotwClient.ads(h.address, { id: 'metrics' });
    try {
      c.request(CDS);
      const first = await c.next(CDS);
      expect(await metric('banyan_xds_connected_streams', { kind: 'ads-sotw' })).toBe(1);
      c.ack(first);
      expect(await c.barrier()).toEqual([]);
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 5), cluster('b')] }) }));
      const second = await c.next(CDS);
      c.nack(second, 'nope', first.version_info);
      await eventually(async () => expect(await metric('banyan_xds_nacks_total', { type: 'Cluster' })).toBe(nacks + 1));
      expect(await metric('banyan_xds_pushes_total', { type: 'Cluster' })).toBe(pushes + 2);
      expect(await metric('banyan_xds_bytes_sent_total', { type: 'Cluster' })).toBe(bytes + first.raw.length + second.raw.length);
      const latency = await h.registry.getSingleMetric('banyan_xds_push_latency_seconds')!.get();
      expect((latency.values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).find((v) => v.metricName === 'banyan_xds_push_latency_seconds_count' && v.labels.type === 'Cluster')?.value).toBeGreaterThanOrEqual(1);
    } finally {
      c.close();
    }
    await eventually(async () => expect(await metric('banyan_xds_connected_streams', { kind: 'ads-sotw' })).toBe(0));
  });
});
