/** Stepped rollouts: start, list, a live view of one, and the operator's commands on it. */
import { z } from 'zod';
import type { Config } from '../../config/model.js';
import { listRoutes, forwardBackends, type BackendWeight } from '../../config/routes.js';
import { percentages } from '../../diff/config.js';
import { rolloutWeights } from '../../rollout/machine.js';
import { parseInterval, stepsFrom, validateSteps } from '../../rollout/steps.js';
import type { Rollout } from '../../store/types.js';
import { TypeUrl } from '../../proto/envoy.js';
import { HttpError, type Router } from '../router.js';
import { author, intParam, parseBody, validate } from './body.js';
import { guard } from './errors.js';
import type { OpsDeps } from './ops.js';

const startBody = z
  .object({
    route: z.string().min(1),
    to: z.string().min(1),
    steps: z.array(z.number()).optional(),
    step: z.number().optional(),
    max: z.number().optional(),
    /** A duration (`10m`, `300ms`) or milliseconds. */
    interval: z.union([z.string(), z.number().positive()]),
    author,
  })
  .refine((b) => (b.steps === undefined) !== (b.step === undefined), { message: 'give either steps or step (with optional max)' });

const commandBody = z.object({ author, full: z.boolean().optional() });

const COMMANDS = ['pause', 'resume', 'promote', 'abort', 'undo'] as const;

export function mountRolloutRoutes(router: Router, deps: OpsDeps): void {
  router.post(
    '/api/v1/rollouts',
    guard(async (ctx) => {
      const body = await parseBody(ctx, startBody);
      const steps = body.steps ? validateSteps(body.steps) : stepsFrom(body.step!, body.max);
      const intervalMs = typeof body.interval === 'number' ? body.interval : parseInterval(body.interval);
      const rollout = await deps.runner.startRollout({ config: base(deps), route: body.route, to: body.to, steps, intervalMs, actor: body.author });
      return view(deps, rollout);
    }),
  );

  router.get(
    '/api/v1/rollouts',
    guard(async ({ url }) => {
      const route = url.searchParams.get('route') ?? undefined;
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : 50;
      return { rollouts: (await deps.store.listRollouts({ route, limit })).map((r) => view(deps, r)) };
    }),
  );

  // A rollout id, or a route: its active rollout, else its latest.
  router.get(
    '/api/v1/rollouts/:ref',
    guard(async ({ params }) => {
      const active = await deps.store.activeRollout(params.ref);
      return view(deps, active ?? (await deps.runner.find(params.ref, 'latest')));
    }),
  );

  router.post(
    '/api/v1/rollouts/:ref/:command',
    guard(async (ctx) => {
      const command = ctx.params.command as (typeof COMMANDS)[number];
      if (!COMMANDS.includes(command)) throw new HttpError(404, `no rollout command '${command}'; use one of ${COMMANDS.join(', ')}`);
      const body = validate((await ctx.body()) ?? {}, commandBody);
      const ref = ctx.params.ref;
      const r =
        command === 'promote'
          ? await deps.runner.promote(ref, body.author, { full: body.full })
          : await deps.runner[command](ref, body.author);
      return view(deps, r);
    }),
  );
}

function base(deps: OpsDeps): Config {
  const cur = deps.pipeline.current;
  if (!cur) throw new HttpError(503, 'no valid config applied yet');
  return cur.base;
}

/** A rollout as operators watch it: weights now, time to the next step, and which proxies run them. */
function view(deps: OpsDeps, r: Rollout, now = Date.now()) {
  const weights = rolloutWeights(r);
  const active = r.state === 'running' || r.state === 'paused';
  return {
    ...r,
    weights,
    percentages: Object.fromEntries(percentages(weights)),
    nextStepInMs: r.state === 'running' && r.nextStepAt !== null ? Math.max(0, r.nextStepAt - now) : r.state === 'paused' ? r.pausedRemainingMs : null,
    proxies: active ? proxyProgress(deps, r.route, weights) : null,
  };
}

/**
 * Which proxies have ACKed the RDS version that carries the rollout's current weights. Until this
 * replica serves those weights (the store change is still being applied) every proxy is pending.
 * Only proxies that receive the route count: their group serves the route's RouteConfiguration
 * (named after its listener) and they subscribe to it.
 */
function proxyProgress(deps: OpsDeps, route: string, weights: BackendWeight[]) {
  const current = deps.pipeline.current;
  const served = current ? listRoutes(current.effective).find((l) => l.ref === route) : undefined;
  const servedWeights = served?.route.action.kind === 'forward' ? forwardBackends(served) : [];
  const live = JSON.stringify(servedWeights) === JSON.stringify(weights);
  const routeConfig = served?.listener.name;
  const accepted: string[] = [];
  const pending: { nodeId: string; state: string; error?: string }[] = [];
  for (const p of deps.proxies()) {
    const rds = p.types.find((t) => t.typeUrl === TypeUrl.RouteConfiguration);
    if (!rds || routeConfig === undefined) continue;
    const groupServes = p.group !== undefined && current!.snapshot.groups.get(p.group)?.get(TypeUrl.RouteConfiguration)?.has(routeConfig);
    if (!groupServes || !(rds.subscribed.includes(routeConfig) || rds.subscribed.includes('*'))) continue;
    if (live && rds.state === 'SYNCED') accepted.push(p.nodeId);
    else pending.push({ nodeId: p.nodeId, state: live ? rds.state : 'STALE', ...(rds.lastNack ? { error: rds.lastNack.message } : {}) });
  }
  return { weightsServed: live, accepted, pending };
}
