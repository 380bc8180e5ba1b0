import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { StoreChange } from '../../src/store/types.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { sampleLoad, sampleReplica, sampleRollout } from './contract.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

describe('postgres store when PostgreSQL goes away', () => {
  it('fails fast with StoreUnavailableError, applies nothing, and recovers by itself', async () => {
    const url = await server.createDatabase('outage');
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      const before = await a.setOverride({ route: 'auth', backends: [{ cluster: 'v1', weight: 100 }], author: 'alice', reason: 'before', baseHash: 'h' });
      const seenByB: StoreChange[] = [];
      b.watch((c) => seenByB.push(c));

      await server.stop();
      const attempts: [string, () => Promise<unknown>][] = [
        ['setOverride', () => a.setOverride({ ...before, backends: [{ cluster: 'v2', weight: 100 }], reason: 'during' })],
        ['clearOverride', () => a.clearOverride('auth', 'alice')],
        ['createRollout', () => a.createRollout(sampleRollout('r1', 'auth'), { actor: 'alice', action: 'rollout.start' })],
        ['appendConfigVersion', () => a.appendConfigVersion({ content: [], author: 'alice', message: 'during' })],
        ['listOverrides', () => a.listOverrides()],
        ['putReplicaStatus', () => a.putReplicaStatus(sampleReplica('replica-a'))],
        ['renewReplicaStatus', () => a.renewReplicaStatus({ replica: 'replica-a', servedKey: 'k', reportedAt: 11_000, expiresAt: 21_000 })],
        ['listReplicaStatus', () => a.listReplicaStatus(15_000)],
        ['removeReplicaStatus', () => a.removeReplicaStatus('replica-a')],
        ['addLoadSamples', () => a.addLoadSamples([sampleLoad('auth', 1000)])],
        ['listLoadSamples', () => a.listLoadSamples(['auth'], 0, 2000)],
        ['pruneLoadSamples', () => a.pruneLoadSamples(2000)],
      ];
      for (const [name, attempt] of attempts) {
        const started = Date.now();
        const err = await attempt().then(
          () => new Error(`${name} succeeded while PostgreSQL was down`),
          (e) => e,
        );
        expect(err, name).toBeInstanceOf(StoreUnavailableError);
        expect(err.message).toMatch(/PostgreSQL is unavailable/);
        expect(Date.now() - started, `${name} should fail fast`).toBeLessThan(2000);
      }

      await server.start();
      // the pool and the LISTEN connection come back on their own
      await eventually(() => expect(seenByB).toContainEqual({ kind: 'resync', target: '' }), 15_000);
      expect(await a.getOverride('auth')).toMatchObject({ reason: 'before', backends: [{ cluster: 'v1', weight: 100 }] });
      expect(await a.activeRollouts()).toEqual([]);
      expect(await a.latestConfigVersion()).toBeUndefined();
      expect((await a.listAudit()).map((e) => e.action)).toEqual(['override.set']);
      expect(await a.listReplicaStatus(15_000)).toEqual([]);
      expect(await a.listLoadSamples(['auth'], 0, 2000)).toEqual([]);

      const sent = Date.now();
      await a.setOverride({ ...before, backends: [{ cluster: 'v2', weight: 100 }], reason: 'after' });
      await eventually(() => expect(seenByB).toContainEqual({ kind: 'override', target: 'auth' }), 2000);
      expect(Date.now() - sent).toBeLessThan(1000);
      expect((await b.getOverride('auth'))?.reason).toBe('after');
    } finally {
      await server.start().catch(() => undefined);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses to open with a clear error when PostgreSQL is not there', async () => {
    await server.stop();
    try {
      const err = await PostgresStore.open({ url: server.url }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(err.message).toMatch(/PostgreSQL is unavailable .*cannot start the store/);
    } finally {
      await server.start();
    }
  });
});
