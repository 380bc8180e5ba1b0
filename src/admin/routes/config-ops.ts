/** Candidate configs: validate (dry run), diff against what is live, and apply as a new version. */
import { z } from 'zod';
import { compile } from '../../compile/index.js';
import { formatDiagnostic, hasErrors } from '../../config/diagnostics.js';
import type { Config } from '../../config/model.js';
import { applyOverrides } from '../../config/overrides.js';
import { diffConfigs } from '../../diff/config.js';
import { diffSnapshots } from '../../diff/xds.js';
import type { ConfigFile } from '../../store/types.js';
import { HttpError, type Router } from '../router.js';
import { author, files, parseBody } from './body.js';
import { guard, rejected } from './errors.js';
import type { OpsDeps } from './ops.js';

const level = z.enum(['config', 'xds']).default('config');

export function mountConfigOpsRoutes(router: Router, deps: OpsDeps): void {
  router.post(
    '/api/v1/config/validate',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files }));
      const { diagnostics } = deps.pipeline.check(body.files);
      return { valid: !hasErrors(diagnostics), diagnostics, messages: diagnostics.map(formatDiagnostic) };
    }),
    { readOnly: true },
  );

  router.post(
    '/api/v1/config/diff',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files, level }));
      const candidate = checked(deps, body.files);
      const live = liveConfig(deps);
      // What would be served: the candidate with today's overrides, and which of those it would clear.
      const laid = applyOverrides(candidate, live.overrides);
      const stale = laid.stale.map((s) => s.message);
      if (body.level === 'xds') {
        return { level: 'xds', diff: diffSnapshots(live.snapshot, compile(laid.config)), staleOverrides: stale };
      }
      return { level: 'config', diff: diffConfigs(live.effective, laid.config), staleOverrides: stale };
    }),
    { readOnly: true },
  );

  router.post(
    '/api/v1/config/apply',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files, author, message: z.string().default(''), confirmRemoval: z.boolean().default(false) }));
      const before = deps.pipeline.current;
      const result = await deps.control.apply(body.files, { author: body.author, message: body.message, confirmRemoval: body.confirmRemoval });
      const after = deps.pipeline.current?.base;
      // Overrides on routes whose YAML backends this version changed: the YAML wins, loudly. (Computed
      // here because the control plane clears them asynchronously, through the store's watch.)
      const cleared = result.unchanged || !after ? [] : applyOverrides(after, before?.overrides ?? []).stale.map((s) => s.message);
      return {
        version: summaryOf(result.version),
        unchanged: result.unchanged,
        warnings: [...result.warnings.map(formatDiagnostic), ...cleared],
        summary: result.unchanged || !after ? 'no changes' : diffConfigs(before?.base, after).summary,
      };
    }),
  );
}

/** A version without its (possibly large) content. */
export function summaryOf<V extends { content: unknown }>(v: V): Omit<V, 'content'> {
  const { content: _content, ...rest } = v;
  return rest;
}

function checked(deps: OpsDeps, candidate: ConfigFile[]): Config {
  const { config, diagnostics } = deps.pipeline.check(candidate);
  if (!config || hasErrors(diagnostics)) throw rejected('candidate config is invalid', diagnostics);
  return config;
}

function liveConfig(deps: OpsDeps) {
  const cur = deps.pipeline.current;
  if (!cur) throw new HttpError(503, 'no valid config applied yet');
  return cur;
}
