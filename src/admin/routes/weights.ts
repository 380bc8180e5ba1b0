/** Route weights: what is served per route, and runtime overrides on top of the YAML. */
import { z } from 'zod';
import { percentages } from '../../diff/config.js';
import { resolveRoute, type BackendWeight } from '../../config/overrides.js';
import { HttpError, type Router } from '../router.js';
import { author, parseBody, validate } from './body.js';
import { guard } from './errors.js';
import type { OpsDeps } from './ops.js';

const weightsBody = z.object({
  backends: z
    .array(z.object({ cluster: z.string().min(1), weight: z.number() }))
    .min(1, 'give at least one backend'),
  relative: z.boolean().optional(),
  author,
  reason: z.string().default(''),
});

const clearBody = z.object({ author: author.default('unknown'), reason: z.string().default('') });

export function mountWeightRoutes(router: Router, deps: OpsDeps): void {
  router.get(
    '/api/v1/routes',
    guard(async () => {
      const [routes, active] = await Promise.all([deps.control.routes(), deps.store.activeRollouts()]);
      return {
        routes: routes.map((r) => {
          const rollout = active.find((a) => a.route === r.ref);
          return {
            ...r,
            percent: Object.fromEntries(percentages(r.backends)),
            rollout: rollout ? { id: rollout.id, state: rollout.state, toBackend: rollout.toBackend, percent: rollout.percent } : null,
          };
        }),
      };
    }),
  );

  router.put(
    '/api/v1/routes/:route/weights',
    guard(async (ctx) => {
      const body = await parseBody(ctx, weightsBody);
      const ref = canonicalRef(deps, ctx.params.route);
      if (!body.relative) checkPercentages(body.backends);
      await refuseDuringRollout(deps, ref);
      const override = await deps.control.setWeights(ref, body.backends, { author: body.author, reason: body.reason });
      return { override, percent: Object.fromEntries(percentages(override.backends)) };
    }),
  );

  router.delete(
    '/api/v1/routes/:route/weights',
    guard(async (ctx) => {
      // The body is optional here: some HTTP clients cannot send one with DELETE.
      const body = validate((await ctx.body()) ?? {}, clearBody);
      const ref = canonicalRef(deps, ctx.params.route);
      await refuseDuringRollout(deps, ref);
      const cleared = await deps.control.clearWeights(ref, { author: body.author, reason: body.reason });
      return { route: ref, cleared };
    }),
  );
}

/** The route's canonical reference, or 404 (with a did-you-mean) when the live config has no such route. */
function canonicalRef(deps: OpsDeps, ref: string): string {
  const cur = deps.pipeline.current;
  if (!cur) throw new HttpError(503, 'no valid config applied yet');
  return resolveRoute(cur.base, ref).ref;
}

function checkPercentages(backends: BackendWeight[]): void {
  const sum = backends.reduce((s, b) => s + b.weight, 0);
  if (sum !== 100) {
    throw new HttpError(400, `percentages sum to ${sum}, not 100; fix them or pass relative: true (CLI: --relative) to use them as proportions`);
  }
}

async function refuseDuringRollout(deps: OpsDeps, ref: string): Promise<void> {
  const active = await deps.store.activeRollout(ref);
  if (active) {
    throw new HttpError(409, `route ${ref} has an active rollout (${active.id}, ${active.state}); abort or finish it before shifting by hand`);
  }
}
