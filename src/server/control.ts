import type { Logger } from 'pino';
import type { CandidateCheck, CandidateDiff, ChangeMeta, DiffLevel, RouteView } from '../admin/operations.js';
import { ChangeHeldError, ConfigRejectedError } from '../admission/errors.js';
import { firstFilePos } from '../admission/index.js';
import { DEFAULT_MAX_REMOVAL_SHARE, removalFindings } from '../admission/safety.js';
import { hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { applyOverrides, prepareOverride } from '../config/overrides.js';
import { listRoutes, resolveRoute, forwardBackends, type BackendWeight } from '../config/routes.js';
import type { Config } from '../config/model.js';
import type { WeightsMode } from '../config/weights.js';
import { diffConfigs } from '../diff/config.js';
import { BanyanError } from '../errors.js';
import { hashConfigContent } from '../store/hash.js';
import type { AuditEntry, ConfigFile, ConfigVersion, Override, Store } from '../store/types.js';
import { inChange, type ChangeSource } from '../telemetry/tracing.js';
import { requireVersion } from './history.js';
import { weightChanges, type ConfigPipeline, type WeightChange } from './pipeline.js';

/** What `apply` did: the stored version, and what changed for the operator to read. */
export interface AppliedChange {
  version: ConfigVersion;
  unchanged: boolean;
  warnings: Diagnostic[];
  /** Overrides on routes whose YAML backends this version changed: the YAML wins, loudly. */
  clearedOverrides: string[];
  summary: string;
}

/** What the control plane needs of the rollout runner (rollout/runner.ts implements it). */
export interface RolloutAborter {
  /** The YAML re-pointed the route: the rollout ends and the YAML's weights are served. */
  supersede(id: string, actor: string, reason: string): Promise<unknown>;
  /** Makes the rollouts follow the served config's `rollouts:` section. */
  reconcileSpecs(config: Config): Promise<void>;
}

// Where they have always been imported from (file edits); they live in admission/ so admin need not point here.
export { ChangeHeldError, ConfigRejectedError };
export type { ChangeMeta, RouteView };

/** Audit actions that can move a route's weights (not a rollout's syncs, analysis runs, holds or webhooks): who a weight change is logged as. */
const MOVES_WEIGHTS = /^(override\.|config\.|rollout\.(start|step|promote|promote-full|abort|undo|rollback)$)/;

/**
 * The store is the source of truth; this class keeps what is served in step with it. Every change
 * (file edit, `banyan apply`, rollback, shift, rollout step) is written to the store first; then
 * `reconcile` — triggered by the store's watch, so other replicas follow too — applies the latest
 * config version with the current overrides. A store that cannot be written rejects the change and
 * leaves the served snapshot untouched.
 */
export class ControlPlane {
  private unwatch?: () => void;
  private queue: Promise<void> = Promise.resolve();
  private appliedKey = '';
  /** The config version served (reconcile), to tell a new version from an override change. */
  private appliedVersion?: number;

  constructor(
    readonly store: Store,
    readonly pipeline: ConfigPipeline,
    private readonly log: Logger,
    /** The rollouts this process drives; a rollout on a route the YAML re-pointed is aborted through it. */
    private readonly rollouts?: RolloutAborter,
    private readonly maxRemovalShare = DEFAULT_MAX_REMOVAL_SHARE,
    /** Set when files own the config (`serve` watching them): then apply and rollback are refused. */
    private readonly ownedByFiles?: string,
  ) {}

  /**
   * Brings up state: when `files` (the operator's YAML on disk) differ from the store's latest
   * version they become a new version; an invalid file never replaces a valid stored version.
   */
  start(files?: ConfigFile[], source = 'file'): Promise<void> {
    return inChange('startup', () => this.startNow(files, source));
  }

  private async startNow(files: ConfigFile[] | undefined, source: string): Promise<void> {
    let held: Diagnostic[] = [];
    if (files) {
      const latest = await this.store.latestConfigVersion();
      if (latest?.hash !== hashConfigContent(files)) {
        const overrides = await this.store.listOverrides();
        const check = this.pipeline.check(files, overrides);
        if (hasErrors(check.diagnostics) || !check.config) {
          if (!latest) throw new ConfigRejectedError(check.diagnostics);
          // Record the rejection (status shows it) and keep serving what the store holds.
          this.pipeline.apply(files, overrides);
        } else {
          // A file that shrank while Banyan was down is held like a live edit would be.
          const stored = latest ? this.pipeline.check(latest.content, overrides).config : undefined;
          held = stored ? removalFindings(stored, check.config, firstFilePos(files), this.maxRemovalShare) : [];
          if (!held.length) await this.store.appendConfigVersion({ content: files, author: source, message: `loaded from ${files.map((f) => f.file).join(', ')}` });
        }
      }
    }
    // a token revocation changes nothing served: only authz follows those
    this.unwatch = this.store.watch((change) => {
      // A rollout's transition is stored as a `rollout` change: reconciling it is the step being served.
      if (change.kind !== 'revocation') void this.reconcile(change.kind === 'rollout' ? 'rollout.step' : `store.${change.kind}`).catch((err) => this.log.error({ err }, 'reconcile failed'));
    });
    await this.reconcile();
    if (!this.pipeline.current) await this.serveLastGood();
    if (!this.pipeline.current) throw new Error('no config: give a config path, or apply one to the store first');
    if (held.length && files) this.pipeline.holdFiles(files, held);
  }

  /**
   * The latest stored version does not pass today's admission (stored by an older Banyan, or the
   * rules got stricter): serve the newest version that does, loudly, rather than refuse to start.
   */
  private async serveLastGood(): Promise<void> {
    const overrides = await this.store.listOverrides();
    for (const version of await this.store.listConfigVersions({ limit: 50 })) {
      const result = this.pipeline.apply(version.content, overrides);
      if (result.ok) {
        this.log.error({ version: version.version }, `the latest config version is rejected; serving version ${version.version}, the newest that is accepted`);
        return;
      }
    }
  }

  stop(): void {
    this.unwatch?.();
  }

  /** What this replica serves: the applied config hash and overrides (equal on replicas serving the same). */
  servedKey(): string {
    return this.appliedKey;
  }

  /** Applies the store's latest version and overrides if they differ from what is served. Serialized. */
  reconcile(source: ChangeSource = 'store.config'): Promise<void> {
    const run = this.queue.then(async () => {
      const [latest, overrides] = await Promise.all([this.store.latestConfigVersion(), this.store.listOverrides()]);
      if (!latest) return;
      const key = `${latest.hash}|${JSON.stringify(overrides.map((o) => [o.route, o.backends, o.baseHash]))}`;
      if (key === this.appliedKey) return;
      // Traced only past this point: a reconcile that finds nothing new (every store watch after a
      // change this replica already served) makes no empty trace. Inside a change, it joins it.
      await inChange(source, (root) => {
        root.setAttribute('banyan.config.version', latest.version);
        return this.applyLatest(latest, overrides, key);
      });
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyLatest(latest: ConfigVersion, overrides: Override[], key: string): Promise<void> {
    const before = this.pipeline.current;
    const result = this.pipeline.apply(latest.content, overrides);
    this.appliedKey = key;
    if (!result.ok) return;
    const previousVersion = this.appliedVersion;
    this.appliedVersion = latest.version;
    // Logging never fails a reconcile.
    if (before) await this.logWeightChanges(weightChanges(before.effective, result.applied.effective), latest, overrides, previousVersion).catch((err) => this.log.warn({ err }, 'could not log the weight changes'));
    for (const st of result.applied.stale) {
      // The YAML changed this route's backends: the YAML wins and the override goes, loudly.
      await this.store.clearOverride(st.override.route, 'banyan', st.message).catch((err) => this.log.error({ err }, 'could not clear stale override'));
      await this.abortRollout(st.override.route, st.message).catch((err) => this.log.error({ err, route: st.override.route }, 'could not act on stale override'));
    }
    await this.rollouts?.reconcileSpecs(result.applied.base).catch((err) => this.log.error({ err }, 'could not reconcile rollouts: specs'));
  }

  /**
   * One structured line per route whose served weights moved: `{route, from, to, actor, reason,
   * action}`, whoever made the change (a shift, a rollout step, an apply or rollback, a file edit, or
   * another replica: the actor is read from the shared audit log, the newest entry about the route
   * or about the version just applied).
   */
  private async logWeightChanges(changes: WeightChange[], latest: ConfigVersion, overrides: Override[], previousVersion: number | undefined): Promise<void> {
    if (changes.length === 0) return;
    const audit = await Promise.resolve()
      .then(() => this.store.listAudit({ limit: 100 }))
      .catch(() => [] as AuditEntry[]);
    const versionTarget = previousVersion !== latest.version ? `version ${latest.version}` : undefined;
    for (const c of changes) {
      const entry = audit.filter((e) => (e.target === c.route || e.target === versionTarget) && MOVES_WEIGHTS.test(e.action)).sort((a, b) => b.id - a.id)[0];
      const override = overrides.find((o) => o.route === c.route);
      const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
      let who: { actor: string; reason: string; action: string };
      if (entry) {
        // A rollout's step names itself in the override it writes (`rollout ID: 30% to v2`); a restored override is someone else's.
        const fromOverride = entry.target === c.route && override?.reason.startsWith(`rollout ${String(entry.details.rollout)}:`) ? override.reason : undefined;
        who = { actor: entry.actor, reason: text(entry.details.reason) ?? fromOverride ?? text(entry.details.message) ?? '', action: entry.action };
      } else if (override && versionTarget === undefined) {
        who = { actor: override.author, reason: override.reason, action: 'override.set' };
      } else {
        who = { actor: latest.author, reason: latest.message, action: 'config.apply' };
      }
      this.log.info({ route: c.route, from: c.from, to: c.to, ...who, version: latest.version }, 'route weights changed');
    }
  }

  /** A rollout whose route the YAML re-pointed would keep writing overrides the YAML has outdated: stop it. */
  private async abortRollout(route: string, reason: string): Promise<void> {
    if (!this.rollouts) return;
    const active = await this.store.activeRollout(route);
    if (!active) return;
    this.log.warn({ route, rollout: active.id }, `rollout superseded: ${reason}`);
    await this.rollouts.supersede(active.id, 'banyan (YAML changed the route)', `the YAML changed the route's backends; its weights are served now (${reason})`);
  }

  /** Load, compile and admit `files` with no overrides, storing nothing (`banyan validate` against the server). */
  validate(files: ConfigFile[]): CandidateCheck {
    const { diagnostics } = this.pipeline.check(files);
    return { valid: !hasErrors(diagnostics), diagnostics };
  }

  /** What serving `files` would change: the candidate with today's overrides, against what is live. */
  diffCandidate(files: ConfigFile[], level: DiffLevel): CandidateDiff {
    const { config, diagnostics } = this.pipeline.check(files);
    if (!config || hasErrors(diagnostics)) throw new ConfigRejectedError(diagnostics);
    return this.pipeline.diffCandidate(config, level);
  }

  /**
   * Validates and stores a new config version, then serves it. Throws ConfigRejectedError on any
   * error, ChangeHeldError when it removes too much without `confirmRemoval`.
   */
  apply(files: ConfigFile[], meta: ChangeMeta, origin: 'file' | 'api' = 'api'): Promise<AppliedChange> {
    return inChange(origin === 'file' ? 'file.reload' : 'admin.apply', () => this.applyNow(files, meta, origin));
  }

  private async applyNow(files: ConfigFile[], meta: ChangeMeta, origin: 'file' | 'api'): Promise<AppliedChange> {
    if (origin === 'api') this.refuseWhenFilesOwn('apply');
    const before = this.pipeline.current;
    const check = this.pipeline.check(files, await this.store.listOverrides());
    if (hasErrors(check.diagnostics) || !check.config) throw new ConfigRejectedError(check.diagnostics);
    const warnings = check.diagnostics.filter((d) => d.severity !== 'error');
    const latest = await this.store.latestConfigVersion();
    if (latest && latest.hash === hashConfigContent(files)) return { version: latest, unchanged: true, warnings, clearedOverrides: [], summary: 'no changes' };
    const live = this.pipeline.current?.base;
    if (live && !meta.confirmRemoval) {
      const held = removalFindings(live, check.config, firstFilePos(files), this.maxRemovalShare);
      if (held.length) throw new ChangeHeldError(held);
    }
    const version = await this.store.appendConfigVersion({ content: files, author: meta.author, message: meta.message });
    await this.reconcile();
    const after = this.pipeline.current?.base;
    if (!after) return { version, unchanged: false, warnings, clearedOverrides: [], summary: 'no changes' };
    // Reported from here because reconcile clears these overrides in the store only after the fact.
    const clearedOverrides = applyOverrides(after, before?.overrides ?? []).stale.map((s) => s.message);
    return { version, unchanged: false, warnings, clearedOverrides, summary: diffConfigs(before?.base, after).summary };
  }

  /** Makes an old version live again, as a new version. */
  rollback(target: number, meta: ChangeMeta): Promise<ConfigVersion> {
    return inChange('admin.rollback', () => this.rollbackNow(target, meta));
  }

  private async rollbackNow(target: number, meta: ChangeMeta): Promise<ConfigVersion> {
    this.refuseWhenFilesOwn('rollback');
    const old = await requireVersion(this.store, target);
    const check = this.pipeline.check(old.content);
    if (hasErrors(check.diagnostics)) throw new ConfigRejectedError(check.diagnostics);
    const version = await this.store.appendConfigVersion({
      content: old.content,
      author: meta.author,
      message: meta.message || `rollback to version ${target}`,
      action: 'config.rollback',
      details: { to: target },
    });
    await this.reconcile();
    return version;
  }

  /** Sets a route's weights by hand (percentages unless `relative`). Refused while a rollout drives the route. */
  setWeights(ref: string, backends: BackendWeight[], meta: { author: string; reason: string } & WeightsMode): Promise<Override> {
    return inChange('admin.shift', () => this.setWeightsNow(ref, backends, meta));
  }

  private async setWeightsNow(ref: string, backends: BackendWeight[], meta: { author: string; reason: string } & WeightsMode): Promise<Override> {
    const prepared = prepareOverride(this.pipeline.served().base, ref, backends, { relative: meta.relative });
    await this.refuseDuringRollout(prepared.route);
    // Admitted before it is stored: an override the proxies could not be sent exactly must never become live.
    const others = (await this.store.listOverrides()).filter((o) => o.route !== prepared.route);
    const check = this.pipeline.check(this.pipeline.current!.files, [...others, prepared]);
    if (hasErrors(check.diagnostics)) throw new ConfigRejectedError(check.diagnostics);
    const saved = await this.store.setOverride({ ...prepared, author: meta.author, reason: meta.reason });
    await this.reconcile();
    return saved;
  }

  /** Drops a route's override: its YAML weights apply again. Returns the canonical route and whether there was one. */
  clearWeights(ref: string, meta: { author: string; reason: string }): Promise<{ route: string; cleared: boolean }> {
    return inChange('admin.shift', () => this.clearWeightsNow(ref, meta));
  }

  private async clearWeightsNow(ref: string, meta: { author: string; reason: string }): Promise<{ route: string; cleared: boolean }> {
    const route = resolveRoute(this.pipeline.served().base, ref).ref;
    await this.refuseDuringRollout(route);
    const cleared = await this.store.clearOverride(route, meta.author, meta.reason);
    await this.reconcile();
    return { route, cleared };
  }

  /**
   * One source of truth: while `serve` follows files, a config stored by apply or rollback would be
   * undone by the next file edit without a word. Refused, saying what to do instead.
   */
  private refuseWhenFilesOwn(verb: string): void {
    if (!this.ownedByFiles) return;
    throw new BanyanError(
      'file-owned',
      `this control plane serves its config from ${this.ownedByFiles} and follows edits there, so ${verb} through the API would be undone by the next edit: ` +
        `change the files instead (e.g. git revert), or start serve with --config-owner store to let apply and rollback own the config`,
    );
  }

  /** A rollout owns its route's weights until it ends: the one place hand changes are refused for it. */
  private async refuseDuringRollout(route: string): Promise<void> {
    const active = await this.store.activeRollout(route);
    if (active) {
      throw new BanyanError('busy-route', `route ${route} has an active rollout (${active.id}, ${active.state}); abort or finish it before shifting by hand`);
    }
  }

  async routes(): Promise<RouteView[]> {
    const overrides = await this.store.listOverrides();
    const cur = this.pipeline.current;
    if (!cur) return [];
    const effective = new Map(listRoutes(cur.effective).map((l) => [l.ref, l]));
    return listRoutes(cur.base)
      .filter((l) => l.route.action.kind === 'forward')
      .map((l) => {
        const eff = effective.get(l.ref) ?? l;
        return {
          ref: l.ref,
          listener: l.listener.name,
          host: l.host.name,
          name: l.route.name,
          backends: forwardBackends(eff),
          yamlBackends: forwardBackends(l),
          override: overrides.find((o) => o.route === l.ref) ?? null,
        };
      });
  }
}
