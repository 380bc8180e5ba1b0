import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutRunner } from '../../src/rollout/runner.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { FakeClock } from './fake-clock.js';
import { sampleConfig } from './fixtures.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

describe('RolloutRunner on two replicas sharing PostgreSQL', () => {
  it('advances each step exactly once when both replicas are due at the same instant', async () => {
    const url = await server.createDatabase('replicas');
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    const clock = new FakeClock();
    const runners = [a, b].map((store, i) => new RolloutRunner({ store, clock, actor: `replica-${i + 1}` }));
    try {
      await Promise.all(runners.map((r) => r.start()));
      const I = 60_000;
      const r = await runners[0].startRollout({ config: sampleConfig(), route: 'auth-login', to: 'auth-v3', steps: [10, 20, 30, 100], intervalMs: I, actor: 'alice' });
      // replica 2 learns of the rollout through LISTEN/NOTIFY and arms its own timer
      await eventually(() => expect(clock.pendingTimers()).toBe(2));

      for (const expected of [20, 30, 100]) {
        clock.advance(I);
        await Promise.all(runners.map((x) => x.runDue()));
        await eventually(async () => expect((await b.getRollout(r.id))?.percent).toBe(expected));
        if (expected < 100) await eventually(() => expect(clock.pendingTimers()).toBe(2));
      }

      const steps = (await a.listAudit()).reverse().filter((e) => e.action === 'rollout.step');
      expect(steps.map((e) => e.details.percent)).toEqual([20, 30, 100]);
      // each step synced once, by one replica, and the last one completed the rollout
      const synced = (await a.listAudit()).reverse().filter((e) => e.action === 'rollout.synced' || e.action === 'rollout.complete');
      expect(synced.map((e) => [e.action, e.details.percent])).toEqual([
        ['rollout.synced', 10],
        ['rollout.synced', 20],
        ['rollout.synced', 30],
        ['rollout.complete', 100],
      ]);
      expect((await b.getOverride('auth-login'))?.backends.find((x) => x.cluster === 'auth-v3')?.weight).toBe(100);
      expect((await a.getRollout(r.id))).toMatchObject({ state: 'completed', revision: 8 });
      await eventually(() => expect(clock.pendingTimers()).toBe(0));
    } finally {
      runners.forEach((r) => r.stop());
      await Promise.all([a.close(), b.close()]);
    }
  });
});
