/**
 * The rollout as a pure state machine: every transition takes a rollout, the time and what was
 * observed (proxies' ACKs, an analysis run, a gate's answer) and returns the next rollout, or throws
 * RolloutError. No I/O, no clock of its own: the runner observes, this decides.
 *
 * A step goes through three phases:
 *
 *   syncing ──every proxy serving the route, on every replica, ACKed──► baking ──interval over,
 *      │  NACK / no ACK by the deadline: hold (lifts by itself)          │      analysis passed──► gating ──gates open──► next step
 *      ▼                                                                  │ analysis failed N times:
 *   paused (auto hold)                                   rolled-back ◄────┘ (or paused: "freeze")
 *
 * The last step completes once it is synced, so `completed` means every proxy has the final weights.
 * States: running, paused (operator or automatic hold), completed, aborted, undone, rolled-back.
 *
 * Timing: the bake interval counts from the moment the step is synced, not from when it was
 * written, so a step never advances before the proxies have run it for a full interval. At most one
 * step per observation: after downtime the rollout moves one step and bakes it a full interval.
 */
import type { BackendWeight } from '../config/routes.js';
import type {
  AnalysisRun,
  Rollout,
  RolloutAnalysis,
  RolloutHold,
  StepRecord,
  WebhookDelivery,
  WebhookEvent,
  WebhookSpec,
  WeightEffect,
} from '../store/types.js';
import { RolloutError } from './errors.js';
import { validateSteps } from './steps.js';
import { stepWeights } from './weights.js';

/** Default time every proxy has to ACK a step. */
export const DEFAULT_ACK_TIMEOUT_MS = 120_000;
/** Analysis runs kept per step in the record (the audit has them all). */
const RUNS_KEPT = 5;

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
  allowDecrease?: boolean;
  ackTimeoutMs?: number;
  analysis?: RolloutAnalysis;
  webhooks?: WebhookSpec[];
  owner?: Rollout['owner'];
}

/** What a transition did, for the audit log. */
export interface Transition {
  rollout: Rollout;
  action: string;
  details: Record<string, unknown>;
}

/** Whether the proxies run the rollout's current weights (server/rollout-progress.ts computes it). */
export interface SyncReport {
  /** Every replica serves the weights and every proxy that serves the route ACKed them. */
  synced: boolean;
  accepted: string[];
  pending: { nodeId: string; replica?: string; state: string; error?: string }[];
  /** Proxies that rejected the version carrying the weights. */
  nacks: { nodeId: string; replica?: string; error: string }[];
  /** Why it is not synced when no proxy is to blame (e.g. a replica still applying the change). */
  detail?: string;
}

export interface Observation {
  sync?: SyncReport;
  /** A fresh analysis run (the runner runs one when `analysisDue()`). */
  analysis?: AnalysisRun;
  /** The pre-step gates' answer (the runner asks when `gatesDue()`). */
  gates?: { open: boolean; reason?: string };
  /** How long reports take to be readable: a step's first analysis waits this much longer than its interval. */
  settleMs?: number;
}

export function startRollout(plan: RolloutPlan, now: number): Transition {
  const steps = validateSteps(plan.steps);
  if (!(plan.intervalMs > 0)) throw new RolloutError('bad-input', 'the interval between steps must be longer than zero');
  if (!plan.fromBackends.some((b) => b.cluster !== plan.toBackend && b.weight > 0)) {
    throw new RolloutError('bad-input', `'${plan.toBackend}' already receives all of route '${plan.route}' traffic; there is nothing to shift`);
  }
  refuseDecrease(plan, steps[0]);
  const { allowDecrease: _allow, ackTimeoutMs, analysis, webhooks, owner, ...rest } = structuredClone(plan);
  const r: Rollout = {
    ...rest,
    steps,
    currentStep: 0,
    percent: steps[0],
    state: 'running',
    nextStepAt: null,
    pausedRemainingMs: null,
    createdAt: now,
    updatedAt: now,
    revision: 0,
    owner: owner ?? { kind: 'cli' },
    ackTimeoutMs: ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
    ...(analysis ? { analysis } : {}),
    webhooks: webhooks ?? [],
    hold: null,
    failures: 0,
    log: [],
    outbox: [],
  };
  return { rollout: applyStep(r, 0, steps[0], now), action: 'rollout.start', details: describe(r, steps[0]) };
}

/**
 * A first step below the target's current share moves traffic back to the other backends: the
 * opposite of what a rollout is for. Refused unless asked for, naming how much would move back.
 */
function refuseDecrease(plan: RolloutPlan, first: number): void {
  if (plan.allowDecrease) return;
  const total = plan.fromBackends.reduce((s, b) => s + b.weight, 0);
  const current = total === 0 ? 0 : (100 * (plan.fromBackends.find((b) => b.cluster === plan.toBackend)?.weight ?? 0)) / total;
  if (first >= current) return;
  const others = plan.fromBackends.filter((b) => b.cluster !== plan.toBackend && b.weight > 0).map((b) => b.cluster);
  throw new RolloutError(
    'bad-input',
    `route '${plan.route}' already sends ${fmt(current)}% to '${plan.toBackend}': a first step of ${first}% would move ${fmt(current - first)}% of its traffic back to ${others.join(', ')}. ` +
      `Start at or above ${fmt(current)}% (e.g. --steps ${nextSteps(current)}), or pass --allow-decrease if moving traffic back is what you want`,
  );
}

/**
 * Decides the next state from what the runner observed; undefined when nothing changes. At most one
 * step per call. Operator holds (pause, frozen analysis) are left alone: only `resume` lifts them.
 */
export function advance(r: Rollout, now: number, obs: Observation): Transition | undefined {
  if (r.state !== 'running' && !(r.state === 'paused' && r.hold?.auto)) return undefined;
  const phase = r.phase ?? 'baking';
  if (phase === 'syncing') return obs.sync ? onSync(r, now, obs.sync, obs.settleMs ?? 0) : undefined;
  if (phase === 'baking') {
    if (obs.analysis) return onAnalysis(r, now, obs.analysis);
    if (r.state !== 'running' || r.nextStepAt === null || r.nextStepAt > now) return undefined;
    if (r.analysis && lastRun(r)?.passed !== true) return undefined; // waiting for a passing run
    return gated(r, now, obs);
  }
  return gated(r, now, obs);
}

/** Whether the runner should run an analysis now. */
export function analysisDue(r: Rollout, now: number): boolean {
  return r.state === 'running' && (r.phase ?? 'baking') === 'baking' && !!r.analysis && r.nextAnalysisAt !== null && r.nextAnalysisAt !== undefined && r.nextAnalysisAt <= now;
}

/** Whether the runner should ask the pre-step gates now (the step is otherwise ready to advance). */
export function gatesDue(r: Rollout, now: number): boolean {
  if (!gates(r).length) return false;
  if (r.phase === 'gating') return r.state === 'running' || (r.state === 'paused' && r.hold?.kind === 'gate');
  return r.state === 'running' && (r.phase ?? 'baking') === 'baking' && r.nextStepAt !== null && r.nextStepAt <= now && (!r.analysis || lastRun(r)?.passed === true);
}

/** When the runner should look again (earliest timer), or null when only an observation can move it. */
export function nextWake(r: Rollout): number | null {
  if (r.state !== 'running' && !(r.state === 'paused' && r.hold?.auto)) return null;
  const times = [r.nextStepAt, r.nextAnalysisAt, r.syncDeadline].filter((t): t is number => typeof t === 'number');
  return times.length ? Math.min(...times) : null;
}

function onSync(r: Rollout, now: number, sync: SyncReport, settleMs: number): Transition | undefined {
  const step = r.log?.[r.log.length - 1];
  if (sync.synced) {
    const at = { ...r, state: 'running' as const, hold: null, updatedAt: now };
    const synced = patchStep(at, { syncedAt: now });
    const details = { ...describe(r, r.percent), accepted: sync.accepted.length, ...(r.hold ? { lifted: r.hold.kind } : {}) };
    if (isLast(r)) {
      return {
        rollout: { ...patchStep(synced, { outcome: 'passed' }), state: 'completed', phase: undefined, nextStepAt: null, syncDeadline: null, nextAnalysisAt: null, outbox: enqueue(r, 'promotion', now) },
        action: 'rollout.complete',
        details,
      };
    }
    return {
      rollout: {
        ...synced,
        phase: 'baking',
        syncDeadline: null,
        nextStepAt: now + r.intervalMs,
        nextAnalysisAt: r.analysis ? now + r.analysis.intervalMs + settleMs : null,
        outbox: enqueue(r, 'post-step', now),
      },
      action: 'rollout.synced',
      details,
    };
  }
  if (sync.nacks.length) {
    const message = `${sync.nacks.length} prox${sync.nacks.length === 1 ? 'y' : 'ies'} rejected step ${r.currentStep + 1} (${r.percent}%): ` + sync.nacks.map((n) => `${n.nodeId}${n.replica ? ` on ${n.replica}` : ''}: ${n.error}`).join('; ');
    return holdAuto(r, now, 'nack', message, { nacks: sync.nacks });
  }
  const deadline = r.syncDeadline ?? (step ? step.appliedAt + (r.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS) : now);
  if (now >= deadline) {
    const who = sync.pending.length ? sync.pending.map((p) => `${p.nodeId}${p.replica ? ` on ${p.replica}` : ''} (${p.state})`).join(', ') : (sync.detail ?? 'no answer');
    return holdAuto(r, now, 'sync-timeout', `step ${r.currentStep + 1} (${r.percent}%) not ACKed within ${fmtMs(r.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS)} by ${who}`, { pending: sync.pending });
  }
  return undefined;
}

function onAnalysis(r: Rollout, now: number, run: AnalysisRun): Transition {
  const analysis = r.analysis!;
  const failures = run.passed === false ? (r.failures ?? 0) + 1 : run.passed === true ? 0 : (r.failures ?? 0);
  const step = r.log?.[r.log.length - 1];
  const recorded: Rollout = patchStep({ ...r, failures, nextAnalysisAt: now + analysis.intervalMs, updatedAt: now }, { analysis: [...(step?.analysis ?? []), run].slice(-RUNS_KEPT) });
  const details = { step: r.currentStep + 1, percent: r.percent, passed: run.passed, failures, of: analysis.failureLimit, results: run.results, window: { from: run.from, to: run.to } };
  if (run.passed !== false || failures < analysis.failureLimit) return { rollout: recorded, action: 'rollout.analysis', details };
  const failed = run.results.filter((c) => c.passed === false).map((c) => `${c.check}: ${c.value === null ? 'no data' : c.value}${c.baseline !== undefined && c.baseline !== null ? ` vs baseline ${c.baseline}` : ''} (needs ${c.threshold})`);
  const reason = `analysis failed ${failures} time${failures === 1 ? '' : 's'} at step ${r.currentStep + 1} (${r.percent}%): ${failed.join('; ')}`;
  if (analysis.onFailure === 'pause') {
    const hold: RolloutHold = { kind: 'analysis', message: reason, since: now, auto: false };
    return {
      rollout: { ...patchStep(recorded, { outcome: 'paused' }), state: 'paused', hold, pausedRemainingMs: remaining(r, now), nextStepAt: null, nextAnalysisAt: null },
      action: 'rollout.freeze',
      details: { ...details, reason },
    };
  }
  return {
    rollout: { ...patchStep(recorded, { outcome: 'failed' }), state: 'rolled-back', phase: undefined, hold: null, nextStepAt: null, nextAnalysisAt: null, syncDeadline: null, pausedRemainingMs: null, endReason: reason, outbox: enqueue(r, 'rollback', now, restoring(r, reason)) },
    action: 'rollout.rollback',
    details: { ...details, reason, weights: r.fromBackends },
  };
}

/** The step is ready: ask the gates (when there are any), then move to the next step. */
function gated(r: Rollout, now: number, obs: Observation): Transition | undefined {
  if (gates(r).length) {
    if (!obs.gates) return r.phase === 'gating' ? undefined : { rollout: { ...r, phase: 'gating', updatedAt: now }, action: 'rollout.gating', details: describe(r, r.percent) };
    if (!obs.gates.open) {
      const message = `waiting for gate before step ${r.currentStep + 2}: ${obs.gates.reason ?? 'not approved'}`;
      return holdAuto({ ...r, phase: 'gating' }, now, 'gate', message, {});
    }
  }
  const next = r.currentStep + 1;
  const moved = patchStep({ ...r, state: 'running', hold: null, updatedAt: now }, { outcome: 'passed' });
  return { rollout: applyStep(moved, next, r.steps[next], now), action: 'rollout.step', details: { ...describe(r, r.steps[next]), ...(obs.gates ? { gate: 'open' } : {}) } };
}

export function pause(r: Rollout, now: number): Transition {
  expectState(r, 'pause', ['running', 'paused']);
  const hold: RolloutHold = { kind: 'operator', message: 'paused by an operator', since: now, auto: false };
  return {
    rollout: { ...r, state: 'paused', hold, pausedRemainingMs: r.state === 'paused' ? r.pausedRemainingMs : remaining(r, now), nextStepAt: null, nextAnalysisAt: null, updatedAt: now },
    action: 'rollout.pause',
    details: { ...describe(r, r.percent), ...(r.hold ? { replaces: r.hold.kind } : {}) },
  };
}

/** Lifts any hold. A step that was baking continues its countdown; one that was syncing gets a fresh ACK deadline. */
export function resume(r: Rollout, now: number): Transition {
  expectState(r, 'resume', ['paused']);
  const phase = r.phase ?? 'baking';
  const base: Rollout = { ...r, state: 'running', hold: null, failures: 0, pausedRemainingMs: null, updatedAt: now };
  const next: Rollout =
    phase === 'syncing'
      ? { ...base, syncDeadline: now + (r.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS) }
      : phase === 'gating'
        ? base
        : { ...base, nextStepAt: now + (r.pausedRemainingMs ?? r.intervalMs), nextAnalysisAt: r.analysis ? now + r.analysis.intervalMs : null };
  return { rollout: next, action: 'rollout.resume', details: { ...describe(r, r.percent), lifted: r.hold?.kind ?? 'operator' } };
}

/** Moves to the next step now (or straight to 100 % with `full`), skipping analysis and gates: the operator decided. */
export function promote(r: Rollout, now: number, opts: { full?: boolean } = {}): Transition {
  expectState(r, 'promote', ['running', 'paused']);
  if (!opts.full && isLast(r)) throw new RolloutError('bad-state', `rollout ${r.id} is at its last step (${r.percent}%); it completes once every proxy has ACKed it`);
  const index = opts.full ? r.steps.length - 1 : r.currentStep + 1;
  const percent = opts.full ? 100 : r.steps[index];
  const closed = patchStep({ ...r, state: 'running', hold: null, updatedAt: now }, { outcome: 'passed' });
  let next = applyStep(closed, index, percent, now);
  // a paused rollout stays paused at the new step: promote is one step, not a resume
  if (r.state === 'paused') next = { ...next, state: 'paused', hold: r.hold?.auto ? { kind: 'operator', message: 'paused by an operator', since: now, auto: false } : r.hold, pausedRemainingMs: r.intervalMs };
  return { rollout: next, action: opts.full ? 'rollout.promote-full' : 'rollout.promote', details: describe(r, percent) };
}

/** Back to the starting weights at once. */
export function abort(r: Rollout, now: number, reason = 'aborted by an operator'): Transition {
  expectState(r, 'abort', ['running', 'paused']);
  return {
    rollout: { ...patchStep(r, { outcome: 'aborted' }), ...ended(now), state: 'aborted', endReason: reason, outbox: enqueue(r, 'rollback', now, restoring(r, reason)) },
    action: 'rollout.abort',
    details: { at: r.percent, reason, weights: r.fromBackends },
  };
}

/** After completion, back to the starting weights. */
export function undo(r: Rollout, now: number): Transition {
  expectState(r, 'undo', ['completed']);
  return {
    rollout: { ...r, ...ended(now), state: 'undone', endReason: 'undone by an operator', outbox: enqueue(r, 'rollback', now, restoring(r, 'undone by an operator')) },
    action: 'rollout.undo',
    details: { from: r.percent, weights: r.fromBackends },
  };
}

/** The rollout's steps, interval, analysis or webhooks changed in its spec: applied from the current percent on. */
export function respec(r: Rollout, spec: Pick<RolloutPlan, 'steps' | 'intervalMs' | 'ackTimeoutMs' | 'analysis' | 'webhooks' | 'owner'>, now: number): Transition {
  expectState(r, 'update', ['running', 'paused']);
  const steps = validateSteps(spec.steps);
  // the step in force stays; the list continues with the spec's steps above it
  const above = steps.filter((p) => p > r.percent);
  const merged = [...r.steps.slice(0, r.currentStep + 1), ...above];
  const next: Rollout = {
    ...r,
    steps: above.length || r.percent >= 100 ? merged : [...merged.slice(0, -1), r.percent],
    intervalMs: spec.intervalMs,
    ackTimeoutMs: spec.ackTimeoutMs ?? r.ackTimeoutMs,
    analysis: spec.analysis,
    webhooks: spec.webhooks ?? [],
    owner: spec.owner ?? r.owner,
    nextStepAt: r.nextStepAt === null ? null : r.nextStepAt - r.intervalMs + spec.intervalMs,
    updatedAt: now,
  };
  return { rollout: next, action: 'rollout.spec-update', details: { steps: next.steps, intervalMs: next.intervalMs, analysis: next.analysis ?? null, webhooks: (next.webhooks ?? []).map((w) => w.name) } };
}

/** The outbox entry `id` was delivered (or gave up): it leaves the record. */
export function delivered(r: Rollout, id: string, now: number): Rollout {
  return { ...r, outbox: (r.outbox ?? []).filter((d) => d.id !== id), updatedAt: now };
}

/** `replica` takes delivery `id` until `until`, so no other replica sends it meanwhile. */
export function claim(r: Rollout, id: string, replica: string, until: number): Rollout {
  return { ...r, outbox: (r.outbox ?? []).map((d) => (d.id === id ? { ...d, claimedBy: replica, claimedUntil: until } : d)) };
}

/** The route's weights while this rollout is in `r.state`. */
export function rolloutWeights(r: Rollout): BackendWeight[] {
  if (restores(r)) return structuredClone(r.fromBackends);
  return stepWeights(r.fromBackends, r.toBackend, r.percent);
}

/**
 * How the route's override must change for `r`: a rollout in progress or completed owns the override
 * (stamped with the YAML hash from its start, so a YAML edit of the route makes it stale); abort,
 * undo and rollback put back the override that was there before, or remove it when the YAML weights
 * were in force.
 */
export function weightEffect(r: Rollout, actor: string): WeightEffect {
  if (restores(r)) {
    if (!r.startOverride) return { clear: r.route };
    const { updatedAt: _updatedAt, ...restored } = r.startOverride;
    return { set: restored };
  }
  return {
    set: { route: r.route, backends: rolloutWeights(r), author: actor, reason: `rollout ${r.id}: ${r.percent}% to ${r.toBackend}`, baseHash: r.baseHash },
  };
}

function restores(r: Rollout): boolean {
  return r.state === 'aborted' || r.state === 'undone' || r.state === 'rolled-back';
}

function applyStep(r: Rollout, index: number, percent: number, now: number): Rollout {
  const record: StepRecord = { step: index, percent, appliedAt: now, analysis: [] };
  return {
    ...r,
    currentStep: index,
    percent,
    phase: 'syncing',
    failures: 0,
    nextStepAt: null,
    nextAnalysisAt: null,
    pausedRemainingMs: null,
    syncDeadline: now + (r.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS),
    log: [...(r.log ?? []), record],
    outbox: index > 0 ? enqueue(r, 'pre-step', now, { step: index + 1, percent }) : (r.outbox ?? []),
  };
}

/** Holds (paused, lifting by itself); undefined when it is already held for the same reason, so polling writes nothing. */
function holdAuto(r: Rollout, now: number, kind: RolloutHold['kind'], message: string, extra: Record<string, unknown>): Transition | undefined {
  if (r.state === 'paused' && r.hold?.kind === kind && r.hold.message === message) return undefined;
  const hold: RolloutHold = { kind, message, since: r.hold?.kind === kind ? r.hold.since : now, auto: true };
  return { rollout: { ...r, state: 'paused', hold, updatedAt: now }, action: `rollout.hold`, details: { kind, reason: message, step: r.currentStep + 1, percent: r.percent, ...extra } };
}

function ended(now: number): Partial<Rollout> {
  return { phase: undefined, hold: null, nextStepAt: null, nextAnalysisAt: null, syncDeadline: null, pausedRemainingMs: null, updatedAt: now };
}

function patchStep(r: Rollout, patch: Partial<StepRecord>): Rollout {
  const log = r.log ?? [];
  if (!log.length) return r;
  return { ...r, log: [...log.slice(0, -1), { ...log[log.length - 1], ...patch }] };
}

function lastRun(r: Rollout): AnalysisRun | undefined {
  const runs = r.log?.[r.log.length - 1]?.analysis ?? [];
  return runs[runs.length - 1];
}

function isLast(r: Rollout): boolean {
  return r.currentStep >= r.steps.length - 1 || r.percent >= 100;
}

function remaining(r: Rollout, now: number): number | null {
  return r.nextStepAt === null ? null : Math.max(0, r.nextStepAt - now);
}

function gates(r: Rollout): WebhookSpec[] {
  return (r.webhooks ?? []).filter((w) => w.gate && w.events.includes('pre-step'));
}

/**
 * Notification webhooks subscribed to `event` get one delivery each, with an id stable across
 * replicas (rollout, revision-independent step, event, webhook), so a receiver sees each once.
 * Gates are asked, not told: they get no pre-step notification.
 */
function enqueue(r: Rollout, event: WebhookEvent, now: number, extra: Record<string, unknown> = {}): WebhookDelivery[] {
  const out = [...(r.outbox ?? [])];
  for (const w of r.webhooks ?? []) {
    if (!w.events.includes(event) || (w.gate && event === 'pre-step')) continue;
    out.push({
      id: `${r.id}:${event}:${r.log?.length ?? 0}:${w.name}`,
      webhook: w.name,
      event,
      payload: { rollout: r.id, route: r.route, to: r.toBackend, step: r.currentStep + 1, percent: r.percent, steps: r.steps, at: now, weights: rolloutWeights(r), ...extra },
    });
  }
  return out;
}

/** A rollback notification says which weights are put back, and which ones are left. */
function restoring(r: Rollout, reason: string): Record<string, unknown> {
  return { reason, weights: structuredClone(r.fromBackends), leaving: rolloutWeights(r) };
}

function expectState(r: Rollout, verb: string, allowed: Rollout['state'][]): void {
  if (!allowed.includes(r.state)) {
    throw new RolloutError('bad-state', `cannot ${verb} rollout ${r.id} on route '${r.route}': it is ${r.state} (${verb} needs ${allowed.join(' or ')})`);
  }
}

function describe(r: Rollout, percent: number): Record<string, unknown> {
  return { to: r.toBackend, percent, step: r.steps.indexOf(percent) + 1 || r.currentStep + 1, of: r.steps.length, weights: stepWeights(r.fromBackends, r.toBackend, percent) };
}

const fmt = (n: number) => String(Math.round(n * 100) / 100);

function nextSteps(current: number): string {
  const start = Math.ceil(current);
  const mid = start < 100 ? Math.min(99, Math.ceil((start + 100) / 2)) : 100;
  return [...new Set([start, mid, 100])].filter((p) => p >= 1).join(',');
}

function fmtMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
