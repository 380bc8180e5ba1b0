/** Stepped rollouts: start, list, a live view of one, and the operator's commands on it. */
import { z } from 'zod';
import { analysisBody, analysisWithDefaults, ROLLOUT_DEFAULTS, webhooksBody, webhookWithDefaults } from '../../config/rollout-spec.js';
import { percentages } from '../../diff/config.js';
import { parseInterval, stepsFrom, validateSteps } from '../../rollout/steps.js';
import type { Rollout } from '../../store/types.js';
import { ROLLOUT_COMMANDS, type RolloutCommand, type RolloutOperations, type RolloutStatus } from '../operations.js';
import { HttpError, type Router } from '../router.js';
import { actorFor } from '../auth.js';
import { author, intParam, parseBody, validate } from './body.js';
import { guard } from './errors.js';

/**
 * `analysis` and `webhooks` are the model's types (config/model.ts) with their defaults left out;
 * config/rollout-spec.ts validates and defaults them exactly as it does a `rollouts:` entry in the YAML.
 */
const startBody = z
  .object({
    route: z.string().min(1),
    to: z.string().min(1),
    steps: z.array(z.number()).optional(),
    step: z.number().optional(),
    max: z.number().optional(),
    /** A duration (`10m`, `300ms`) or milliseconds. */
    interval: z.union([z.string(), z.number().positive()]),
    allowDecrease: z.boolean().optional(),
    ackTimeoutMs: z.number().positive().optional(),
    analysis: analysisBody.optional(),
    webhooks: webhooksBody.optional(),
    author,
  })
  .refine((b) => (b.steps === undefined) !== (b.step === undefined), { message: 'give either steps or step (with optional max)' });

const commandBody = z.object({ author, full: z.boolean().optional() });

/** The commands that are done already when the rollout is in this state: repeating them changes nothing. */
const ALREADY: Partial<Record<RolloutCommand, (r: Rollout) => boolean>> = {
  // An automatic hold (NACK, sync timeout, gate) lifts by itself: `pause` turns it into an operator's hold, so it is not "already paused".
  pause: (r) => r.state === 'paused' && r.hold?.auto !== true,
  resume: (r) => r.state === 'running',
};

export function mountRolloutRoutes(router: Router, ops: RolloutOperations): void {
  router.post(
    '/api/v1/rollouts',
    guard(async (ctx) => {
      const body = await parseBody(ctx, startBody);
      const steps = body.steps ? validateSteps(body.steps) : stepsFrom(body.step!, body.max);
      const intervalMs = typeof body.interval === 'number' ? body.interval : parseInterval(body.interval);
      return view(
        await ops.startRollout({
          route: body.route,
          to: body.to,
          steps,
          intervalMs,
          author: actorFor(ctx.principal, body.author),
          allowDecrease: body.allowDecrease ?? ROLLOUT_DEFAULTS.allowDecrease,
          ackTimeoutMs: body.ackTimeoutMs ?? ROLLOUT_DEFAULTS.ackTimeoutMs,
          ...(body.analysis ? { analysis: analysisWithDefaults(body.analysis, intervalMs) } : {}),
          webhooks: (body.webhooks ?? []).map(webhookWithDefaults),
        }),
      );
    }),
    { role: 'operate' },
  );

  router.get(
    '/api/v1/rollouts',
    guard(async ({ url }) => {
      const route = url.searchParams.get('route') ?? undefined;
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : 50;
      return { rollouts: (await ops.rollouts({ route, limit })).map((r) => view(r)) };
    }),
  );

  router.get(
    '/api/v1/rollouts/:ref',
    guard(async ({ params }) => view(await ops.rollout(params.ref))),
  );

  router.post(
    '/api/v1/rollouts/:ref/:command',
    guard(async (ctx) => {
      const command = ctx.params.command as RolloutCommand;
      if (!ROLLOUT_COMMANDS.includes(command)) throw new HttpError(404, `no rollout command '${command}'; use one of ${ROLLOUT_COMMANDS.join(', ')}`);
      const body = validate((await ctx.body()) ?? {}, commandBody);
      // pause and resume are idempotent: a rollout already in the asked-for state is answered as it is, unchanged (no audit entry).
      const already = ALREADY[command];
      if (already) {
        // A ref that finds nothing gets the command's own answer (`no active rollout ...`).
        const current = await ops.rollout(ctx.params.ref).catch(() => undefined);
        if (current && already(current.rollout)) return { ...view(current), unchanged: true };
      }
      return view(await ops.command(ctx.params.ref, command, actorFor(ctx.principal, body.author), { full: body.full }));
    }),
    { role: 'operate' },
  );
}

/**
 * A rollout as operators watch it: what it wants (`weights`, `percentages`: its current step, or its
 * starting weights once it has ended) next to what this replica serves on the route now (`served`,
 * `servedPercentages`; they differ while a step is being applied, or once a YAML edit replaced the
 * rollout's weights), time to the next step, and which proxies run them.
 */
function view(status: RolloutStatus, now = Date.now()) {
  const { rollout: r, weights, served, proxies, ...rest } = status;
  return {
    ...r,
    ...rest,
    weights,
    percentages: Object.fromEntries(percentages(weights)),
    served,
    servedPercentages: Object.fromEntries(percentages(served)),
    nextStepInMs: r.state === 'running' && r.nextStepAt !== null ? Math.max(0, r.nextStepAt - now) : r.state === 'paused' ? r.pausedRemainingMs : null,
    proxies,
  };
}
