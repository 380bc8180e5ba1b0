/** Applied config versions: history with short diffs, one version, diff between two, rollback, audit. */
import { z } from 'zod';
import { compile } from '../../compile/index.js';
import { formatDiagnostic, hasErrors } from '../../config/diagnostics.js';
import type { Config } from '../../config/model.js';
import { diffConfigs } from '../../diff/config.js';
import { diffSnapshots } from '../../diff/xds.js';
import type { ConfigVersion } from '../../store/types.js';
import { HttpError, type RequestContext, type Router } from '../router.js';
import { author, intParam, parseBody } from './body.js';
import { summaryOf } from './config-ops.js';
import { guard } from './errors.js';
import type { OpsDeps } from './ops.js';

const DEFAULT_LIMIT = 20;

export function mountHistoryRoutes(router: Router, deps: OpsDeps): void {
  const configs = new ConfigCache(deps);

  router.get(
    '/api/v1/history',
    guard(async ({ url }) => {
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : DEFAULT_LIMIT;
      // One extra, so the oldest listed version still has a predecessor to diff against.
      const versions = await deps.store.listConfigVersions({ limit: limit + 1 });
      const live = deps.pipeline.current?.hash;
      return {
        versions: versions.slice(0, limit).map((v, i) => ({
          ...summaryOf(v),
          files: v.content.map((f) => f.file),
          live: i === 0 && v.hash === live,
          summary: summarize(configs, versions[i + 1], v),
        })),
      };
    }),
  );

  router.get(
    '/api/v1/history/:version',
    guard(async (ctx) => {
      const v = await versionOr404(deps, intParam(ctx.params.version, 'version'));
      const prev = v.version > 1 ? await deps.store.getConfigVersion(v.version - 1) : undefined;
      const after = configs.get(v);
      return { ...v, diff: after ? diffConfigs(prev && configs.get(prev), after) : null };
    }),
  );

  router.get(
    '/api/v1/diff',
    guard(async ({ url }) => {
      const from = await versionOr404(deps, intParam(url.searchParams.get('from'), 'from'));
      const to = await versionOr404(deps, intParam(url.searchParams.get('to'), 'to'));
      const [a, b] = [configOr409(configs, from), configOr409(configs, to)];
      const base = { from: from.version, to: to.version };
      if (url.searchParams.get('level') === 'xds') return { ...base, level: 'xds', diff: diffSnapshots(compile(a), compile(b)) };
      return { ...base, level: 'config', diff: diffConfigs(a, b) };
    }),
  );

  router.post(
    '/api/v1/rollback',
    guard(async (ctx: RequestContext) => {
      const body = await parseBody(ctx, z.object({ version: z.number().int().positive(), author, message: z.string().default('') }));
      await versionOr404(deps, body.version);
      const version = await deps.control.rollback(body.version, { author: body.author, message: body.message });
      return { version: summaryOf(version), rolledBackTo: body.version };
    }),
  );

  router.get(
    '/api/v1/audit',
    guard(async ({ url }) => {
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : 50;
      const sinceText = url.searchParams.get('since');
      const since = sinceText ? Date.parse(sinceText) || Number(sinceText) : undefined;
      if (sinceText && !Number.isFinite(since)) throw new HttpError(400, `since must be an ISO time or epoch milliseconds, got '${sinceText}'`);
      return { entries: await deps.store.listAudit({ limit, since }) };
    }),
  );
}

async function versionOr404(deps: OpsDeps, n: number): Promise<ConfigVersion> {
  const v = await deps.store.getConfigVersion(n);
  if (!v) {
    const latest = await deps.store.latestConfigVersion();
    throw new HttpError(404, `no config version ${n}${latest ? ` (versions are 1..${latest.version})` : ' (no versions stored yet)'}`);
  }
  return v;
}

function configOr409(configs: ConfigCache, v: ConfigVersion): Config {
  const c = configs.get(v);
  if (!c) throw new HttpError(409, `config version ${v.version} no longer loads with this Banyan: ${configs.errors(v).join('; ')}`);
  return c;
}

function summarize(configs: ConfigCache, prev: ConfigVersion | undefined, v: ConfigVersion): string {
  const after = configs.get(v);
  if (!after) return `does not load: ${configs.errors(v)[0] ?? 'unknown error'}`;
  return diffConfigs(prev && configs.get(prev), after).summary;
}

/** Parsed versions by content hash: versions never change, so history pages re-parse nothing. */
class ConfigCache {
  private readonly parsed = new Map<string, { config?: Config; errors: string[] }>();
  private static readonly MAX = 200;

  constructor(private readonly deps: OpsDeps) {}

  get(v: ConfigVersion): Config | undefined {
    return this.entry(v).config;
  }

  errors(v: ConfigVersion): string[] {
    return this.entry(v).errors;
  }

  private entry(v: ConfigVersion): { config?: Config; errors: string[] } {
    let e = this.parsed.get(v.hash);
    if (!e) {
      const { config, diagnostics } = this.deps.pipeline.check(v.content);
      const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      e = { config: hasErrors(diagnostics) ? undefined : config, errors };
      if (this.parsed.size >= ConfigCache.MAX) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(v.hash, e);
    }
    return e;
  }
}
