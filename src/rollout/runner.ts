/**
 * Drives rollouts through the store. Operators' commands (start, pause, resume, promote, abort,
 * undo) and the runner's own decisions all go the same way: read the rollout, compute the transition
 * with the pure machine, write it with the revision that was read (optimistic concurrency). With
 * several replicas each runs a runner; when a decision falls due they may all make it, exactly one
 * write succeeds, the others see a RevisionConflictError, re-read and find it made — no step skipped
 * or repeated, also when the replica that was ahead is killed.
 *
 * What the machine decides from is observed here: whether every proxy ACKed the step (the injected
 * `sync`, over the replica-wide proxy view), analysis runs (over the injected metric sources), and
 * the pre-step gates' answers (webhooks). Notifications are written into the rollout's outbox with
 * the transition that caused them and delivered afterwards by whichever replica claims them first.
 *
 * Weights reach the proxies as the route's override, written in the same transaction as the rollout
 * (see weightEffect()). The host re-applies overrides whenever the store reports a change.
 *
 * The runner looks again at the earliest time something is due, and every `pollMs` while a rollout
 * waits on something only observation can tell (proxies ACKing, a gate); an idle control plane does
 * no work.
 */
import { randomUUID } from 'node:crypto';
import type { Config, RolloutAnalysis, WebhookSpec } from '../config/model.js';
import { resolveRoute, routeBackendsHash, forwardBackends, type BackendWeight } from '../config/routes.js';
import { checkClusters, overrideFit } from '../config/weights.js';
import { ActiveRolloutExistsError, RevisionConflictError } from '../store/errors.js';
import type { AnalysisRun, Rollout, Store, WebhookDelivery, WeightEffect } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import { runAnalysis, type AnalysisSources } from './analysis/checks.js';
import { systemClock, type Clock } from './clock.js';
import { RolloutError } from './errors.js';
import * as machine from './machine.js';
import { planSpecs } from './specs.js';

/** How a rollout's webhooks are called (rollout/webhooks.ts; injectable for tests). */
export interface WebhookClient {
  deliver(spec: WebhookSpec, delivery: WebhookDelivery): Promise<{ ok: boolean; attempts: number; status?: number; error?: string }>;
  askGate(spec: WebhookSpec, delivery: WebhookDelivery): Promise<{ open: boolean; reason?: string }>;
}

export interface RolloutRunnerOptions {
  store: Store;
  clock?: Clock;
  /** Audit actor for the runner's own decisions; default `banyan-rollout`. */
  actor?: string;
  /** This replica, for claiming webhook deliveries. */
  replica?: string;
  onWeightsChange?: (route: string, backends: BackendWeight[], rollout: Rollout) => void;
  logger?: Logger;
  /** Whether the proxies run `r`'s weights. Without it a step counts as synced as soon as it is stored. */
  sync?: (r: Rollout) => Promise<machine.SyncReport>;
  /** Where analysis reads its numbers. */
  metrics?: AnalysisSources;
  webhooks?: WebhookClient;
  /** How often to look while waiting on proxies or gates; default 1 s. */
  pollMs?: number;
  /**
   * How long a stored sample may take to be visible to every replica (commit latency, clock skew):
   * analysis windows end this long before now; default 1 s.
   */
  analysisSettleMs?: number;
}

export interface StartRolloutRequest {
  /** The YAML config in force (without overrides): validates route and backend, gives the YAML weights. */
  config: Config;
  route: string;
  to: string;
  steps: number[];
  intervalMs: number;
  actor: string;
  allowDecrease?: boolean;
  ackTimeoutMs?: number;
  analysis?: RolloutAnalysis;
  webhooks?: WebhookSpec[];
  owner?: Rollout['owner'];
}

/** How many times a command re-reads and retries after losing a race with another writer. */
const COMMAND_RETRIES = 5;
/** How long a replica holds a webhook delivery before another may take it over. */
const CLAIM_MS = 60_000;
/** Samples are stamped when written; this covers commit latency and clock skew between replicas. */
const DEFAULT_SETTLE_MS = 1000;
/** Decisions one rollout may make in one pass (start → synced → gating → …). */
const FOLLOW_LIMIT = 4;
const ALWAYS_SYNCED: machine.SyncReport = { synced: true, accepted: [], pending: [], nacks: [] };

export class RolloutRunner {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly actor: string;
  private readonly replica: string;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private timer: unknown;
  private unwatch?: () => void;
  private running = false;
  /** Serialises passes so a store change during a pass causes exactly one more. */
  private pass: Promise<void> = Promise.resolve();
  private passQueued = false;
  /** Spec failures already logged (spec name and version), so a failing spec is logged once, not per change. */
  private readonly specFailures = new Set<string>();

  constructor(private readonly opts: RolloutRunnerOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.actor = opts.actor ?? 'banyan-rollout';
    this.replica = opts.replica ?? `replica-${randomUUID().slice(0, 8)}`;
    this.pollMs = opts.pollMs ?? 1000;
    this.settleMs = opts.analysisSettleMs ?? DEFAULT_SETTLE_MS;
  }

  /** Starts driving: applies whatever is already due (e.g. after a restart) and arms the timer. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.store.watch((change) => {
      if (change.kind === 'rollout' || change.kind === 'resync') void this.schedule();
    });
    await this.schedule();
  }

  stop(): void {
    this.running = false;
    this.unwatch?.();
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  // ------------------------------------------------------------------ operator commands

  async startRollout(req: StartRolloutRequest): Promise<Rollout> {
    const plan = await this.plan(req);
    const t = machine.startRollout(plan, this.clock.now());
    const stored = await this.store.createRollout(t.rollout, { actor: req.actor, action: t.action, details: t.details }, machine.weightEffect(t.rollout, req.actor));
    this.notify(stored);
    await this.schedule();
    // what the pass made of it (e.g. synced at once): what the operator is shown
    return (await this.store.getRollout(stored.id)) ?? stored;
  }

  /** Route, backends and start weights as startRollout() would take them, without storing anything. */
  async plan(req: StartRolloutRequest): Promise<machine.RolloutPlan> {
    // Route and backend errors are the same typed errors a shift gets, so they get the same answers.
    const location = resolveRoute(req.config, req.route);
    checkClusters(req.config, [req.to]);
    const yaml = forwardBackends(location);
    const override = await this.store.getOverride(location.ref);
    // a stale override is not what proxies run, so it is not the start point
    const current = override && overrideFit(req.config, override).applies ? override : undefined;
    return {
      id: randomUUID(),
      route: location.ref,
      fromBackends: current ? current.backends : yaml,
      startOverride: current ?? null,
      baseHash: routeBackendsHash(yaml),
      toBackend: req.to,
      steps: req.steps,
      intervalMs: req.intervalMs,
      startedBy: req.actor,
      allowDecrease: req.allowDecrease,
      ackTimeoutMs: req.ackTimeoutMs,
      analysis: req.analysis,
      webhooks: req.webhooks,
      owner: req.owner,
    };
  }

  /** `ref` is a rollout id or a route with an active rollout. */
  pause(ref: string, actor: string): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.pause(r, now));
  }

  resume(ref: string, actor: string): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.resume(r, now));
  }

  promote(ref: string, actor: string, opts: { full?: boolean } = {}): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.promote(r, now, opts));
  }

  abort(ref: string, actor: string, reason?: string): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.abort(r, now, reason));
  }

  /**
   * The YAML changed the route's backends under the rollout: the YAML wins (it is what the operator
   * wrote last), so the rollout ends without restoring anything: the route serves the YAML's weights.
   */
  supersede(ref: string, actor: string, reason: string): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.abort(r, now, reason), (r) => ({ clear: r.route }));
  }

  /** `ref` is a rollout id or a route (its latest rollout). */
  undo(ref: string, actor: string): Promise<Rollout> {
    return this.command(ref, actor, 'latest', (r, now) => machine.undo(r, now));
  }

  /** Applies a changed spec (steps, interval, analysis, webhooks) to an active rollout. */
  respec(id: string, actor: string, spec: Parameters<typeof machine.respec>[1]): Promise<Rollout> {
    return this.command(id, actor, 'active', (r, now) => machine.respec(r, spec, now));
  }

  /**
   * Makes the store's rollouts follow the YAML's `rollouts:` specs (see specs.ts). Every replica may
   * run this on the same config: the store's one-active-rollout-per-route rule and the revision
   * checks make the outcome the same as one replica running it. Failures are logged per spec, once
   * per spec version, and never stop the others.
   */
  async reconcileSpecs(config: Config, actor = 'file'): Promise<void> {
    const specs = config.rollouts.flatMap((spec) => {
      try {
        return [{ ...spec, route: resolveRoute(config, spec.route).ref }];
      } catch {
        return []; // admission reported it; nothing to run
      }
    });
    if (!specs.length && !(await this.store.activeRollouts()).some((r) => r.owner?.kind === 'file')) return;
    const known = await this.store.listRollouts({ limit: 200 });
    for (const action of planSpecs(specs, known)) {
      try {
        if (action.kind === 'abort' || action.kind === 'replace') await this.abort(action.rollout.id, actor, action.reason);
        if (action.kind === 'update') {
          const { spec } = action;
          await this.respec(action.rollout.id, actor, { ...spec, owner: { kind: 'file', spec: spec.name, specHash: action.specHash } });
        }
        if (action.kind === 'start' || action.kind === 'replace') {
          const { spec } = action;
          await this.startRollout({ ...spec, config, actor: `${actor} (rollouts: ${spec.name})`, owner: { kind: 'file', spec: spec.name, specHash: action.specHash } });
        }
      } catch (err) {
        const key = `${'spec' in action ? action.spec.name : action.rollout.id}:${'specHash' in action ? action.specHash : action.kind}`;
        if (err instanceof ActiveRolloutExistsError && action.kind === 'start') {
          // another replica started it a moment ago, or an operator's rollout holds the route
          const holder = await this.store.activeRollout(action.spec.route);
          if (holder?.owner?.kind === 'file' && holder.owner.spec === action.spec.name) continue;
        }
        if (this.specFailures.has(key)) continue;
        this.specFailures.add(key);
        this.opts.logger?.error({ err, spec: 'spec' in action ? action.spec.name : undefined }, `rollout spec not applied: ${(err as Error).message}`);
      }
    }
  }

  /** Finds a rollout by id, or by route: the active one, or the latest one. */
  async find(ref: string, which: 'active' | 'latest'): Promise<Rollout> {
    const found =
      (await this.store.getRollout(ref)) ??
      (which === 'active' ? await this.store.activeRollout(ref) : (await this.store.listRollouts({ route: ref, limit: 1 }))[0]);
    if (!found) throw new RolloutError('not-found', `no ${which === 'active' ? 'active ' : ''}rollout '${ref}' (give a rollout id or a route)`);
    return found;
  }

  // ------------------------------------------------------------------ the loop

  /** Observes every active rollout once, applies what is due, delivers pending notifications, re-arms. */
  runDue(): Promise<void> {
    return this.schedule();
  }

  private schedule(): Promise<void> {
    if (this.passQueued) return this.pass;
    this.passQueued = true;
    this.pass = this.pass.then(async () => {
      this.passQueued = false;
      if (!this.running) return;
      try {
        for (const r of await this.store.activeRollouts()) {
          // a decision can make the next one due at once (a step synced → its gates): follow, boundedly
          let current: Rollout | undefined = r;
          for (let i = 0; current && i < FOLLOW_LIMIT; i++) current = await this.observe(current);
        }
        await this.deliverOutboxes();
        this.arm(await this.store.activeRollouts());
      } catch (err) {
        // e.g. the store is unavailable: try again later rather than stall the rollout forever
        this.opts.logger?.warn({ err }, 'rollout pass failed; retrying in 5s');
        this.armAt(this.clock.now() + 5000);
      }
    });
    return this.pass;
  }

  /** One observation of one rollout: the stored result of the transition it made, if any. */
  private async observe(r: Rollout): Promise<Rollout | undefined> {
    if (r.state !== 'running' && r.state !== 'paused') return undefined;
    const now = this.clock.now();
    const obs: machine.Observation = { settleMs: this.settleMs };
    const waitingOnSync = r.phase === 'syncing' && (r.state === 'running' || r.hold?.auto);
    if (waitingOnSync) obs.sync = this.opts.sync ? await this.opts.sync(r) : ALWAYS_SYNCED;
    if (machine.analysisDue(r, now)) obs.analysis = await this.analyse(r, now);
    // a ready step first moves to `gating` (stored), then the gates are asked on the next look
    if (!obs.analysis && r.phase === 'gating' && machine.gatesDue(r, now)) obs.gates = await this.askGates(r, now);
    const t = machine.advance(r, now, obs);
    return t ? this.write(r, t, this.actor) : undefined;
  }

  /**
   * Runs of one step cover its traffic without gaps: each starts where the previous one ended (the
   * first one an interval back, never before the step was synced), and each ends `settleMs` before
   * now, so a sample another replica has just written (samples are stamped when written) is not
   * missed by a run that read the store a moment before it committed.
   */
  private async analyse(r: Rollout, now: number): Promise<AnalysisRun> {
    const step = r.log?.[r.log.length - 1];
    const to = now - this.settleMs;
    const previous = step?.analysis.at(-1);
    const from = previous ? previous.to : Math.max(step?.syncedAt ?? -Infinity, to - r.analysis!.intervalMs);
    const run = await runAnalysis(r, { from, to: Math.max(from, to) }, this.opts.metrics ?? {});
    return { ...run, at: now };
  }

  private async askGates(r: Rollout, now: number): Promise<{ open: boolean; reason?: string }> {
    const client = this.opts.webhooks;
    const gates = (r.webhooks ?? []).filter((w) => w.gate && w.events.includes('pre-step'));
    if (!client) return { open: false, reason: 'no webhook client configured' };
    for (const g of gates) {
      const delivery: WebhookDelivery = {
        id: `${r.id}:gate:${r.currentStep + 1}:${g.name}`,
        webhook: g.name,
        event: 'pre-step',
        payload: { rollout: r.id, route: r.route, to: r.toBackend, step: r.currentStep + 2, percent: r.steps[r.currentStep + 1], current: r.percent, at: now },
      };
      const answer = await client.askGate(g, delivery);
      if (!answer.open) return { open: false, reason: answer.reason ?? `gate ${g.name} closed` };
    }
    return { open: true };
  }

  /** Writes `t` over revision `r.revision`; undefined when another replica got there first. */
  private async write(r: Rollout, t: machine.Transition, actor: string): Promise<Rollout | undefined> {
    try {
      const stored = await this.store.updateRollout(t.rollout, r.revision, { actor, action: t.action, details: t.details }, machine.weightEffect(t.rollout, actor));
      if (t.action === 'rollout.hold') this.opts.logger?.warn({ rollout: r.id, route: r.route }, String(t.details.reason));
      if (t.action === 'rollout.rollback' || t.action === 'rollout.freeze') this.opts.logger?.error({ rollout: r.id, route: r.route }, String(t.details.reason));
      this.notify(stored);
      return stored;
    } catch (err) {
      // another replica made this decision; the watch brings us its result
      if (!(err instanceof RevisionConflictError)) throw err;
      return undefined;
    }
  }

  /** Delivers what transitions put in outboxes: claimed first (CAS), so one replica sends each. */
  private async deliverOutboxes(): Promise<void> {
    const client = this.opts.webhooks;
    if (!client) return;
    const recent = await this.store.listRollouts({ limit: 20 });
    for (const listed of recent) {
      for (const d of listed.outbox ?? []) {
        const now = this.clock.now();
        if (d.claimedBy && (d.claimedUntil ?? 0) > now) continue;
        const current = await this.store.getRollout(listed.id);
        if (!current?.outbox?.some((x) => x.id === d.id && !(x.claimedBy && (x.claimedUntil ?? 0) > now))) continue;
        let claimed: Rollout;
        try {
          claimed = await this.store.updateRollout(machine.claim(current, d.id, this.replica, now + CLAIM_MS), current.revision, { actor: this.actor, action: 'rollout.webhook-claim', details: { delivery: d.id, replica: this.replica } });
        } catch (err) {
          if (err instanceof RevisionConflictError) continue;
          throw err;
        }
        const spec = (current.webhooks ?? []).find((w) => w.name === d.webhook);
        const result = spec ? await client.deliver(spec, d) : { ok: false, attempts: 0, error: `webhook '${d.webhook}' is no longer configured` };
        for (let attempt = 0; attempt <= COMMAND_RETRIES; attempt++) {
          const latest = attempt === 0 ? claimed : await this.store.getRollout(listed.id);
          if (!latest) break;
          try {
            await this.store.updateRollout(machine.delivered(latest, d.id, this.clock.now()), latest.revision, {
              actor: this.actor,
              action: result.ok ? 'rollout.webhook' : 'rollout.webhook-failed',
              details: { delivery: d.id, webhook: d.webhook, event: d.event, attempts: result.attempts, status: result.status ?? null, error: result.error ?? null },
            });
            break;
          } catch (err) {
            if (!(err instanceof RevisionConflictError)) throw err;
          }
        }
        if (!result.ok) this.opts.logger?.error({ rollout: listed.id, webhook: d.webhook, event: d.event, error: result.error }, 'webhook delivery failed');
      }
    }
  }

  private arm(active: Rollout[]): void {
    const wakes = active.map((r) => machine.nextWake(r)).filter((t): t is number => t !== null);
    // waiting on proxies or gates: only looking tells
    if (active.some((r) => r.phase === 'syncing' || r.phase === 'gating' || r.hold?.auto)) wakes.push(this.clock.now() + this.pollMs);
    if (wakes.length === 0) {
      if (this.timer !== undefined) this.clock.clearTimer(this.timer);
      this.timer = undefined;
      return;
    }
    this.armAt(Math.min(...wakes));
  }

  private armAt(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.schedule();
    }, at - this.clock.now());
  }

  // ------------------------------------------------------------------ internals

  private async command(
    ref: string,
    actor: string,
    which: 'active' | 'latest',
    step: (r: Rollout, now: number) => machine.Transition,
    effect: (r: Rollout) => WeightEffect = (r) => machine.weightEffect(r, actor),
  ): Promise<Rollout> {
    const id = (await this.find(ref, which)).id;
    for (let attempt = 0; ; attempt++) {
      const r = await this.find(id, which);
      const t = step(r, this.clock.now());
      try {
        const stored = await this.store.updateRollout(t.rollout, r.revision, { actor, action: t.action, details: t.details }, effect(t.rollout));
        this.notify(stored);
        await this.schedule();
        return (await this.store.getRollout(stored.id)) ?? stored;
      } catch (err) {
        if (!(err instanceof RevisionConflictError) || attempt >= COMMAND_RETRIES) throw err;
      }
    }
  }

  private notify(r: Rollout): void {
    try {
      this.opts.onWeightsChange?.(r.route, machine.rolloutWeights(r), r);
    } catch (err) {
      this.opts.logger?.error({ err }, 'onWeightsChange callback failed');
    }
  }
}
