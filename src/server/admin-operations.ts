import type {
  AdminOperations,
  ApplyOutcome,
  CandidateCheck,
  CandidateDiff,
  ChangeMeta,
  DiffLevel,
  HistoryEntry,
  RevokeRequest,
  RolloutCommand,
  RolloutStatus,
  RouteState,
  ServedView,
  StartRollout,
  VersionDiff,
  VersionInfo,
} from '../admin/operations.js';
import type { ConfigDiff } from '../diff/config.js';
import type { RolloutRunner } from '../rollout/runner.js';
import type { AuditEntry, BackendWeight, ConfigFile, ConfigVersion, Override, Revocation, RevocationKind, Rollout, Store } from '../store/types.js';
import { ConfigRejectedError } from '../admission/errors.js';
import { hasErrors } from '../config/diagnostics.js';
import { CandidateChecker } from './candidate-worker.js';
import type { ControlPlane } from './control.js';
import { ConfigHistory, withoutContent } from './history.js';
import { rolloutStatus, type FleetState } from './rollout-progress.js';

/**
 * The admin API's operations over this process: changes go to the control plane, rollout commands
 * to the runner, reads to the store, history and served view. Delegation only; each rule lives in
 * the part it is delegated to.
 */
export class ServerOperations implements AdminOperations {
  private readonly versions: ConfigHistory;

  constructor(
    private readonly control: ControlPlane,
    private readonly store: Store,
    private readonly runner: RolloutRunner,
    private readonly view: ServedView,
    private readonly fleet: FleetState,
    /** Candidate checks off the event loop (server/candidate-worker.ts). */
    private readonly checker = new CandidateChecker(control.pipeline),
  ) {
    this.versions = new ConfigHistory(store, control.pipeline);
  }

  /** Candidate checks running or queued (the check worker's load). */
  pendingChecks(): number {
    return this.checker.pending;
  }

  /** Stops the check worker. */
  close(): Promise<void> {
    return this.checker.close();
  }

  async validate(files: ConfigFile[]): Promise<CandidateCheck> {
    return this.checker.validate(files);
  }

  async diff(files: ConfigFile[], level: DiffLevel): Promise<CandidateDiff> {
    return this.checker.diff(files, level);
  }

  async apply(files: ConfigFile[], meta: ChangeMeta): Promise<ApplyOutcome> {
    // An invalid candidate is refused by the worker, off the event loop; a valid one is compiled here once, to be served.
    const pre = await this.checker.validate(files);
    if (hasErrors(pre.diagnostics)) throw new ConfigRejectedError(pre.diagnostics);
    const { version, ...rest } = await this.control.apply(files, meta);
    return { version: withoutContent(version), ...rest };
  }

  history(limit: number): Promise<HistoryEntry[]> {
    return this.versions.list(limit);
  }

  version(n: number): Promise<ConfigVersion & { diff: ConfigDiff | null }> {
    return this.versions.version(n);
  }

  diffVersions(from: number, to: number, level: DiffLevel): Promise<VersionDiff> {
    return this.versions.diff(from, to, level);
  }

  async rollback(version: number, meta: { author: string; message: string }): Promise<VersionInfo> {
    return withoutContent(await this.control.rollback(version, meta));
  }

  audit(opts: { limit: number; since?: number }): Promise<AuditEntry[]> {
    return this.store.listAudit(opts);
  }

  async routes(): Promise<RouteState[]> {
    const [routes, active] = await Promise.all([this.control.routes(), this.store.activeRollouts()]);
    return routes.map((r) => {
      const rollout = active.find((a) => a.route === r.ref);
      return { ...r, rollout: rollout ? { id: rollout.id, state: rollout.state, toBackend: rollout.toBackend, percent: rollout.percent } : null };
    });
  }

  setWeights(ref: string, backends: BackendWeight[], meta: { author: string; reason: string; relative?: boolean }): Promise<Override> {
    return this.control.setWeights(ref, backends, meta);
  }

  clearWeights(ref: string, meta: { author: string; reason: string }): Promise<{ route: string; cleared: boolean }> {
    return this.control.clearWeights(ref, meta);
  }

  async startRollout(req: StartRollout): Promise<RolloutStatus> {
    const { author, ...plan } = req;
    return this.status(await this.runner.startRollout({ ...plan, config: this.view.config('base'), actor: author }));
  }

  async rollouts(opts: { route?: string; limit: number }): Promise<RolloutStatus[]> {
    return Promise.all((await this.store.listRollouts(opts)).map((r) => this.status(r)));
  }

  async rollout(ref: string): Promise<RolloutStatus> {
    const active = await this.store.activeRollout(ref);
    return this.status(active ?? (await this.runner.find(ref, 'latest')));
  }

  async command(ref: string, command: RolloutCommand, author: string, opts: { full?: boolean } = {}): Promise<RolloutStatus> {
    const r = command === 'promote' ? await this.runner.promote(ref, author, opts) : await this.runner[command](ref, author);
    return this.status(r);
  }

  revoke(req: RevokeRequest): Promise<Revocation> {
    return this.store.addRevocation({ kind: req.kind, value: req.value, reason: req.reason, actor: req.author, expiresAt: req.expiresAt });
  }

  revocations(): Promise<Revocation[]> {
    return this.store.listRevocations(Date.now());
  }

  unrevoke(kind: RevocationKind, value: string, author: string): Promise<boolean> {
    return this.store.removeRevocation(kind, value, author);
  }

  private status(r: Rollout): Promise<RolloutStatus> {
    return rolloutStatus(this.fleet, r);
  }
}
