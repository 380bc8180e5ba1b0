import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareOverride, type BackendWeight } from '../../src/config/overrides.js';
import { RolloutRunner } from '../../src/rollout/runner.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { ActiveRolloutExistsError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { FakeClock } from './fake-clock.js';
import { sampleConfig } from './fixtures.js';

const I = 60_000;
const config = sampleConfig();

/** Percent of auth-v3 in the route's stored override, i.e. what the proxies are served. */
async function servedPercent(store: Store, route = 'auth-login'): Promise<number | undefined> {
  return (await store.getOverride(route))?.backends.find((b) => b.cluster === 'auth-v3')?.weight;
}

async function stepPercents(store: Store): Promise<number[]> {
  const audit = (await store.listAudit()).reverse();
  return audit.filter((e) => ['rollout.start', 'rollout.step', 'rollout.promote'].includes(e.action)).map((e) => e.details.percent as number);
}

describe('RolloutRunner (embedded store, fake clock)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(dir?: string) {
    dir ??= await mkdtemp(path.join(os.tmpdir(), 'banyan-runner-'));
    const d = dir;
    cleanups.push(() => rm(d, { recursive: true, force: true }));
    const store = await EmbeddedStore.open({ dir });
    cleanups.push(() => store.close());
    return { dir, store };
  }

  function runnerOn(store: Store, clock: FakeClock, changes: { route: string; backends: BackendWeight[] }[] = []) {
    const runner = new RolloutRunner({ store, clock, actor: 'runner', onWeightsChange: (route, backends) => changes.push({ route, backends }) });
    cleanups.push(() => runner.stop());
    return runner;
  }

  it('steps on the timer, pauses, resumes, promotes and completes, writing weights and audit', async () => {
    const { store } = await setup();
    const clock = new FakeClock();
    const changes: { route: string; backends: BackendWeight[] }[] = [];
    const runner = runnerOn(store, clock, changes);
    await runner.start();
    expect(clock.pendingTimers()).toBe(0); // idle: nothing armed

    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v3', steps: [10, 20, 50, 100], intervalMs: I, actor: 'alice' });
    expect(r).toMatchObject({ state: 'running', percent: 10, route: 'auth-login', startOverride: null });
    expect(await store.getOverride('auth-login')).toMatchObject({
      backends: [{ cluster: 'auth-v2', weight: 81 }, { cluster: 'monolith', weight: 9 }, { cluster: 'auth-v3', weight: 10 }],
      baseHash: prepareOverride(config, 'auth-login', [{ cluster: 'auth-v3', weight: 1 }]).baseHash,
    });
    expect(changes.at(-1)?.backends.find((b) => b.cluster === 'auth-v3')?.weight).toBe(10);
    expect(clock.nextTimerAt()).toBe(clock.now() + I);

    clock.advance(I - 1);
    await runner.runDue();
    expect(await servedPercent(store)).toBe(10);
    clock.advance(1);
    await runner.runDue();
    expect(await servedPercent(store)).toBe(20);

    await runner.pause('auth-login', 'bob');
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10 * I);
    await runner.runDue();
    expect(await servedPercent(store)).toBe(20);
    await runner.resume('auth-login', 'bob');
    clock.advance(I);
    await runner.runDue();
    expect(await servedPercent(store)).toBe(50);

    await runner.promote(r.id, 'bob');
    expect(await servedPercent(store)).toBe(100);
    expect((await store.getRollout(r.id))?.state).toBe('completed');
    expect(clock.pendingTimers()).toBe(0);

    const audit = (await store.listAudit()).reverse().filter((e) => e.action.startsWith('rollout.'));
    expect(audit.map((e) => [e.action, e.actor])).toEqual([
      ['rollout.start', 'alice'],
      ['rollout.synced', 'runner'],
      ['rollout.step', 'runner'],
      ['rollout.synced', 'runner'],
      ['rollout.pause', 'bob'],
      ['rollout.resume', 'bob'],
      ['rollout.step', 'runner'],
      ['rollout.synced', 'runner'],
      ['rollout.promote', 'bob'],
      ['rollout.complete', 'runner'],
    ]);

    await runner.undo('auth-login', 'carol');
    expect(await store.getOverride('auth-login')).toBeUndefined(); // back to the YAML weights
  });

  it('aborts back to the override that was in force at start, and refuses a second rollout on a busy route', async () => {
    const { store } = await setup();
    const clock = new FakeClock();
    const runner = runnerOn(store, clock);
    await runner.start();
    const manual = prepareOverride(config, 'auth-login', [{ cluster: 'auth-v2', weight: 50 }, { cluster: 'monolith', weight: 50 }]);
    await store.setOverride({ ...manual, author: 'carol', reason: 'manual' });

    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v3', steps: [20, 100], intervalMs: I, actor: 'alice' });
    expect(r.fromBackends).toEqual(manual.backends);
    expect((await store.getOverride('auth-login'))?.backends).toEqual([
      { cluster: 'auth-v2', weight: 40 },
      { cluster: 'monolith', weight: 40 },
      { cluster: 'auth-v3', weight: 20 },
    ]);
    await expect(runner.startRollout({ config, route: 'auth-login', to: 'auth-v2', steps: [50], intervalMs: I, actor: 'bob' })).rejects.toBeInstanceOf(
      ActiveRolloutExistsError,
    );
    await expect(runner.startRollout({ config, route: 'nope', to: 'auth-v2', steps: [50], intervalMs: I, actor: 'bob' })).rejects.toThrow("unknown route 'nope'");
    await expect(runner.startRollout({ config, route: 'everything-else', to: 'auth-v9', steps: [50], intervalMs: I, actor: 'bob' })).rejects.toThrow(
      "unknown backend 'auth-v9'",
    );

    await runner.abort('auth-login', 'bob');
    expect(await store.getOverride('auth-login')).toMatchObject({ backends: manual.backends, author: 'carol', reason: 'manual' });
    await expect(runner.pause('auth-login', 'bob')).rejects.toThrow("no active rollout 'auth-login'");
    expect(clock.pendingTimers()).toBe(0);
  });

  it('after a restart resumes at the right step and time, never skipping or repeating a step', async () => {
    const { dir, store } = await setup();
    const clock = new FakeClock();
    const runner = runnerOn(store, clock);
    await runner.start();
    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v3', steps: [10, 20, 30, 40, 100], intervalMs: I, actor: 'alice' });
    clock.advance(I);
    await runner.runDue();
    expect(await servedPercent(store)).toBe(20);

    // restart within the interval: the step stays due at its original time
    runner.stop();
    await store.close();
    clock.advance(I / 2);
    let s2 = await EmbeddedStore.open({ dir });
    let runner2 = runnerOn(s2, clock);
    await runner2.start();
    expect(await servedPercent(s2)).toBe(20);
    expect(clock.nextTimerAt()).toBe(r.createdAt + 2 * I);
    clock.advance(I / 2);
    await runner2.runDue();
    expect(await servedPercent(s2)).toBe(30);

    // down for five intervals: one step on restart, then a full interval before the next
    runner2.stop();
    await s2.close();
    clock.advance(5 * I);
    s2 = await EmbeddedStore.open({ dir });
    cleanups.push(() => s2.close());
    runner2 = runnerOn(s2, clock);
    await runner2.start();
    expect(await servedPercent(s2)).toBe(40);
    const restartedAt = clock.now();
    expect((await s2.getRollout(r.id))?.nextStepAt).toBe(restartedAt + I);
    clock.advance(I - 1);
    await runner2.runDue();
    expect(await servedPercent(s2)).toBe(40);
    clock.advance(1);
    await runner2.runDue();
    expect(await servedPercent(s2)).toBe(100);
    expect(await stepPercents(s2)).toEqual([10, 20, 30, 40, 100]);
  });
});
