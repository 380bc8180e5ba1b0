import { describe, expect, it } from 'vitest';
import { RolloutError } from '../../src/rollout/errors.js';
import * as m from '../../src/rollout/machine.js';
import { parseInterval, parseSteps, stepsFrom } from '../../src/rollout/steps.js';
import { stepWeights } from '../../src/rollout/weights.js';
import type { AnalysisRun, Override, Rollout } from '../../src/store/types.js';

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

const SYNCED: m.SyncReport = { synced: true, accepted: ['edge-1'], pending: [], nacks: [] };
const PENDING: m.SyncReport = { synced: false, accepted: [], pending: [{ nodeId: 'edge-1', state: 'STALE' }], nacks: [] };

/** Syncs the step if it waits for proxies, else moves on if due: what a runner does with all proxies ACKing. */
function tick(r: Rollout, now: number): m.Transition | undefined {
  return m.advance(r, now, { sync: SYNCED });
}

/** Start and sync the first step at T0. */
function started(over: Partial<m.RolloutPlan> = {}): Rollout {
  return tick(m.startRollout(plan(over), T0).rollout, T0)!.rollout;
}

function run(passed: boolean | null, at: number): AnalysisRun {
  return { at, from: at - I, to: at, passed, results: [{ check: 'success-rate ≥ 99%', passed, value: passed ? 99.9 : 70, threshold: '≥ 99%', samples: 500 }] };
}

describe('rollout state machine', () => {
  it('applies the first step at start; each later one an interval after the previous was ACKed', () => {
    const s = m.startRollout(plan(), T0);
    expect(s.action).toBe('rollout.start');
    let r = s.rollout;
    expect(r).toMatchObject({ state: 'running', currentStep: 0, percent: 5, phase: 'syncing', nextStepAt: null });
    expect(weights(r)).toEqual({ monolith: 95, 'auth-v2': 5 });
    // not ACKed: nothing moves, however long
    expect(m.advance(r, T0 + 1000, { sync: PENDING })).toBeUndefined();
    const synced = m.advance(r, T0 + 1000, { sync: SYNCED })!;
    expect(synced.action).toBe('rollout.synced');
    r = synced.rollout;
    expect(r).toMatchObject({ phase: 'baking', nextStepAt: T0 + 1000 + I });
    expect(r.log?.[0]).toMatchObject({ step: 0, percent: 5, appliedAt: T0, syncedAt: T0 + 1000 });
    expect(tick(r, T0 + 1000 + I - 1)).toBeUndefined();
    const percents = [r.percent];
    let now = T0 + 1000;
    for (let k = 1; k <= 4; k++) {
      now += I;
      const t = tick(r, now)!;
      expect(t.action).toBe('rollout.step');
      r = t.rollout;
      percents.push(r.percent);
      const s2 = tick(r, now)!;
      expect(s2.action).toBe(k < 4 ? 'rollout.synced' : 'rollout.complete');
      r = s2.rollout;
    }
    expect(percents).toEqual([5, 10, 25, 50, 100]);
    expect(r).toMatchObject({ state: 'completed', nextStepAt: null });
    expect(r.log?.map((l) => l.outcome)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
    expect(weights(r)).toEqual({ monolith: 0, 'auth-v2': 100 });
    expect(tick(r, T0 + 99 * I)).toBeUndefined();
  });

  it('the last step completes only once every proxy has ACKed it', () => {
    let r = started({ steps: [50, 100] });
    r = tick(r, T0 + I)!.rollout;
    expect(r).toMatchObject({ state: 'running', percent: 100, phase: 'syncing' });
    expect(m.advance(r, T0 + I + 5, { sync: PENDING })).toBeUndefined();
    expect(tick(r, T0 + I + 10)!.rollout.state).toBe('completed');
  });

  it('moves one step, not several, when looked at long after the step was due', () => {
    const r = started();
    const late = T0 + 5 * I + 123;
    const t = tick(r, late)!;
    expect(t.rollout).toMatchObject({ currentStep: 1, percent: 10, phase: 'syncing', nextStepAt: null });
    expect(tick(t.rollout, late + 1)!.rollout.nextStepAt).toBe(late + 1 + I);
  });

  it('a NACK holds the rollout with the proxy error; the hold lifts when the proxies ACK', () => {
    const r = m.startRollout(plan(), T0).rollout;
    const nack: m.SyncReport = { synced: false, accepted: ['edge-1'], pending: [{ nodeId: 'edge-bad', state: 'NACKED', error: 'bad route' }], nacks: [{ nodeId: 'edge-bad', replica: 'b', error: 'bad route' }] };
    const held = m.advance(r, T0 + 500, { sync: nack })!;
    expect(held.action).toBe('rollout.hold');
    expect(held.rollout).toMatchObject({ state: 'paused', hold: { kind: 'nack', auto: true } });
    expect(held.rollout.hold?.message).toContain('edge-bad on b: bad route');
    // still NACKing: no new write
    expect(m.advance(held.rollout, T0 + 600, { sync: nack })).toBeUndefined();
    const lifted = m.advance(held.rollout, T0 + 900, { sync: SYNCED })!;
    expect(lifted.rollout).toMatchObject({ state: 'running', hold: null, phase: 'baking', nextStepAt: T0 + 900 + I });
  });

  it('holds when the proxies do not ACK within the ack timeout', () => {
    const r = m.startRollout(plan({ ackTimeoutMs: 30_000 }), T0).rollout;
    expect(m.advance(r, T0 + 29_999, { sync: PENDING })).toBeUndefined();
    const t = m.advance(r, T0 + 30_000, { sync: PENDING })!;
    expect(t.rollout).toMatchObject({ state: 'paused', hold: { kind: 'sync-timeout', auto: true } });
    expect(t.rollout.hold?.message).toBe('step 1 (5%) not ACKed within 30s by edge-1 (STALE)');
  });

  it('refuses a first step that lowers the target share unless allowDecrease', () => {
    const from = [{ cluster: 'auth-v2', weight: 90 }, { cluster: 'monolith', weight: 10 }];
    expect(() => m.startRollout(plan({ fromBackends: from }), T0)).toThrow(
      "route 'auth-login' already sends 90% to 'auth-v2': a first step of 5% would move 85% of its traffic back to monolith. Start at or above 90% (e.g. --steps 90,95,100), or pass --allow-decrease",
    );
    expect(m.startRollout(plan({ fromBackends: from, allowDecrease: true }), T0).rollout.percent).toBe(5);
    expect(m.startRollout(plan({ fromBackends: from, steps: [90, 100] }), T0).rollout.percent).toBe(90);
  });

  it('analysis: a passing run lets the step advance; failing runs up to the limit roll back to the start weights', () => {
    const analysis = { checks: [{ name: 'success-rate ≥ 99%', metric: 'success-rate' as const, min: 99, source: 'banyan' as const }], intervalMs: I / 2, failureLimit: 2, onFailure: 'rollback' as const };
    const webhooks = [{ name: 'ops', url: 'http://x', events: ['rollback' as const], gate: false, timeoutMs: 1000, retries: 0 }];
    let r = started({ analysis, webhooks });
    expect(r.nextAnalysisAt).toBe(T0 + I / 2);
    expect(m.analysisDue(r, T0 + I / 2 - 1)).toBe(false);
    expect(m.analysisDue(r, T0 + I / 2)).toBe(true);
    // due, but no passing run yet: no step
    expect(tick({ ...r, nextAnalysisAt: T0 + 10 * I }, T0 + I)).toBeUndefined();
    r = m.advance(r, T0 + I / 2, { analysis: run(true, T0 + I / 2) })!.rollout;
    expect(r.failures).toBe(0);
    r = tick(r, T0 + I)!.rollout; // step 2
    r = tick(r, T0 + I)!.rollout; // synced
    const f1 = m.advance(r, T0 + 1.5 * I, { analysis: run(false, T0 + 1.5 * I) })!;
    expect(f1.action).toBe('rollout.analysis');
    expect(f1.rollout.failures).toBe(1);
    const f2 = m.advance(f1.rollout, T0 + 2 * I, { analysis: run(false, T0 + 2 * I) })!;
    expect(f2.action).toBe('rollout.rollback');
    expect(f2.rollout).toMatchObject({ state: 'rolled-back', hold: null });
    expect(f2.rollout.endReason).toBe('analysis failed 2 times at step 2 (10%): success-rate ≥ 99%: 70 (needs ≥ 99%)');
    expect(m.rolloutWeights(f2.rollout)).toEqual(plan().fromBackends);
    expect(m.weightEffect(f2.rollout, 'runner')).toEqual({ clear: 'auth-login' });
    expect(f2.rollout.outbox?.map((d) => [d.webhook, d.event])).toEqual([['ops', 'rollback']]);
    // the notification says which weights are put back, and which are left
    expect(f2.rollout.outbox?.[0].payload).toMatchObject({ weights: plan().fromBackends, leaving: [{ cluster: 'monolith', weight: 90 }, { cluster: 'auth-v2', weight: 10 }] });
    expect(f2.rollout.log?.[1].outcome).toBe('failed');
  });

  it('analysis with onFailure pause freezes the weights; only an operator resumes', () => {
    const analysis = { checks: [{ name: 'p99', metric: 'latency' as const, max: 300, source: 'banyan' as const }], intervalMs: I, failureLimit: 1, onFailure: 'pause' as const };
    const r = started({ analysis });
    const t = m.advance(r, T0 + I, { analysis: run(false, T0 + I) })!;
    expect(t.action).toBe('rollout.freeze');
    expect(t.rollout).toMatchObject({ state: 'paused', hold: { kind: 'analysis', auto: false }, percent: 5 });
    expect(m.advance(t.rollout, T0 + 5 * I, { sync: SYNCED })).toBeUndefined();
    const res = m.resume(t.rollout, T0 + 5 * I).rollout;
    expect(res).toMatchObject({ state: 'running', failures: 0, hold: null });
  });

  it('inconclusive runs neither fail nor let the step advance', () => {
    const analysis = { checks: [{ name: 'requests', metric: 'requests' as const, min: 100, source: 'banyan' as const }], intervalMs: I, failureLimit: 1, onFailure: 'rollback' as const };
    let r = started({ analysis });
    r = m.advance(r, T0 + I, { analysis: run(null, T0 + I) })!.rollout;
    expect(r).toMatchObject({ state: 'running', failures: 0 });
    expect(tick(r, T0 + 2 * I)).toBeUndefined();
  });

  it('a gate holds the next step until it opens', () => {
    const webhooks = [{ name: 'approve', url: 'http://x', events: ['pre-step' as const], gate: true, timeoutMs: 1000, retries: 0 }];
    let r = started({ webhooks });
    expect(m.gatesDue(r, T0 + I)).toBe(true);
    const g = tick(r, T0 + I)!;
    expect(g.action).toBe('rollout.gating');
    r = g.rollout;
    expect(m.advance(r, T0 + I, {})).toBeUndefined();
    const held = m.advance(r, T0 + I, { gates: { open: false, reason: 'approve: 423' } })!;
    expect(held.rollout).toMatchObject({ state: 'paused', hold: { kind: 'gate', auto: true, message: 'waiting for gate before step 2: approve: 423' } });
    expect(m.advance(held.rollout, T0 + I + 1, { gates: { open: false, reason: 'approve: 423' } })).toBeUndefined();
    const open = m.advance(held.rollout, T0 + I + 2, { gates: { open: true } })!;
    expect(open.rollout).toMatchObject({ state: 'running', percent: 10, phase: 'syncing', hold: null });
    // a gate is asked, never told: no pre-step notification for it
    expect(open.rollout.outbox).toEqual([]);
  });

  it('pauses keeping the time left and resumes the countdown; pause and resume of a held rollout', () => {
    const r = started();
    const p = m.pause(r, T0 + 4 * 60_000).rollout;
    expect(p).toMatchObject({ state: 'paused', nextStepAt: null, pausedRemainingMs: 6 * 60_000, hold: { kind: 'operator' } });
    expect(tick(p, T0 + 50 * I)).toBeUndefined();
    const resumedAt = T0 + 50 * I;
    const res = m.resume(p, resumedAt).rollout;
    expect(res).toMatchObject({ state: 'running', nextStepAt: resumedAt + 6 * 60_000, pausedRemainingMs: null });
    expect(() => m.resume(res, resumedAt)).toThrow(RolloutError);
  });

  it('promotes to the next step now, or to 100% with full; a paused rollout stays paused', () => {
    const r = started();
    const p1 = m.promote(r, T0 + 1000).rollout;
    expect(p1).toMatchObject({ state: 'running', percent: 10, currentStep: 1, phase: 'syncing' });
    const paused = m.pause(p1, T0 + 2000).rollout;
    const p2 = m.promote(paused, T0 + 3000).rollout;
    expect(p2).toMatchObject({ state: 'paused', percent: 25, pausedRemainingMs: I, nextStepAt: null });
    const full = m.promote(m.resume(p2, T0 + 3500).rollout, T0 + 4000, { full: true });
    expect(full.action).toBe('rollout.promote-full');
    expect(full.rollout).toMatchObject({ state: 'running', percent: 100, phase: 'syncing' });
    expect(tick(full.rollout, T0 + 4001)!.rollout.state).toBe('completed');
    expect(weights(full.rollout)).toEqual({ monolith: 0, 'auth-v2': 100 });
  });

  it('a rollout to --max completes there; promote --full goes to 100%', () => {
    let r = started({ steps: stepsFrom(25, 50) });
    r = tick(tick(r, T0 + I)!.rollout, T0 + I)!.rollout;
    expect(r).toMatchObject({ state: 'completed', percent: 50 });
    const r2 = started({ steps: stepsFrom(25, 50) });
    expect(m.promote(r2, T0, { full: true }).rollout).toMatchObject({ percent: 100 });
  });

  it('aborts back to the starting weights at once, from running or paused', () => {
    const from = [{ cluster: 'monolith', weight: 70 }, { cluster: 'auth-v2', weight: 30 }];
    let r = started({ fromBackends: from, steps: [50, 75, 100] });
    r = tick(tick(r, T0 + I)!.rollout, T0 + I)!.rollout;
    expect(weights(r)).toEqual({ monolith: 25, 'auth-v2': 75 });
    const a = m.abort(m.pause(r, T0 + I + 1).rollout, T0 + I + 2).rollout;
    expect(a).toMatchObject({ state: 'aborted', nextStepAt: null, endReason: 'aborted by an operator' });
    expect(m.rolloutWeights(a)).toEqual(from);
    expect(m.weightEffect(a, 'bob')).toEqual({ clear: 'auth-login' });
    expect(() => m.abort(a, T0)).toThrow('it is aborted');
    expect(() => m.undo(a, T0)).toThrow('undo needs completed');
  });

  it('undoes a completed rollout, restoring the override that was in force before', () => {
    const before: Override = { route: 'auth-login', backends: [{ cluster: 'monolith', weight: 80 }, { cluster: 'auth-v2', weight: 20 }], author: 'carol', reason: 'manual shift', updatedAt: 5, baseHash: 'yaml-hash' };
    let r = started({ fromBackends: before.backends, startOverride: before, steps: [60, 100] });
    expect(m.weightEffect(r, 'runner')).toEqual({
      set: { route: 'auth-login', backends: [{ cluster: 'monolith', weight: 40 }, { cluster: 'auth-v2', weight: 60 }], author: 'runner', reason: 'rollout r1: 60% to auth-v2', baseHash: 'yaml-hash' },
    });
    expect(() => m.undo(r, T0)).toThrow('undo needs completed');
    r = tick(tick(r, T0 + I)!.rollout, T0 + I)!.rollout;
    const u = m.undo(r, T0 + 2 * I).rollout;
    expect(u.state).toBe('undone');
    expect(m.rolloutWeights(u)).toEqual(before.backends);
    const { updatedAt: _, ...restored } = before;
    expect(m.weightEffect(u, 'bob')).toEqual({ set: restored });
  });

  it('notifications go into the outbox with ids stable per step, event and webhook', () => {
    const webhooks = [{ name: 'ops', url: 'http://x', events: ['pre-step' as const, 'post-step' as const, 'promotion' as const], gate: false, timeoutMs: 1000, retries: 0 }];
    let r = started({ webhooks, steps: [50, 100] });
    expect(r.outbox?.map((d) => d.id)).toEqual(['r1:post-step:1:ops']);
    r = tick(r, T0 + I)!.rollout;
    r = tick(r, T0 + I)!.rollout;
    expect(r.state).toBe('completed');
    expect(r.outbox?.map((d) => d.event)).toEqual(['post-step', 'pre-step', 'promotion']);
    expect(m.delivered(r, 'r1:post-step:1:ops', T0).outbox?.length).toBe(2);
  });

  it('a changed spec continues from the current percent', () => {
    let r = started();
    r = tick(tick(r, T0 + I)!.rollout, T0 + I)!.rollout; // 10%, baking
    const t = m.respec(r, { steps: [20, 60, 100], intervalMs: I * 2 }, T0 + I + 1);
    expect(t.rollout.steps).toEqual([5, 10, 20, 60, 100]);
    expect(t.rollout.nextStepAt).toBe(T0 + I + 2 * I);
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
