/**
 * The stepped rollout as a pure state machine: every transition takes a rollout and the time and
 * returns the next rollout, or throws RolloutError. No I/O, no clock of its own.
 *
 *   start ──► running ──tick/promote──► ... ──last step──► completed ──undo──► undone
 *              │  ▲                                            
 *        pause │  │ resume          running/paused ──abort──► aborted
 *              ▼  │
 *             paused (promote moves a step and stays paused)
 *
 * Timing: the first step applies at start; each later step is due `intervalMs` after the previous
 * one. tick() applies at most ONE step, and the next is due a full interval after that tick. So
 * after downtime spanning several intervals the rollout moves exactly one step and waits a full
 * interval before the next: it never jumps ahead (let alone to 100 %) without anyone watching the
 * intermediate step. Pausing keeps the time left; resume continues the countdown from there.
 */
import type { BackendWeight } from '../config/routes.js';
import type { Rollout, WeightEffect } from '../store/types.js';
import { RolloutError } from './errors.js';
import { validateSteps } from './steps.js';
import { stepWeights } from './weights.js';

export interface RolloutPlan {
  id: string;
  route: string;
  fromBackends: BackendWeight[];
  startOverride: Rollout['startOverride'];
  baseHash: string;
  toBackend: string;
  steps: number[];
  intervalMs: number;
  startedBy: string;
}

/** What a transition did, for the audit log. */
export interface Transition {
  rollout: Rollout;
  action: string;
  details: Record<string, unknown>;
}

export function startRollout(plan: RolloutPlan, now: number): Transition {
  const steps = validateSteps(plan.steps);
  if (!(plan.intervalMs > 0)) throw new RolloutError('bad-input', 'the interval between steps must be longer than zero');
  if (!plan.fromBackends.some((b) => b.cluster !== plan.toBackend && b.weight > 0)) {
    throw new RolloutError('bad-input', `'${plan.toBackend}' already receives all of route '${plan.route}' traffic; there is nothing to shift`);
  }
  const r: Rollout = {
    ...structuredClone(plan),
    steps,
    currentStep: 0,
    percent: steps[0],
    state: 'running',
    nextStepAt: null,
    pausedRemainingMs: null,
    createdAt: now,
    updatedAt: now,
    revision: 0,
  };
  return { rollout: afterStep(r, now), action: 'rollout.start', details: describe(r, plan.steps[0]) };
}

/** Applies the next step if it is due; undefined when there is nothing to do. */
export function tick(r: Rollout, now: number): Transition | undefined {
  if (r.state !== 'running' || r.nextStepAt === null || r.nextStepAt > now) return undefined;
  const next = afterStep({ ...r, currentStep: r.currentStep + 1, percent: r.steps[r.currentStep + 1], updatedAt: now }, now);
  return { rollout: next, action: next.state === 'completed' ? 'rollout.complete' : 'rollout.step', details: describe(next, next.percent) };
}

export function pause(r: Rollout, now: number): Transition {
  expectState(r, 'pause', ['running']);
  return {
    rollout: { ...r, state: 'paused', pausedRemainingMs: Math.max(0, (r.nextStepAt ?? now) - now), nextStepAt: null, updatedAt: now },
    action: 'rollout.pause',
    details: describe(r, r.percent),
  };
}

export function resume(r: Rollout, now: number): Transition {
  expectState(r, 'resume', ['paused']);
  return {
    rollout: { ...r, state: 'running', nextStepAt: now + (r.pausedRemainingMs ?? r.intervalMs), pausedRemainingMs: null, updatedAt: now },
    action: 'rollout.resume',
    details: describe(r, r.percent),
  };
}

/** Moves to the next step now (or straight to 100 % with `full`); a paused rollout stays paused. */
export function promote(r: Rollout, now: number, opts: { full?: boolean } = {}): Transition {
  expectState(r, 'promote', ['running', 'paused']);
  const moved: Rollout = opts.full
    ? { ...r, currentStep: r.steps.length - 1, percent: 100, updatedAt: now }
    : { ...r, currentStep: r.currentStep + 1, percent: r.steps[r.currentStep + 1], updatedAt: now };
  let next = afterStep(moved, now);
  if (r.state === 'paused' && next.state === 'running') next = { ...next, state: 'paused', pausedRemainingMs: r.intervalMs, nextStepAt: null };
  return { rollout: next, action: opts.full ? 'rollout.promote-full' : 'rollout.promote', details: describe(next, next.percent) };
}

/** Back to the starting weights at once. */
export function abort(r: Rollout, now: number): Transition {
  expectState(r, 'abort', ['running', 'paused']);
  return { rollout: { ...r, state: 'aborted', nextStepAt: null, pausedRemainingMs: null, updatedAt: now }, action: 'rollout.abort', details: { at: r.percent } };
}

/** After completion, back to the starting weights. */
export function undo(r: Rollout, now: number): Transition {
  expectState(r, 'undo', ['completed']);
  return { rollout: { ...r, state: 'undone', updatedAt: now }, action: 'rollout.undo', details: { from: r.percent } };
}

/** The route's weights while this rollout is in `r.state`. */
export function rolloutWeights(r: Rollout): BackendWeight[] {
  if (r.state === 'aborted' || r.state === 'undone') return structuredClone(r.fromBackends);
  return stepWeights(r.fromBackends, r.toBackend, r.percent);
}

/**
 * How the route's override must change for `r`: a rollout in progress or completed owns the override
 * (stamped with the YAML hash from its start, so a YAML edit of the route makes it stale); abort and
 * undo put back the override that was there before, or remove it when the YAML weights were in force.
 */
export function weightEffect(r: Rollout, actor: string): WeightEffect {
  if (r.state === 'aborted' || r.state === 'undone') {
    if (!r.startOverride) return { clear: r.route };
    const { updatedAt: _updatedAt, ...restored } = r.startOverride;
    return { set: restored };
  }
  return {
    set: { route: r.route, backends: rolloutWeights(r), author: actor, reason: `rollout ${r.id}: ${r.percent}% to ${r.toBackend}`, baseHash: r.baseHash },
  };
}

function afterStep(r: Rollout, now: number): Rollout {
  const last = r.currentStep >= r.steps.length - 1 || r.percent >= 100;
  return last
    ? { ...r, state: 'completed', nextStepAt: null, pausedRemainingMs: null }
    : { ...r, state: 'running', nextStepAt: now + r.intervalMs, pausedRemainingMs: null };
}

function expectState(r: Rollout, verb: string, allowed: Rollout['state'][]): void {
  if (!allowed.includes(r.state)) {
    throw new RolloutError('bad-state', `cannot ${verb} rollout ${r.id} on route '${r.route}': it is ${r.state} (${verb} needs ${allowed.join(' or ')})`);
  }
}

function describe(r: Rollout, percent: number): Record<string, unknown> {
  return { to: r.toBackend, percent, step: r.currentStep + 1, of: r.steps.length, weights: stepWeights(r.fromBackends, r.toBackend, percent) };
}
