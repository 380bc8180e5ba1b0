import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/pg-migrations.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { StoreChange } from '../../src/store/types.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { sampleLoad, sampleProxy, sampleReplica, sampleRollout, storeContract } from './contract.js';

let server: PostgresServer;
let dbCount = 0;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

const freshDatabase = () => server.createDatabase(`banyan_test_${++dbCount}`);

storeContract('postgres', async () => {
  const url = await freshDatabase();
  const h = {
    store: (await PostgresStore.open({ url })) as PostgresStore,
    async reopen() {
      await h.store.close();
      h.store = await PostgresStore.open({ url });
      return h.store;
    },
    async cleanup() {
      await h.store.close();
    },
  };
  return h;
});

describe('postgres store with several replicas', () => {
  it('migrates once when replicas start together, and again is a no-op', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open({ url })));
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query('SELECT id FROM banyan_migrations');
      await client.end();
      expect(rows.map((r) => r.id).sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.id));
      expect(MIGRATIONS.map((m) => m.id)).toEqual(expect.arrayContaining([1, 2, 3]));
      await stores[0].setOverride({ route: 'r', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
      expect(await stores[2].getOverride('r')).toBeDefined();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("fires the other replica's watch within a second of a change", async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      const seenByB: { change: StoreChange; at: number }[] = [];
      b.watch((change) => seenByB.push({ change, at: Date.now() }));
      for (const route of ['auth', 'orders', 'search']) {
        const sent = Date.now();
        await a.setOverride({ route, backends: [{ cluster: 'v2', weight: 100 }], author: 'alice', reason: 'shift', baseHash: 'h' });
        const seen = await eventually(() => {
          const hit = seenByB.find((s) => s.change.target === route);
          expect(hit).toBeDefined();
          return hit!;
        }, 2000);
        expect(seen.change.kind).toBe('override');
        expect(seen.at - sent).toBeLessThan(1000);
        expect((await b.getOverride(route))?.backends).toEqual([{ cluster: 'v2', weight: 100 }]);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('lets exactly one replica win concurrent creates and concurrent step updates', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      const creates = await Promise.allSettled([a, b, a, b].map((s, i) => s.createRollout(sampleRollout(`r${i}`, 'auth'), { actor: `u${i}`, action: 'rollout.start' })));
      expect(creates.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
      const [r] = await a.activeRollouts();
      const updates = await Promise.allSettled(
        [a, b].map((s) => s.updateRollout({ ...r, currentStep: 1, percent: 50 }, r.revision, { actor: 'runner', action: 'rollout.step' })),
      );
      expect(updates.filter((u) => u.status === 'fulfilled')).toHaveLength(1);
      expect((await b.listAudit()).filter((e) => e.action === 'rollout.step')).toHaveLength(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('migration 3 keeps a replica record stored as jsonb and stores proxies as (lz4) text from then on', async () => {
    const url = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // a database as a Banyan with migrations 1 and 2 left it, holding one record
      await client.query('CREATE TABLE banyan_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of MIGRATIONS.filter((m) => m.id <= 2)) {
        await client.query(m.sql);
        await client.query('INSERT INTO banyan_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      }
      const old = sampleReplica('replica-old', { proxies: [sampleProxy('envoy-1'), sampleProxy('envoy-2')] });
      await client.query('INSERT INTO banyan_replicas VALUES ($1, $2, $3, $4, $5::jsonb)', [old.replica, old.servedKey, old.reportedAt, old.expiresAt, JSON.stringify(old.proxies)]);

      const store = await PostgresStore.open({ url });
      try {
        expect(await store.listReplicaStatus(15_000)).toEqual([old]);
        const { rows } = await client.query(
          `SELECT format_type(atttypid, atttypmod) AS type, attcompression AS compression FROM pg_attribute WHERE attrelid = 'banyan_replicas'::regclass AND attname = 'proxies'`,
        );
        const lz4 = (await client.query(`SELECT 'lz4' = ANY (enumvals) AS yes FROM pg_settings WHERE name = 'default_toast_compression'`)).rows[0]?.yes;
        expect(rows[0]).toEqual({ type: 'text', compression: lz4 ? 'l' : '' });
        await store.putReplicaStatus(sampleReplica('replica-new'));
        expect((await store.listReplicaStatus(15_000)).map((r) => r.replica)).toEqual(['replica-new', 'replica-old']);
      } finally {
        await store.close();
      }
    } finally {
      await client.end();
    }
  });

  it('renews a lease without rewriting the proxies: a small fraction of the WAL of a put', async () => {
    const url = await freshDatabase();
    const store = await PostgresStore.open({ url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const walSince = async (lsn: string) => Number((await client.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS b', [lsn])).rows[0].b);
      const lsn = async () => (await client.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
      // distinct proxies (peers, versions) so the record does not compress to nothing
      const proxies = Array.from({ length: 1000 }, (_, i) => sampleProxy(`envoy-${i}`, { peer: `ipv4:10.0.${i >> 8}.${i & 255}:${40000 + i}`, streamId: `${i * 7919}` }));
      const record = sampleReplica('replica-a', { proxies });
      let at = await lsn();
      await store.putReplicaStatus(record);
      const put = await walSince(at);
      at = await lsn();
      expect(await store.renewReplicaStatus({ replica: 'replica-a', servedKey: 'k2', reportedAt: 11_000, expiresAt: 21_000 })).toBe(true);
      const renew = await walSince(at);
      expect(put).toBeGreaterThan(20_000);
      expect(renew).toBeLessThan(put / 4);
      const [listed] = await store.listReplicaStatus(15_000);
      expect(listed).toEqual({ ...record, servedKey: 'k2', reportedAt: 11_000, expiresAt: 21_000 });
    } finally {
      await client.end();
      await store.close();
    }
  });

  it("shares replica status and load samples between replicas without firing the other's watch", async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      const seenByB: StoreChange[] = [];
      b.watch((c) => seenByB.push(c));
      await a.putReplicaStatus(sampleReplica('replica-a'));
      await b.putReplicaStatus(sampleReplica('replica-b'));
      await a.addLoadSamples([sampleLoad('auth', 1000, { replica: 'replica-a' })]);
      await b.addLoadSamples([sampleLoad('auth', 1000, { replica: 'replica-b' })]);
      expect((await b.listReplicaStatus(15_000)).map((r) => r.replica)).toEqual(['replica-a', 'replica-b']);
      expect((await a.listLoadSamples(['auth'], 0, 1000)).map((s) => s.replica).sort()).toEqual(['replica-a', 'replica-b']);
      await a.removeReplicaStatus('replica-a');
      expect((await b.listReplicaStatus(15_000)).map((r) => r.replica)).toEqual(['replica-b']);
      // NOTIFYs arrive in commit order: once B hears this change it would have heard any from the writes above
      await a.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
      await eventually(() => expect(seenByB).toContainEqual({ kind: 'override', target: 'auth' }));
      expect(seenByB).toEqual([{ kind: 'override', target: 'auth' }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
