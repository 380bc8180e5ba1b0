import type { Logger } from 'pino';
import { hasErrors, type Diagnostic } from '../config/diagnostics.js';
import type { Config } from '../config/model.js';
import { listRoutes, prepareOverride, resolveRoute, yamlBackends, type BackendWeight } from '../config/overrides.js';
import { hashConfigContent } from '../store/hash.js';
import type { ConfigFile, ConfigVersion, Override, Store } from '../store/types.js';
import type { ConfigPipeline } from './pipeline.js';

/** A candidate config was invalid: nothing was stored or applied. */
export class ConfigRejectedError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`config rejected: ${diagnostics.filter((d) => d.severity === 'error').length} error(s)`);
    this.name = 'ConfigRejectedError';
  }
}

export interface ChangeMeta {
  author: string;
  message: string;
}

export interface RouteView {
  ref: string;
  listener: string;
  host: string;
  name: string;
  /** What proxies are sent now (YAML, or the override when one applies). */
  backends: BackendWeight[];
  yamlBackends: BackendWeight[];
  override: Override | null;
}

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

  constructor(
    readonly store: Store,
    readonly pipeline: ConfigPipeline,
    private readonly log: Logger,
    /** Called after a stale override was cleared (the YAML changed that route's backends). */
    private readonly onStale: (route: string, reason: string) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Brings up state: when `files` (the operator's YAML on disk) differ from the store's latest
   * version they become a new version; an invalid file never replaces a valid stored version.
   */
  async start(files?: ConfigFile[], source = 'file'): Promise<void> {
    if (files) {
      const latest = await this.store.latestConfigVersion();
      if (latest?.hash !== hashConfigContent(files)) {
        const check = this.pipeline.check(files);
        if (hasErrors(check.diagnostics)) {
          if (!latest) throw new ConfigRejectedError(check.diagnostics);
          // Record the rejection (status shows it) and keep serving what the store holds.
          this.pipeline.apply(files);
        } else {
          await this.store.appendConfigVersion({ content: files, author: source, message: `loaded from ${files.map((f) => f.file).join(', ')}` });
        }
      }
    }
    this.unwatch = this.store.watch(() => void this.reconcile().catch((err) => this.log.error({ err }, 'reconcile failed')));
    await this.reconcile();
    if (!this.pipeline.current) throw new Error('no config: give a config path, or apply one to the store first');
  }

  stop(): void {
    this.unwatch?.();
  }

  /** Applies the store's latest version and overrides if they differ from what is served. Serialized. */
  reconcile(): Promise<void> {
    const run = this.queue.then(async () => {
      const [latest, overrides] = await Promise.all([this.store.latestConfigVersion(), this.store.listOverrides()]);
      if (!latest) return;
      const key = `${latest.hash}|${JSON.stringify(overrides.map((o) => [o.route, o.backends, o.baseHash]))}`;
      if (key === this.appliedKey) return;
      const result = this.pipeline.apply(latest.content, overrides);
      this.appliedKey = key;
      if (!result.ok) return;
      for (const st of result.applied.stale) {
        // The YAML changed this route's backends: the YAML wins and the override goes, loudly.
        await this.store.clearOverride(st.override.route, 'banyan', st.message).catch((err) => this.log.error({ err }, 'could not clear stale override'));
        await this.onStale(st.override.route, st.message).catch((err) => this.log.error({ err, route: st.override.route }, 'could not act on stale override'));
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private base(): Config {
    const cur = this.pipeline.current;
    if (!cur) throw new Error('no config applied yet');
    return cur.base;
  }

  /** Validates and stores a new config version, then serves it. Throws ConfigRejectedError on any error. */
  async apply(files: ConfigFile[], meta: ChangeMeta): Promise<{ version: ConfigVersion; unchanged: boolean; warnings: Diagnostic[] }> {
    const check = this.pipeline.check(files);
    if (hasErrors(check.diagnostics)) throw new ConfigRejectedError(check.diagnostics);
    const warnings = check.diagnostics.filter((d) => d.severity === 'warning');
    const latest = await this.store.latestConfigVersion();
    if (latest && latest.hash === hashConfigContent(files)) return { version: latest, unchanged: true, warnings };
    const version = await this.store.appendConfigVersion({ content: files, author: meta.author, message: meta.message });
    await this.reconcile();
    return { version, unchanged: false, warnings };
  }

  /** Makes an old version live again, as a new version. */
  async rollback(target: number, meta: ChangeMeta): Promise<ConfigVersion> {
    const old = await this.store.getConfigVersion(target);
    if (!old) throw new RangeError(`no config version ${target}`);
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

  async setWeights(ref: string, backends: BackendWeight[], meta: { author: string; reason: string }): Promise<Override> {
    const prepared = prepareOverride(this.base(), ref, backends);
    const active = await this.store.activeRollout(prepared.route);
    if (active) throw new RangeError(`route ${prepared.route} has an active rollout (${active.id}); pause/abort it before shifting by hand`);
    const saved = await this.store.setOverride({ ...prepared, author: meta.author, reason: meta.reason });
    await this.reconcile();
    return saved;
  }

  async clearWeights(ref: string, meta: { author: string; reason: string }): Promise<boolean> {
    const route = resolveRoute(this.base(), ref).ref;
    const cleared = await this.store.clearOverride(route, meta.author, meta.reason);
    await this.reconcile();
    return cleared;
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
          backends: yamlBackends(eff),
          yamlBackends: yamlBackends(l),
          override: overrides.find((o) => o.route === l.ref) ?? null,
        };
      });
  }
}
