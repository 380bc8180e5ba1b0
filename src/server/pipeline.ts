import type { Logger } from 'pino';
import type client from 'prom-client';
import { prom } from '../telemetry/metrics.js';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { createHash } from 'node:crypto';
import { loadConfigFromFiles, readFileFromDisk, type LoadOptions } from '../config/load.js';
import { LoadCache } from '../config/load-cache.js';
import type { Config } from '../config/model.js';
import { Admission, firstFilePos } from '../admission/index.js';
import type { CandidateDiff, DiffLevel } from '../admin/operations.js';
import { compile, type CompileOptions } from '../compile/index.js';
import { diffConfigs } from '../diff/config.js';
import { diffSnapshots } from '../diff/xds.js';
import type { CompiledSnapshot } from '../compile/types.js';
import type { WireForms } from '../proto/wire-form.js';
import { applyOverrides, type OverrideLike, type StaleOverride } from '../config/overrides.js';
import { forwardBackends, listRoutes, resolveRoute } from '../config/routes.js';
import { hashConfigContent } from '../store/hash.js';
import type { SourceFile } from '../config/source.js';
import { BanyanError } from '../errors.js';
import { currentChange, inSpan } from '../telemetry/tracing.js';

export interface AppliedConfig {
  files: SourceFile[];
  /** sha256 over file names and contents: identifies what the operator wrote. */
  hash: string;
  /** The YAML as loaded, before runtime overrides. */
  base: Config;
  /** What is served: base plus runtime overrides. */
  effective: Config;
  snapshot: CompiledSnapshot;
  warnings: Diagnostic[];
  /** Runtime overrides laid over `base`, and those that no longer apply. */
  overrides: OverrideLike[];
  stale: StaleOverride[];
  appliedAt: string;
  /** The files the secrets were read from (certificates, keys, CAs): what the watcher follows besides the YAML. */
  secretFiles: string[];
}

export interface RejectedConfig {
  hash: string;
  diagnostics: Diagnostic[];
  at: string;
}

interface PreparedOk {
  ok: true;
  base: Config;
  effective: Config;
  stale: StaleOverride[];
  snapshot: CompiledSnapshot;
  wire?: WireForms;
  /** Warnings (and infos) only. */
  diagnostics: Diagnostic[];
  secretFiles: string[];
  secretsDigest: string;
}

interface Loaded {
  config?: Config;
  diagnostics: Diagnostic[];
  /** Every secret file the load read, with what it read (never logged or stored: keys are in here). */
  secrets: Map<string, string>;
  /** sha256 over `secrets`, for cache keys. */
  secretsDigest: string;
}

function digestOf(secrets: ReadonlyMap<string, string>): string {
  if (secrets.size === 0) return '';
  const h = createHash('sha256');
  for (const [file, text] of [...secrets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(file).update('\0').update(text).update('\0');
  return h.digest('hex');
}

function secretsUnchanged(secrets: ReadonlyMap<string, string>, readFile: (file: string) => string): boolean {
  for (const [file, text] of secrets) {
    let now: string;
    try {
      now = readFile(file);
    } catch (err) {
      now = `\0unreadable ${(err as Error).message}`;
    }
    if (now !== text) return false;
  }
  return true;
}

type Prepared = PreparedOk | { ok: false; diagnostics: Diagnostic[] };

export type ApplyResult = { ok: true; applied: AppliedConfig } | { ok: false; rejected: RejectedConfig };

export interface PipelineSinks {
  /** Receives every new compiled snapshot (the xDS cache), with the wire forms admission already made. */
  snapshot(snapshot: CompiledSnapshot, wire?: WireForms): void;
  /** Receives every new effective config (rate limit and authz services). */
  config?(config: Config): void;
}

/**
 * source files → Config → (+ overrides) → compiled snapshot → servers. The only place where a new
 * config becomes live; a config with any error is rejected whole and the last good one keeps serving.
 */
export class ConfigPipeline {
  current?: AppliedConfig;
  lastRejected?: RejectedConfig;
  /** The last valid change held for confirmation because of how much it removes; cleared by the next publish. */
  lastHeld?: RejectedConfig;
  private readonly loaded = new Map<string, Loaded>();
  /** Below `loaded`: what each file, document and top-level piece made, so an edit re-parses only what it touched. */
  private readonly loadCache = new LoadCache();
  private readonly prepared = new Map<string, Prepared>();
  private readonly admission = new Admission();
  private readonly loadErrors: client.Counter;
  private readonly reloads: client.Counter;
  private readonly loadOptions: LoadOptions;
  /** The secrets' digest of what is served (Loaded.secretsDigest). */
  private servedSecretsDigest = '';

  constructor(
    private readonly sinks: PipelineSinks,
    private readonly log: Logger,
    registry: client.Registry,
    /** How this process loads configs (serve: where its own services listen). Secret files are read from disk unless it says otherwise. */
    loadOptions: LoadOptions = {},
    /** How configs are compiled beyond what they say (serve: which clusters report load, ServeOptions.loadReporting). */
    private readonly compileOptions: CompileOptions = {},
  ) {
    this.loadOptions = { readFile: readFileFromDisk, ...loadOptions };
    this.loadErrors = new prom.Counter({
      name: 'banyan_config_load_errors_total',
      help: 'Config loads rejected because of errors; the last good config kept serving',
      registers: [registry],
    });
    this.reloads = new prom.Counter({
      name: 'banyan_config_reloads_total',
      help: 'Valid configs applied',
      registers: [registry],
    });
  }

  /** What is served, for callers that cannot proceed without it: `no-config` before the first config. */
  served(): AppliedConfig {
    if (!this.current) throw new BanyanError('no-config', 'no valid config applied yet');
    return this.current;
  }

  /** How this pipeline loads and compiles: a pipeline built with these (a check worker's) does both alike. */
  options(): { loadOptions: LoadOptions; compileOptions: CompileOptions } {
    return { loadOptions: this.loadOptions, compileOptions: this.compileOptions };
  }

  /**
   * What serving the loaded `config` would change against `live`, with live's overrides laid on and
   * compiled as apply compiles (the same options and load-reporting clusters), so an xDS diff shows
   * only what the candidate changes.
   */
  diffCandidate(config: Config, level: DiffLevel, live: AppliedConfig = this.served()): CandidateDiff {
    const laid = applyOverrides(config, live.overrides);
    const staleOverrides = laid.stale.map((s) => s.message);
    if (level === 'config') return { level: 'config', diff: diffConfigs(live.effective, laid.config), staleOverrides };
    const loadReporting = reportingClusters(laid.config, live.overrides, laid.stale, this.compileOptions.loadReporting);
    return { level: 'xds', diff: diffSnapshots(live.snapshot, compile(laid.config, { ...this.compileOptions, loadReporting })), staleOverrides };
  }

  /**
   * Everything apply would do short of publishing: load, lay `overrides` on, compile and admit. The
   * control plane calls this before it stores a change, so a change the pipeline would refuse is
   * never stored as live.
   */
  check(files: SourceFile[], overrides: readonly OverrideLike[] = []): { config?: Config; diagnostics: Diagnostic[] } {
    const prepared = this.prepare(files, hashConfigContent(files), overrides);
    return { config: prepared.ok ? prepared.base : undefined, diagnostics: prepared.diagnostics };
  }

  apply(files: SourceFile[], overrides: readonly OverrideLike[] = []): ApplyResult {
    const hash = hashConfigContent(files);
    const at = new Date().toISOString();
    const prepared = this.prepare(files, hash, overrides);
    if (!prepared.ok) return this.reject(hash, prepared.diagnostics, at);
    return this.publish(files, hash, prepared, overrides, at);
  }

  /**
   * Load, overrides, compile and admission, remembering the last two results by content and
   * overrides: a change is checked before it is stored and applied after, and an override change
   * re-applies the same YAML, so without this every change would do the work two or three times.
   * Configs and snapshots are never mutated after they are made, so sharing them is safe.
   */
  private prepare(files: SourceFile[], hash: string, overrides: readonly OverrideLike[]): Prepared {
    // By route: each override is for a different route, so their order changes nothing, and a shift's
    // pre-store check (overrides in its own order) must hit the same entry as the reconcile after it.
    const byRoute = [...overrides].sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0));
    // The secrets' contents are part of what is compiled: a replaced certificate is a new result.
    const loaded = this.load(files, hash);
    const key = `${hash}|${loaded.secretsDigest}|${JSON.stringify(byRoute.map((o) => [o.route, o.backends, o.baseHash]))}`;
    const hit = this.prepared.get(key);
    if (hit) return hit;
    const result = this.compute(files, loaded, overrides);
    this.prepared.set(key, result);
    if (this.prepared.size > 2) this.prepared.delete(this.prepared.keys().next().value!);
    return result;
  }

  private compute(files: SourceFile[], loaded: Loaded, overrides: readonly OverrideLike[]): Prepared {
    const { config: base, diagnostics } = loaded;
    if (!base || hasErrors(diagnostics)) return { ok: false, diagnostics };
    let laid: { config: Config; stale: StaleOverride[] };
    try {
      laid = applyOverrides(base, overrides);
    } catch (err) {
      return { ok: false, diagnostics: [internalDiagnostic(files, err)] };
    }
    const loadReporting = reportingClusters(laid.config, overrides, laid.stale, this.compileOptions.loadReporting);
    const admitted = this.admission.admit(laid.config, firstFilePos(files), { ...this.compileOptions, loadReporting });
    const all = [...diagnostics, ...admitted.diagnostics];
    if (!admitted.snapshot) return { ok: false, diagnostics: all };
    return { ok: true, base, effective: laid.config, stale: laid.stale, snapshot: admitted.snapshot, wire: admitted.wire, diagnostics: all, secretFiles: [...loaded.secrets.keys()], secretsDigest: loaded.secretsDigest };
  }

  /**
   * The YAML loaded, remembered by content; secret files are read as the loader asks for them, and a
   * remembered load holds only while every file it read still reads the same.
   */
  private load(files: SourceFile[], hash: string): Loaded {
    const hit = this.loaded.get(hash);
    if (hit && secretsUnchanged(hit.secrets, this.loadOptions.readFile!)) return hit;
    const secrets = new Map<string, string>();
    const readFile = this.loadOptions.readFile!;
    const recording = (file: string): string => {
      try {
        const text = readFile(file);
        secrets.set(file, text);
        return text;
      } catch (err) {
        secrets.set(file, `\0unreadable ${(err as Error).message}`);
        throw err;
      }
    };
    let result: { config?: Config; diagnostics: Diagnostic[] };
    try {
      result = inSpan('banyan.config.load', { 'banyan.config.files': files.length }, () => loadConfigFromFiles(files, { ...this.loadOptions, readFile: recording }, this.loadCache));
    } catch (err) {
      result = { diagnostics: [internalDiagnostic(files, err)] };
    }
    const loaded: Loaded = { ...result, secrets, secretsDigest: digestOf(secrets) };
    this.loaded.set(hash, loaded);
    if (this.loaded.size > 2) this.loaded.delete(this.loaded.keys().next().value!);
    return loaded;
  }

  /**
   * Re-applies what is served when a secret file it was compiled from now reads differently (a
   * rotated certificate): the YAML is unchanged, so this is not a new config version, only new
   * Secret resources. Returns whether anything was re-applied.
   */
  refreshSecrets(): ApplyResult | undefined {
    const current = this.current;
    if (!current || current.secretFiles.length === 0) return undefined;
    // Compared with what the served snapshot was compiled from: a check() may have re-read the files since.
    if (this.load(current.files, current.hash).secretsDigest === this.servedSecretsDigest) return undefined;
    this.log.info({ files: current.secretFiles }, 'secret files changed; re-applying the served config');
    return this.apply(current.files, current.overrides);
  }

  private publish(files: SourceFile[], hash: string, prepared: PreparedOk, overrides: readonly OverrideLike[], at: string): ApplyResult {
    const { base, effective, snapshot, stale } = prepared;
    const allWarnings = prepared.diagnostics.filter((d) => d.severity !== 'error');
    for (const st of stale) this.log.warn({ route: st.override.route, reason: st.reason }, st.message);
    for (const w of allWarnings) this.log.warn({ diagnostic: w }, formatDiagnostic(w));
    // By route, not identity: a remembered result may have been computed from an equal list of other objects.
    const appliedOverrides = overrides.filter((o) => !stale.some((st) => st.override.route === o.route));
    this.current = { files, hash, base, effective, snapshot, warnings: allWarnings, overrides: appliedOverrides, stale, appliedAt: at, secretFiles: prepared.secretFiles };
    this.servedSecretsDigest = prepared.secretsDigest;
    this.lastRejected = undefined;
    this.lastHeld = undefined;
    currentChange().setAttributes({ 'banyan.change.result': 'applied', 'banyan.config.hash': hash.slice(0, 12) });
    this.sinks.snapshot(snapshot, prepared.wire);
    this.sinks.config?.(effective);
    this.reloads.inc();
    this.log.info({ hash: hash.slice(0, 12), files: files.map((f) => f.file) }, 'config applied');
    return { ok: true, applied: this.current };
  }

  /** Records a valid change the control plane held for confirmation (status shows it; nothing is served). */
  holdFiles(files: SourceFile[], findings: Diagnostic[]): void {
    this.lastHeld = { hash: hashConfigContent(files), diagnostics: findings, at: new Date().toISOString() };
    currentChange().setAttributes({ 'banyan.change.result': 'held', 'banyan.config.hash': this.lastHeld.hash.slice(0, 12) });
    for (const d of findings) this.log.warn({ diagnostic: d }, formatDiagnostic(d));
    this.log.warn({ files: files.map((f) => f.file) }, 'change held for confirmation (banyan apply --confirm-removal); last good config keeps serving');
  }

  /** Records files rejected elsewhere (e.g. by the control plane) so that status shows why. */
  rejectFiles(files: SourceFile[], diagnostics: Diagnostic[]): void {
    this.reject(hashConfigContent(files), diagnostics, new Date().toISOString());
  }

  private reject(hash: string, diagnostics: Diagnostic[], at: string): ApplyResult {
    this.loadErrors.inc();
    this.lastRejected = { hash, diagnostics, at };
    currentChange().setAttributes({ 'banyan.change.result': 'rejected', 'banyan.config.hash': hash.slice(0, 12), 'banyan.config.errors': diagnostics.filter((d) => d.severity === 'error').length });
    for (const d of diagnostics) this.log.error({ diagnostic: d }, formatDiagnostic(d));
    this.log.error({ errors: diagnostics.filter((d) => d.severity === 'error').length }, 'config rejected; last good config keeps serving');
    return { ok: false, rejected: this.lastRejected };
  }
}

/** One route whose served weights a change moved: `from`/`to` by cluster; null when the route is new or gone. */
export interface WeightChange {
  route: string;
  from: Record<string, number> | null;
  to: Record<string, number> | null;
}

/** The forward routes' weights `after` serves differently from `before` (both effective configs: YAML plus overrides). Pure. */
export function weightChanges(before: Config, after: Config): WeightChange[] {
  const weights = (config: Config) => {
    const out = new Map<string, Record<string, number>>();
    for (const l of listRoutes(config)) {
      if (l.route.action.kind !== 'forward') continue;
      const w: Record<string, number> = {};
      for (const b of forwardBackends(l)) w[b.cluster] = (w[b.cluster] ?? 0) + b.weight;
      out.set(l.ref, w);
    }
    return out;
  };
  const was = weights(before);
  const now = weights(after);
  const changes: WeightChange[] = [];
  for (const [route, to] of now) {
    const from = was.get(route) ?? null;
    const same = (x: Record<string, number>, y: Record<string, number>) => Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([c, w]) => y[c] === w);
    if (!from || !same(from, to)) changes.push({ route, from, to });
  }
  for (const [route, from] of was) if (!now.has(route)) changes.push({ route, from, to: null });
  return changes;
}

function internalDiagnostic(files: SourceFile[], err: unknown): Diagnostic {
  return {
    severity: 'error',
    file: files[0]?.file ?? '<config>',
    line: 1,
    col: 1,
    message: `internal error while compiling: ${err instanceof Error ? err.message : String(err)}`,
  };
}

/**
 * Which clusters report their load (lrs_server self): every backend of a route whose weights are
 * moved at run time (an override: a shift or a rollout), and the backends and target of every
 * `rollouts:` spec, so analysis has numbers from the first step on. Derived from the config and
 * overrides alone, so every replica compiles the same resources.
 */
function reportingClusters(config: Config, overrides: readonly OverrideLike[], stale: readonly StaleOverride[], always?: ReadonlySet<string>): ReadonlySet<string> {
  const out = new Set(always ?? []);
  const staleRoutes = new Set(stale.map((s) => s.override.route));
  for (const o of overrides) if (!staleRoutes.has(o.route)) for (const b of o.backends) out.add(b.cluster);
  for (const spec of config.rollouts) {
    out.add(spec.to);
    try {
      for (const b of forwardBackends(resolveRoute(config, spec.route))) out.add(b.cluster);
    } catch {
      // an unknown route is the config's error, reported by the loader
    }
  }
  const known = new Set(config.clusters.map((c) => c.name));
  return new Set([...out].filter((c) => known.has(c)));
}
