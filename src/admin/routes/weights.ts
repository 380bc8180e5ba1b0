/** Route weights: what is served per route, and runtime overrides on top of the YAML. */
import { z } from 'zod';
import { percentages } from '../../diff/config.js';
import type { WeightOperations } from '../operations.js';
import type { Router } from '../router.js';
import { actorFor } from '../auth.js';
import { author, parseBody, validate } from './body.js';
import { guard } from './errors.js';

const weightsBody = z.object({
  backends: z
    .array(z.object({ cluster: z.string().min(1), weight: z.number() }))
    .min(1, 'give at least one backend'),
  relative: z.boolean().optional(),
  author,
  reason: z.string().default(''),
});

const clearBody = z.object({ author: author.default('unknown'), reason: z.string().default('') });

export function mountWeightRoutes(router: Router, ops: WeightOperations): void {
  router.get(
    '/api/v1/routes',
    guard(async () => ({
      routes: (await ops.routes()).map(({ rollout, ...route }) => ({ ...route, percent: Object.fromEntries(percentages(route.backends)), rollout })),
    })),
  );

  router.put(
    '/api/v1/routes/:route/weights',
    guard(async (ctx) => {
      const body = await parseBody(ctx, weightsBody);
      // Route, weights (percentages unless relative) and the rollout guard are all the control plane's.
      const override = await ops.setWeights(ctx.params.route, body.backends, { author: actorFor(ctx.principal, body.author), reason: body.reason, relative: body.relative });
      return { override, percent: Object.fromEntries(percentages(override.backends)) };
    }),
    { role: 'operate' },
  );

  router.delete(
    '/api/v1/routes/:route/weights',
    guard(async (ctx) => {
      // The body is optional here: some HTTP clients cannot send one with DELETE.
      const body = validate((await ctx.body()) ?? {}, clearBody);
      return ops.clearWeights(ctx.params.route, { author: actorFor(ctx.principal, body.author), reason: body.reason });
    }),
    { role: 'operate' },
  );
}
