import { describe, expect, it } from 'vitest';
import { RolloutError } from '../../src/rollout/errors.js';
import * as m from '../../src/rollout/machine.js';
import { parseInterval, parseSteps, stepsFrom } from '../../src/rollout/steps.js';
import { stepWeights } from '../../src/rollout/weights.js';
import type { Override, Rollout } from '../../src/store/types.js';

const I = 600_000; // 10m
const T0 = 1_000_000;

function plan(overrides: Partial<m.RolloutPlan> = {}): m.RolloutPlan {
  return {
    id: 'r1',
    route: 'auth-login',
    fromBackends: [{ cluster: 'monolith', weight: 100 }],
    startOverride: null,
    baseHash: 'yaml-hash',
    toBackend: 'auth-v2',
    steps: [5, 10, 25, 50, 100],
    intervalMs: I,
    startedBy: 'alice',
    ...overrides,
  };
}

const weights = (r: Rollout) => Object.fromEntries(m.rolloutWeights(r).map((b) => [b.cluster, b.weight]));

describe('rollout weights', () => {
  it('sets the target to p% and scales the others from their starting weights, summing to 100', () => {
    const from = [{ cluster: 'monolith', weight: 60 }, { cluster: 'legacy', weight: 40 }];
    expect(stepWeights(from, 'auth-v2', 25)).toEqual([
      { cluster: 'monolith', weight: 45 },
      { cluster: 'legacy', weight: 30 },
      { cluster: 'auth-v2', weight: 25 },
    ]);
    const thirds = stepWeights([{ cluster: 'a', weight: 1 }, { cluster: 'b', weight: 1 }, { cluster: 'c', weight: 1 }], 'd', 5);
    expect(thirds.map((b) => b.weight)).toEqual([32, 32, 31, 5]);
    // a target already among the backends keeps its place
    expect(stepWeights([{ cluster: 'auth-v2', weight: 10 }, { cluster: 'monolith', weight: 90 }], 'auth-v2', 50)).toEqual([
      { cluster: 'auth-v2', weight: 50 },
      { cluster: 'monolith', weight: 50 },
    ]);
    expect(stepWeights(from, 'auth-v2', 100).map((b) => b.weight)).toEqual([0, 0, 100]);
  });
});

describe('rollout state machine', () => {
  it('applies the first step at start and each later one an interval after the previous', () => {
    const s = m.startRollout(plan(), T0);
    expect(s.action).toBe('rollout.start');
    let r = s.rollout;
    expect(r).toMatchObject({ state: 'running', currentStep: 0, percent: 5, nextStepAt: T0 + I });
    expect(weights(r)).toEqual({ monolith: 95, 'auth-v2': 5 });
    expect(m.tick(r, T0 + I - 1)).toBeUndefined();
    const percents = [r.percent];
    for (let k = 1; k <= 4; k++) {
      const t = m.tick(r, T0 + k * I)!;
      r = t.rollout;
      percents.push(r.percent);
      expect(t.action).toBe(k < 4 ? 'rollout.step' : 'rollout.complete');
    }
    expect(percents).toEqual([5, 10, 25, 50, 100]);
    expect(r).toMatchObject({ state: 'completed', nextStepAt: null });
    expect(weights(r)).toEqual({ monolith: 0, 'auth-v2': 100 });
    expect(m.tick(r, T0 + 99 * I)).toBeUndefined();
  });

  it('moves one step, not several, when ticked long after the step was due, and restarts the interval', () => {
    const r = m.startRollout(plan(), T0).rollout;
    const late = T0 + 5 * I + 123;
    const t = m.tick(r, late)!;
    expect(t.rollout).toMatchObject({ currentStep: 1, percent: 10, nextStepAt: late + I });
    expect(m.tick(t.rollout, late + I - 1)).toBeUndefined();
  });

  it('pauses keeping the time left, ignores ticks while paused, and resumes the countdown', () => {
    const r = m.startRollout(plan(), T0).rollout;
    const p = m.pause(r, T0 + 4 * 60_000).rollout;
    expect(p).toMatchObject({ state: 'paused', nextStepAt: null, pausedRemainingMs: 6 * 60_000 });
    expect(m.tick(p, T0 + 50 * I)).toBeUndefined();
    expect(() => m.pause(p, T0)).toThrow("cannot pause rollout r1 on route 'auth-login': it is paused (pause needs running)");
    const resumedAt = T0 + 50 * I;
    const res = m.resume(p, resumedAt).rollout;
    expect(res).toMatchObject({ state: 'running', nextStepAt: resumedAt + 6 * 60_000, pausedRemainingMs: null });
    expect(() => m.resume(res, resumedAt)).toThrow(RolloutError);
  });

  it('promotes to the next step now, or to 100% with full; a paused rollout stays paused', () => {
    const r = m.startRollout(plan(), T0).rollout;
    const p1 = m.promote(r, T0 + 1000).rollout;
    expect(p1).toMatchObject({ state: 'running', percent: 10, currentStep: 1, nextStepAt: T0 + 1000 + I });
    const paused = m.pause(p1, T0 + 2000).rollout;
    const p2 = m.promote(paused, T0 + 3000).rollout;
    expect(p2).toMatchObject({ state: 'paused', percent: 25, pausedRemainingMs: I, nextStepAt: null });
    const full = m.promote(p2, T0 + 4000, { full: true });
    expect(full.action).toBe('rollout.promote-full');
    expect(full.rollout).toMatchObject({ state: 'completed', percent: 100 });
    expect(weights(full.rollout)).toEqual({ monolith: 0, 'auth-v2': 100 });
  });

  it('promote --full goes to 100% even when --max stopped short; a rollout to --max completes there', () => {
    let r = m.startRollout(plan({ steps: stepsFrom(25, 50) }), T0).rollout;
    r = m.tick(r, T0 + I)!.rollout;
    expect(r).toMatchObject({ state: 'completed', percent: 50 });
    const r2 = m.startRollout(plan({ steps: stepsFrom(25, 50) }), T0).rollout;
    expect(m.promote(r2, T0, { full: true }).rollout).toMatchObject({ state: 'completed', percent: 100 });
  });

  it('aborts back to the starting weights at once, from running or paused', () => {
    const from = [{ cluster: 'monolith', weight: 70 }, { cluster: 'auth-v2', weight: 30 }];
    let r = m.startRollout(plan({ fromBackends: from, steps: [50, 75, 100] }), T0).rollout;
    r = m.tick(r, T0 + I)!.rollout;
    expect(weights(r)).toEqual({ monolith: 25, 'auth-v2': 75 });
    const a = m.abort(m.pause(r, T0 + I + 1).rollout, T0 + I + 2).rollout;
    expect(a).toMatchObject({ state: 'aborted', nextStepAt: null });
    expect(m.rolloutWeights(a)).toEqual(from);
    expect(m.weightEffect(a, 'bob')).toEqual({ clear: 'auth-login' });
    expect(() => m.abort(a, T0)).toThrow('it is aborted');
    expect(() => m.undo(a, T0)).toThrow('undo needs completed');
  });

  it('undoes a completed rollout, restoring the override that was in force before', () => {
    const before: Override = { route: 'auth-login', backends: [{ cluster: 'monolith', weight: 80 }, { cluster: 'auth-v2', weight: 20 }], author: 'carol', reason: 'manual shift', updatedAt: 5, baseHash: 'yaml-hash' };
    let r = m.startRollout(plan({ fromBackends: before.backends, startOverride: before, steps: [60, 100] }), T0).rollout;
    expect(m.weightEffect(r, 'runner')).toEqual({
      set: { route: 'auth-login', backends: [{ cluster: 'monolith', weight: 40 }, { cluster: 'auth-v2', weight: 60 }], author: 'runner', reason: 'rollout r1: 60% to auth-v2', baseHash: 'yaml-hash' },
    });
    expect(() => m.undo(r, T0)).toThrow('undo needs completed');
    r = m.tick(r, T0 + I)!.rollout;
    const u = m.undo(r, T0 + 2 * I).rollout;
    expect(u.state).toBe('undone');
    expect(m.rolloutWeights(u)).toEqual(before.backends);
    const { updatedAt: _, ...restored } = before;
    expect(m.weightEffect(u, 'bob')).toEqual({ set: restored });
  });

  it('refuses to start with nothing to shift or a bad step list', () => {
    expect(() => m.startRollout(plan({ fromBackends: [{ cluster: 'auth-v2', weight: 1 }] }), T0)).toThrow(
      "'auth-v2' already receives all of route 'auth-login' traffic",
    );
    expect(() => m.startRollout(plan({ steps: [10, 5] }), T0)).toThrow('steps must increase: 10 is followed by 5');
    expect(() => m.startRollout(plan({ intervalMs: 0 }), T0)).toThrow('longer than zero');
  });
});

describe('rollout step and interval parsing', () => {
  it('parses --steps, --step/--max and --interval', () => {
    expect(parseSteps('5,10,25,50,100')).toEqual([5, 10, 25, 50, 100]);
    expect(stepsFrom(10, 50)).toEqual([10, 20, 30, 40, 50]);
    expect(stepsFrom(30)).toEqual([30, 60, 90, 100]);
    expect(parseInterval('10m')).toBe(600_000);
    expect(parseInterval('1h30m')).toBe(5_400_000);
    expect(parseInterval('250ms')).toBe(250);
  });

  it.each([
    [() => parseSteps('5,x,100'), "--steps: 'x' is not a number"],
    [() => parseSteps('0,50'), 'step 1 is 0; steps are whole percentages from 1 to 100'],
    [() => parseSteps('50,150'), 'step 2 is 150'],
    [() => stepsFrom(10, 5), '--max is 5; it must be a whole percentage from --step (10) to 100'],
    [() => stepsFrom(0), '--step is 0'],
    [() => parseInterval('10 minutes'), "--interval '10 minutes' is not a duration"],
    [() => parseInterval('0s'), 'longer than zero'],
  ])('rejects bad input %#', (f, message) => {
    expect(f).toThrow(RolloutError);
    expect(f).toThrow(message);
  });
});
