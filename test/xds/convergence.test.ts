/**
 * banyan_xds_convergence_seconds{group}: a change is observed once every proxy of its group connected
 * when it was published has ACKed it; a NACK keeps it pending (and is counted), a disconnect stops it
 * being waited for, a newer change supersedes it, and a group without proxies observes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicGroup, cluster, snapshot } from '../conformance/fixtures.js';
import { CDS, DeltaClient, LDS, SotwClient, startHarness, type Harness, type Resp } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

async function value(name: string, labels: Record<string, string>, metricName = name): Promise<number | undefined> {
  const m = await h.registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => ((x as { metricName?: string }).metricName ?? name) === metricName && Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value;
}
const observed = (group: string) => value('banyan_xds_convergence_seconds', { group }, 'banyan_xds_convergence_seconds_count').then((v) => v ?? 0);
const pending = (group: string) => value('banyan_xds_convergence_pending_proxies', { group });
const nacked = (group: string) => value('banyan_xds_convergence_nacked_total', { group }).then((v) => v ?? 0);
const superseded = (group: string) => value('banyan_xds_convergence_superseded_total', { group }).then((v) => v ?? 0);

let version = 1;
/** A new CDS content for group `default` (and `other` unchanged unless asked). */
function publish(opts: { other?: boolean } = {}): void {
  version++;
  h.cache.setSnapshot(
    snapshot({
      default: basicGroup({ clusters: [cluster('a', version), cluster('b')] }),
      other: basicGroup({ clusters: [cluster('a', opts.other ? version : 1), cluster('b')] }),
    }),
  );
}

/** An ADS client on CDS that has ACKed what it was first sent. */
async function synced(id: string): Promise<{ c: SotwClient; last: Resp }> {
  const c = SotwClient.ads(h.address, { id });
  c.request(CDS);
  const last = await c.next(CDS);
  c.ack(last);
  return { c, last };
}

describe('convergence', () => {
  it('is observed once every connected proxy ACKs; a NACK keeps it pending until the NACKer leaves; a newer change supersedes', async () => {
    publish();
    const one = await synced('proxy-1');
    const two = await synced('proxy-2');
    const clients = [one.c, two.c];
    try {
      await eventually(async () => expect(await pending('default')).toBeUndefined());
      const before = await observed('default');

      // both must ACK: after one, still pending on the other
      publish();
      const r1 = await one.c.next(CDS);
      const r2 = await two.c.next(CDS);
      expect(await pending('default')).toBe(2);
      one.c.ack(r1);
      await eventually(async () => expect(await pending('default')).toBe(1));
      expect(await observed('default')).toBe(before);
      two.c.ack(r2);
      await eventually(async () => expect(await observed('default')).toBe(before + 1));
      expect(await pending('default')).toBeUndefined();
      const seconds = await value('banyan_xds_convergence_seconds', { group: 'default' }, 'banyan_xds_convergence_seconds_sum');
      expect(seconds).toBeGreaterThan(0);

      // a NACK keeps it unconverged and is counted once; the NACKer disconnecting releases it
      publish();
      const a1 = await one.c.next(CDS);
      const a2 = await two.c.next(CDS);
      one.c.ack(a1);
      two.c.nack(a2, 'cluster a rejected', r2.version_info);
      await eventually(async () => expect(await nacked('default')).toBe(1));
      expect(await pending('default')).toBe(1);
      expect(await observed('default')).toBe(before + 1);
      two.c.close();
      await eventually(async () => expect(await observed('default')).toBe(before + 2));
      expect(await pending('default')).toBeUndefined();

      // a newer change before the first converged: the first is dropped, the newer observed
      publish();
      const b1 = await one.c.next(CDS);
      publish();
      expect(await superseded('default')).toBe(1);
      one.c.ack(b1);
      const b2 = await one.c.next(CDS);
      expect(await observed('default')).toBe(before + 2);
      one.c.ack(b2);
      await eventually(async () => expect(await observed('default')).toBe(before + 3));

      // a group with no connected proxy observes nothing
      publish({ other: true });
      const c1 = await one.c.next(CDS);
      one.c.ack(c1);
      await eventually(async () => expect(await observed('default')).toBe(before + 4));
      expect(await pending('other')).toBeUndefined();
      expect(await observed('other')).toBe(0);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('waits for delta streams too, and a stream the change leaves alone is in sync after its flush', async () => {
    publish();
    const sotw = await synced('proxy-sotw');
    const delta = DeltaClient.ads(h.address, { id: 'proxy-delta' });
    // on LDS only: a CDS change sends it nothing, yet it is waited for until its flush finds it in sync
    const lds = SotwClient.ads(h.address, { id: 'proxy-lds' });
    try {
      delta.request(CDS, { subscribe: ['*'] });
      delta.ack(await delta.next(CDS));
      lds.request(LDS);
      lds.ack(await lds.next(LDS));
      await eventually(async () => expect(await pending('default')).toBeUndefined());
      const before = await observed('default');

      publish();
      expect(await pending('default')).toBe(3);
      const s1 = await sotw.c.next(CDS);
      const d1 = await delta.next(CDS);
      expect(d1.resources.map((r) => r.name)).toEqual(['a']);
      sotw.c.ack(s1);
      // the LDS stream and the SotW one are in sync; the delta one has not answered
      await eventually(async () => expect(await pending('default')).toBe(1));
      expect(await observed('default')).toBe(before);
      delta.ack(d1);
      await eventually(async () => expect(await observed('default')).toBe(before + 1));
      expect(lds.unread()).toEqual([]);
    } finally {
      for (const c of [sotw.c, delta, lds]) c.close();
    }
  });

  it('a proxy regrouped by a change is no longer waited for by its old group', async () => {
    publish();
    const moving = SotwClient.ads(h.address, { id: 'proxy-moving', cluster: 'third' });
    try {
      moving.request(CDS);
      moving.ack(await moving.next(CDS));
      // the earlier tests' clients are gone: only this one is waited for
      await eventually(() => expect(h.xds.streamCount).toBe(1));
      await eventually(async () => expect(await pending('default')).toBeUndefined());
      const before = await observed('default');
      publish();
      expect(await pending('default')).toBe(1);
      const unanswered = await moving.next(CDS);
      // a group `third` appears: the node moves there; default's change has no one left who synced
      h.cache.setSnapshot(
        snapshot({
          default: basicGroup({ clusters: [cluster('a', version), cluster('b')] }),
          other: basicGroup(),
          third: basicGroup(),
        }),
      );
      expect(await pending('default')).toBeUndefined();
      expect(await pending('third')).toBe(1);
      expect(await observed('default')).toBe(before);
      // what was sent for default is answered late; the newer selection waited for that answer
      moving.ack(unanswered);
      const inThird = await moving.next(CDS);
      expect(await observed('third')).toBe(0);
      moving.ack(inThird);
      await eventually(async () => expect(await observed('third')).toBe(1));
    } finally {
      moving.close();
    }
  });

  it('a group the config drops leaves the metrics (no series kept until restart), pending change and all', async () => {
    const groups = (third: boolean, v: number) =>
      snapshot({
        default: basicGroup({ clusters: [cluster('a', version), cluster('b')] }),
        other: basicGroup(),
        ...(third ? { third: basicGroup({ clusters: [cluster('a', v), cluster('b')] }) } : {}),
      });
    h.cache.setSnapshot(groups(true, 1));
    const p = SotwClient.ads(h.address, { id: 'proxy-third', cluster: 'third' });
    try {
      p.request(CDS);
      const first = await p.next(CDS);
      p.ack(first);
      await eventually(async () => expect(await pending('third')).toBeUndefined());
      expect(await observed('third')).toBeGreaterThan(0);
      // a change of third that the proxy rejects: pending, and counted as NACKed
      h.cache.setSnapshot(groups(true, 2));
      const rejected = await p.next(CDS);
      p.nack(rejected, 'cluster a rejected', first.version_info);
      await eventually(async () => expect(await nacked('third')).toBe(1));
      expect(await pending('third')).toBe(1);
      const defaultCount = await observed('default');

      h.cache.setSnapshot(groups(false, 2));
      expect(await pending('third')).toBeUndefined();
      for (const name of ['banyan_xds_convergence_nacked_total', 'banyan_xds_convergence_superseded_total']) expect(await value(name, { group: 'third' })).toBeUndefined();
      expect(await value('banyan_xds_convergence_seconds', { group: 'third' }, 'banyan_xds_convergence_seconds_count')).toBeUndefined();
      // the other groups keep theirs
      expect(await observed('default')).toBe(defaultCount);
      expect(await value('banyan_xds_convergence_seconds', { group: 'default' }, 'banyan_xds_convergence_seconds_count')).toBeDefined();
    } finally {
      p.close();
    }
  });
});
