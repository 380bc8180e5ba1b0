/**
 * Drives rollouts through the store. Operators' commands (start, pause, resume, promote, abort,
 * undo) and the timer's steps all go the same way: read the rollout, compute the transition with
 * the pure machine, write it with the revision that was read (optimistic concurrency). With several
 * replicas each runs a timer; when a step falls due they all try, exactly one write succeeds, and
 * the others see a RevisionConflictError, re-read and find nothing due — no step skipped or repeated.
 *
 * Weights reach the proxies as the route's override, written in the same transaction as the rollout
 * (see weightEffect()). The host therefore only has to re-apply overrides whenever the store reports
 * a change; `onWeightsChange` is a shortcut for this replica's own transitions.
 *
 * The timer is armed for the earliest due step of any running rollout and re-armed after every store
 * change, so an idle control plane does no work and a replica learns of rollouts others start.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/model.js';
import { resolveRoute, routeBackendsHash, forwardBackends, type BackendWeight } from '../config/routes.js';
import { checkClusters, overrideFit } from '../config/weights.js';
import { RevisionConflictError } from '../store/errors.js';
import type { Rollout, Store } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import { systemClock, type Clock } from './clock.js';
import { RolloutError } from './errors.js';
import * as machine from './machine.js';

export interface RolloutRunnerOptions {
  store: Store;
  clock?: Clock;
  /** Audit actor for the timer's own steps; default `banyan-rollout`. */
  actor?: string;
  onWeightsChange?: (route: string, backends: BackendWeight[], rollout: Rollout) => void;
  logger?: Logger;
}

export interface StartRolloutRequest {
  /** The YAML config in force (without overrides): validates route and backend, gives the YAML weights. */
  config: Config;
  route: string;
  to: string;
  steps: number[];
  intervalMs: number;
  actor: string;
}

/** How many times an operator command re-reads and retries after losing a race with another writer. */
const COMMAND_RETRIES = 5;

export class RolloutRunner {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly actor: string;
  private timer: unknown;
  private unwatch?: () => void;
  private running = false;
  /** Serialises scheduling passes so a store change during a pass causes exactly one more. */
  private pass: Promise<void> = Promise.resolve();
  private passQueued = false;

  constructor(private readonly opts: RolloutRunnerOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.actor = opts.actor ?? 'banyan-rollout';
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
    // Route and backend errors are the same typed errors a shift gets, so they get the same answers.
    const location = resolveRoute(req.config, req.route);
    checkClusters(req.config, [req.to]);
    const yaml = forwardBackends(location);
    const baseHash = routeBackendsHash(yaml);
    const override = await this.store.getOverride(location.ref);
    // a stale override is not what proxies run, so it is not the start point
    const current = override && overrideFit(req.config, override).applies ? override : undefined;
    const t = machine.startRollout(
      {
        id: randomUUID(),
        route: location.ref,
        fromBackends: current ? current.backends : yaml,
        startOverride: current ?? null,
        baseHash,
        toBackend: req.to,
        steps: req.steps,
        intervalMs: req.intervalMs,
        startedBy: req.actor,
      },
      this.clock.now(),
    );
    const stored = await this.store.createRollout(t.rollout, { actor: req.actor, action: t.action, details: t.details }, machine.weightEffect(t.rollout, req.actor));
    this.notify(stored);
    await this.schedule();
    return stored;
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

  abort(ref: string, actor: string): Promise<Rollout> {
    return this.command(ref, actor, 'active', (r, now) => machine.abort(r, now));
  }

  /** `ref` is a rollout id or a route (its latest rollout). */
  undo(ref: string, actor: string): Promise<Rollout> {
    return this.command(ref, actor, 'latest', (r, now) => machine.undo(r, now));
  }

  /** Finds a rollout by id, or by route: the active one, or the latest one. */
  async find(ref: string, which: 'active' | 'latest'): Promise<Rollout> {
    const found =
      (await this.store.getRollout(ref)) ??
      (which === 'active' ? await this.store.activeRollout(ref) : (await this.store.listRollouts({ route: ref, limit: 1 }))[0]);
    if (!found) throw new RolloutError('not-found', `no ${which === 'active' ? 'active ' : ''}rollout '${ref}' (give a rollout id or a route)`);
    return found;
  }

  // ------------------------------------------------------------------ timer

  /** Applies every step that is due now (at most one per rollout), then re-arms the timer. */
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
        await this.advanceDue();
        this.arm(await this.store.activeRollouts());
      } catch (err) {
        // e.g. the store is unavailable: try again later rather than stall the rollout forever
        this.opts.logger?.warn({ err }, 'rollout pass failed; retrying in 5s');
        this.armAt(this.clock.now() + 5000);
      }
    });
    return this.pass;
  }

  private async advanceDue(): Promise<void> {
    const now = this.clock.now();
    for (const r of await this.store.activeRollouts()) {
      const t = machine.tick(r, now);
      if (!t) continue;
      try {
        const stored = await this.store.updateRollout(t.rollout, r.revision, { actor: this.actor, action: t.action, details: t.details }, machine.weightEffect(t.rollout, this.actor));
        this.notify(stored);
      } catch (err) {
        // another replica took this step; the watch will bring us its result
        if (!(err instanceof RevisionConflictError)) throw err;
      }
    }
  }

  private arm(active: Rollout[]): void {
    const due = active.filter((r) => r.state === 'running' && r.nextStepAt !== null).map((r) => r.nextStepAt!);
    if (due.length === 0) {
      if (this.timer !== undefined) this.clock.clearTimer(this.timer);
      this.timer = undefined;
      return;
    }
    this.armAt(Math.min(...due));
  }

  private armAt(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.schedule();
    }, at - this.clock.now());
  }

  // ------------------------------------------------------------------ internals

  private async command(ref: string, actor: string, which: 'active' | 'latest', step: (r: Rollout, now: number) => machine.Transition): Promise<Rollout> {
    const id = (await this.find(ref, which)).id;
    for (let attempt = 0; ; attempt++) {
      const r = await this.find(id, which);
      const t = step(r, this.clock.now());
      try {
        const stored = await this.store.updateRollout(t.rollout, r.revision, { actor, action: t.action, details: t.details }, machine.weightEffect(t.rollout, actor));
        this.notify(stored);
        await this.schedule();
        return stored;
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
