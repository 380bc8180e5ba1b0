import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvoyResource } from '../../src/compile/types.js';
import { cluster, endpoints, listener, routes, snapshot } from './fixtures.js';
import { CDS, DeltaClient, EDS, LDS, namesOf, RDS, SotwClient, startHarness, type Harness } from './harness.js';

/**
 * Coalescing (issue 13, item 2): a stream that has not answered a type's last response is sent no
 * newer snapshot of it; when the answer comes it gets exactly one response, the newest, and for RDS
 * and EDS only what changed since what it ACKed. Intermediate versions are never sent.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const EDS_NAMES = Array.from({ length: 10 }, (_, i) => `e${i}`);
const RDS_NAMES = Array.from({ length: 8 }, (_, i) => `r${i}`);

/** Version k: endpoints e1..ek and routes r1..rk carry k's content; the rest are as at version 0. */
function version(k: number) {
  const changed = (i: number) => i >= 1 && i <= k;
  const eps: EnvoyResource[] = EDS_NAMES.map((n, i) => endpoints(n, `10.0.${i}.${changed(i) ? 100 + k : 1}:8080`));
  const rts: EnvoyResource[] = RDS_NAMES.map((n, i) => routes(n, changed(i) ? ['e0', `e${k % 10}`] : ['e0']));
  return snapshot({
    default: {
      clusters: EDS_NAMES.map((n) => cluster(n)),
      endpoints: eps,
      listeners: [listener('edge', 'r0', 10000)],
      routes: rts,
    },
  });
}

const statusOf = (node: string, typeUrl: string) => h.xds.status().find((s) => s.nodeId === node)!.types.find((t) => t.typeUrl === typeUrl)!;

describe('coalescing', () => {
  it('SotW: a client holding its ACK while 5 versions are set gets one response, the newest, partial for RDS and EDS', async () => {
    h.cache.setSnapshot(version(0));
    const c = SotwClient.ads(h.address, { id: 'slow-sotw' });
    const names = (t: string) => (t === EDS ? EDS_NAMES : t === RDS ? RDS_NAMES : []);
    try {
      c.request(CDS);
      c.request(EDS, EDS_NAMES);
      c.request(LDS);
      c.request(RDS, RDS_NAMES);
      for (let i = 0; i < 4; i++) {
        const r = await c.next();
        c.ack(r, names(r.type_url));
      }
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(version(1));
      const eds1 = await c.next(EDS);
      const rds1 = await c.next(RDS);
      expect(namesOf(eds1)).toEqual(['e1']); // partial: relative to version 0, which was ACKed
      expect(namesOf(rds1)).toEqual(['r1']);

      // The client holds both ACKs while five more versions are set.
      for (let k = 2; k <= 6; k++) h.cache.setSnapshot(version(k));
      expect(await c.barrier()).toEqual([]); // nothing sent while the answers are owed
      expect(statusOf('slow-sotw', EDS).state).toBe('STALE');
      const newestEds = statusOf('slow-sotw', EDS).currentVersion;
      const newestRds = statusOf('slow-sotw', RDS).currentVersion;

      c.ack(eds1, EDS_NAMES);
      const eds = await c.next(EDS);
      expect(eds.version_info).toBe(newestEds);
      // relative to version 1, which was just ACKed: e1 changed again, e2..e6 are new; e0, e7.. are not sent
      expect(namesOf(eds)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);

      c.ack(rds1, RDS_NAMES);
      const rds = await c.next(RDS);
      expect(rds.version_info).toBe(newestRds);
      expect(namesOf(rds)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);

      c.ack(eds, EDS_NAMES);
      c.ack(rds, RDS_NAMES);
      // exactly one response per type: no intermediate version followed
      expect(await c.barrier()).toEqual([]);
      expect(statusOf('slow-sotw', EDS)).toMatchObject({ state: 'SYNCED', versionAcked: newestEds });
      expect(statusOf('slow-sotw', RDS)).toMatchObject({ state: 'SYNCED', versionAcked: newestRds });
    } finally {
      c.close();
    }
  });

  it('SotW: a type waiting for its answer holds back the types after it (make before break), not those before', async () => {
    h.cache.setSnapshot(version(0));
    const c = SotwClient.ads(h.address, { id: 'slow-order' });
    try {
      c.request(EDS, EDS_NAMES);
      c.request(RDS, RDS_NAMES);
      c.ack(await c.next(EDS), EDS_NAMES);
      c.ack(await c.next(RDS), RDS_NAMES);
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(version(1));
      const eds1 = await c.next(EDS);
      const rds1 = await c.next(RDS);
      c.ack(rds1, RDS_NAMES); // routes answered, endpoints not
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(version(2));
      // RDS is answered, but EDS (earlier in push order) waits, so RDS waits with it
      expect(await c.barrier()).toEqual([]);
      c.ack(eds1, EDS_NAMES);
      const eds = await c.next(EDS);
      const rds = await c.next(RDS);
      expect(c.received.indexOf(eds)).toBeLessThan(c.received.indexOf(rds));
      expect(namesOf(eds)).toEqual(['e1', 'e2']);
      expect(namesOf(rds)).toEqual(['r1', 'r2']);
    } finally {
      c.close();
    }
  });

  it('SotW: a NACK releases what waited; the newest version goes, relative to what the client kept', async () => {
    h.cache.setSnapshot(version(0));
    const c = SotwClient.ads(h.address, { id: 'slow-nack' });
    try {
      c.request(EDS, EDS_NAMES);
      const eds0 = await c.next(EDS);
      c.ack(eds0, EDS_NAMES);
      expect(await c.barrier()).toEqual([]);
      h.cache.setSnapshot(version(1));
      const eds1 = await c.next(EDS);
      for (let k = 2; k <= 6; k++) h.cache.setSnapshot(version(k));
      c.nack(eds1, 'endpoints rejected', eds0.version_info, EDS_NAMES);
      const eds = await c.next(EDS);
      expect(eds.version_info).toBe(statusOf('slow-nack', EDS).currentVersion);
      // the client kept version 0: the response is relative to it
      expect(namesOf(eds)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
      c.ack(eds, EDS_NAMES);
      expect(await c.barrier()).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('delta: a client holding its ACK while 5 versions are set gets one response with what changed since', async () => {
    h.cache.setSnapshot(version(0));
    const c = DeltaClient.ads(h.address, { id: 'slow-delta' });
    try {
      c.request(EDS, { subscribe: EDS_NAMES });
      c.ack(await c.next(EDS));
      expect(await c.barrier()).toEqual([]);

      h.cache.setSnapshot(version(1));
      const one = await c.next(EDS);
      expect(one.resources.map((r) => r.name)).toEqual(['e1']);
      for (let k = 2; k <= 6; k++) h.cache.setSnapshot(version(k));
      expect(await c.barrier()).toEqual([]);

      c.ack(one);
      const newest = await c.next(EDS);
      expect(newest.system_version_info).toBe(statusOf('slow-delta', EDS).currentVersion);
      expect(newest.resources.map((r) => r.name).sort()).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
      c.ack(newest);
      expect(await c.barrier()).toEqual([]);
      expect(statusOf('slow-delta', EDS).state).toBe('SYNCED');
    } finally {
      c.close();
    }
  });
});
