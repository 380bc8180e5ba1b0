import type { DiffLevel, HistoryEntry, VersionDiff, VersionInfo } from '../admin/operations.js';
import { compile } from '../compile/index.js';
import { formatDiagnostic, hasErrors } from '../config/diagnostics.js';
import type { Config } from '../config/model.js';
import { diffConfigs, type ConfigDiff } from '../diff/config.js';
import { diffSnapshots } from '../diff/xds.js';
import { BanyanError } from '../errors.js';
import type { ConfigVersion, Store } from '../store/types.js';
import type { ConfigPipeline } from './pipeline.js';

/** A stored version, or `not-found` naming the versions there are. */
export async function requireVersion(store: Store, n: number): Promise<ConfigVersion> {
  const v = await store.getConfigVersion(n);
  if (v) return v;
  const latest = await store.latestConfigVersion();
  throw new BanyanError('not-found', `no config version ${n}${latest ? ` (versions are 1..${latest.version})` : ' (no versions stored yet)'}`);
}

export function withoutContent(v: ConfigVersion): VersionInfo {
  const { content: _content, ...rest } = v;
  return rest;
}

/**
 * Stored config versions read back as configs, to list and diff them. A version is loaded by
 * today's rules, so one an older Banyan stored may no longer load: it is listed with why, and
 * refused (`conflict`) where a diff needs it.
 */
export class ConfigHistory {
  private readonly configs: ConfigCache;

  constructor(
    private readonly store: Store,
    private readonly pipeline: ConfigPipeline,
  ) {
    this.configs = new ConfigCache(pipeline);
  }

  async list(limit: number): Promise<HistoryEntry[]> {
    // One extra, so the oldest listed version still has a predecessor to diff against.
    const versions = await this.store.listConfigVersions({ limit: limit + 1 });
    const live = this.pipeline.current?.hash;
    return versions.slice(0, limit).map((v, i) => ({
      ...withoutContent(v),
      files: v.content.map((f) => f.file),
      live: i === 0 && v.hash === live,
      summary: this.summarize(versions[i + 1], v),
    }));
  }

  async version(n: number): Promise<ConfigVersion & { diff: ConfigDiff | null }> {
    const v = await requireVersion(this.store, n);
    const prev = v.version > 1 ? await this.store.getConfigVersion(v.version - 1) : undefined;
    const after = this.configs.get(v);
    return { ...v, diff: after ? diffConfigs(prev && this.configs.get(prev), after) : null };
  }

  async diff(fromN: number, toN: number, level: DiffLevel): Promise<VersionDiff> {
    const from = await requireVersion(this.store, fromN);
    const to = await requireVersion(this.store, toN);
    const [a, b] = [this.loaded(from), this.loaded(to)];
    const base = { from: from.version, to: to.version };
    if (level === 'xds') return { ...base, level: 'xds', diff: diffSnapshots(compile(a), compile(b)) };
    return { ...base, level: 'config', diff: diffConfigs(a, b) };
  }

  private loaded(v: ConfigVersion): Config {
    const c = this.configs.get(v);
    if (!c) throw new BanyanError('conflict', `config version ${v.version} no longer loads with this Banyan: ${this.configs.errors(v).join('; ')}`);
    return c;
  }

  private summarize(prev: ConfigVersion | undefined, v: ConfigVersion): string {
    const after = this.configs.get(v);
    if (!after) return `does not load: ${this.configs.errors(v)[0] ?? 'unknown error'}`;
    return diffConfigs(prev && this.configs.get(prev), after).summary;
  }
}

/** Parsed versions by content hash: versions never change, so history pages re-parse nothing. */
class ConfigCache {
  private readonly parsed = new Map<string, { config?: Config; errors: string[] }>();
  private static readonly MAX = 200;

  constructor(private readonly pipeline: ConfigPipeline) {}

  get(v: ConfigVersion): Config | undefined {
    return this.entry(v).config;
  }

  errors(v: ConfigVersion): string[] {
    return this.entry(v).errors;
  }

  private entry(v: ConfigVersion): { config?: Config; errors: string[] } {
    let e = this.parsed.get(v.hash);
    if (!e) {
      const { config, diagnostics } = this.pipeline.check(v.content);
      const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      e = { config: hasErrors(diagnostics) ? undefined : config, errors };
      if (this.parsed.size >= ConfigCache.MAX) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(v.hash, e);
    }
    return e;
  }
}
