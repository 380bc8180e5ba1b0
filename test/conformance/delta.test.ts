import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from './fixtures.js';
import { CDS, DeltaClient, EDS, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const names = (r: { resources: { name: string }[] }) => r.resources.map((x) => x.name).sort();

describe('delta xDS', () => {
  it('sends everything first, then only what changed, and removals in removed_resources', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = DeltaClient.ads(h.address, { id: 'delta-basic' });
    try {
      c.request(CDS);
      const first = await c.next(CDS);
      expect(names(first)).toEqual(['a', 'b']);
      expect(first.resources.every((r) => r.version && (r.resource as { name?: string }).name === r.name)).toBe(true);
      c.ack(first);
      expect(await c.barrier()).toEqual([]); // ACK not answered

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 3), cluster('b')] }) }));
      const update = await c.next(CDS);
      expect(names(update)).toEqual(['a']);
      expect(update.resources[0].version).not.toBe(first.resources.find((r) => r.name === 'a')!.version);
      c.ack(update);

      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 3)] }) }));
      const removal = await c.next(CDS);
      expect(removal.resources).toEqual([]);
      expect(removal.removed_resources).toEqual(['b']);
    } finally {
      c.close();
    }
  });

  it('honours initial_resource_versions: a reconnecting client gets only what it lacks', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const first = DeltaClient.ads(h.address, { id: 'delta-reconnect-1' });
    let versions: Record<string, string>;
    try {
      first.request(CDS);
      const r = await first.next(CDS);
      versions = Object.fromEntries(r.resources.map((x) => [x.name, x.version]));
    } finally {
      first.close();
    }
    h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a'), cluster('b', 8), cluster('c')] }) }));
    const again = DeltaClient.ads(h.address, { id: 'delta-reconnect-2' });
    try {
      again.request(CDS, { initial: { ...versions, gone: 'v0' } });
      const r = await again.next(CDS);
      expect(names(r)).toEqual(['b', 'c']);
      expect(r.removed_resources).toEqual(['gone']);
    } finally {
      again.close();
    }
  });

  it('does not re-send NACKed resource versions and sends the next different one', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = DeltaClient.ads(h.address, { id: 'delta-nack' });
    try {
      c.request(CDS);
      c.ack(await c.next(CDS));
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 6), cluster('b')] }) }));
      const bad = await c.next(CDS);
      c.nack(bad, 'cluster a rejected');
      expect(await c.barrier()).toEqual([]);
      const st = h.xds.status().find((s) => s.nodeId === 'delta-nack')!.types.find((t) => t.typeUrl === CDS)!;
      expect(st.state).toBe('NACKED');
      expect(st.lastNack?.message).toBe('cluster a rejected');

      // b changes; a is still the rejected content and stays unsent.
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 6), cluster('b', 2)] }) }));
      const bOnly = await c.next(CDS);
      expect(names(bOnly)).toEqual(['b']);
      c.ack(bOnly); // (the next snapshot would otherwise wait for this answer: coalescing)
      h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 9), cluster('b', 2)] }) }));
      const fixed = await c.next(CDS);
      expect(names(fixed)).toEqual(['a']);
    } finally {
      c.close();
    }
  });

  it('subscribes and unsubscribes EDS by name', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = DeltaClient.ads(h.address, { id: 'delta-eds' });
    try {
      c.request(EDS, { subscribe: ['a'] });
      const one = await c.next(EDS);
      expect(names(one)).toEqual(['a']);
      c.request(EDS, { subscribe: ['b'], ack: one });
      const two = await c.next(EDS);
      expect(names(two)).toEqual(['b']);
      c.request(EDS, { unsubscribe: ['a'], ack: two });
      expect(await c.barrier()).toEqual([]); // the unsubscription is in before the snapshot changes
      h.cache.setSnapshot(snapshot({ default: basicGroup({ endpoints: [] }) }));
      const gone = await c.next(EDS);
      expect(gone.removed_resources).toEqual(['b']); // a was unsubscribed, so no removal is owed for it
    } finally {
      c.close();
    }
  });
});
