import { z } from 'zod';
import { AT_KEY, duration, exactlyOne, name, onlyWith, refineWith } from './schema-common.js';
import {
  analysisProblems,
  checkProblems,
  defaultCheckName,
  duplicateNames,
  METRIC_SOURCES,
  ON_FAILURE,
  positiveDurationProblem,
  WEBHOOK_EVENTS,
  webhookProblems,
  type AnalysisCheckInput,
  type AnalysisField,
  type CheckField,
  type SpecProblem,
  type WebhookField,
} from './rollout-spec.js';
import { stepRangeProblem, stepsProblem } from './steps.js';
import type { PathSegment } from './yaml.js';

/**
 * Operator YAML for `rollouts:`. The shapes are YAML's (`successRate: { min: 99 }`, durations as
 * text); the rules are rollout-spec.ts's, shared with the admin API, and reported here at the YAML
 * key each one is about. Output feeds build-rollout.ts.
 */

/** The YAML key of each metric, in the order the schema lists them. */
export const METRIC_KEYS = { successRate: 'success-rate', latency: 'latency', requests: 'requests', promql: 'promql' } as const;
type MetricKey = keyof typeof METRIC_KEYS;
const METRIC_KEY_LIST = Object.keys(METRIC_KEYS) as MetricKey[];

/** Reports SpecProblems as issues at the YAML path `where(field)` maps each field to. */
function reportAt<F extends string>(ctx: z.RefinementCtx<any>, problems: SpecProblem<F>[], where: (field: F) => PathSegment[], value: unknown): void {
  for (const p of problems) {
    const path = where(p.field);
    ctx.addIssue({ code: 'custom', path, message: p.message, input: value, ...(p.atKey ? { params: AT_KEY } : {}) });
  }
}

const vsBaseline = z.boolean().optional().meta({ description: 'Compare with the route\'s other backends: "max" is how much worse the canary may be' });

const successRate = z
  .strictObject({
    min: z.number().optional().meta({ description: 'Percent of requests that succeed, e.g. 99' }),
    max: z.number().optional().meta({ description: 'With vsBaseline: how many points below the baseline the canary may be' }),
    vsBaseline,
  })
  .meta({ description: 'Share of requests that succeed, in percent' });

const latency = z
  .strictObject({
    percentile: z.number().optional().meta({ description: 'Default 99' }),
    min: duration.optional(),
    max: duration.optional().meta({ description: 'e.g. 500ms; with vsBaseline: how much slower than the baseline' }),
    vsBaseline,
  })
  .meta({ description: 'Upstream request time at a percentile' });

const requests = z
  .strictObject({ min: z.number().optional().meta({ description: 'Fewer requests than this: the run is inconclusive' }), max: z.number().optional(), vsBaseline })
  .meta({ description: 'How many requests the canary served in the window' });

const promql = z
  .strictObject({
    query: z.string().optional().meta({ description: 'PromQL; {{cluster}}, {{baseline}}, {{route}} and {{window}} are filled in' }),
    min: z.number().optional(),
    max: z.number().optional(),
    vsBaseline,
  })
  .meta({ description: 'A PromQL query (always read from Prometheus)' });

/** The metric key an entry uses (the first, when it wrongly has several) and the check in model terms. */
export function checkInputOf(entry: AnalysisCheckYaml): { key: MetricKey; input: AnalysisCheckInput } | undefined {
  const key = METRIC_KEY_LIST.find((k) => entry[k] !== undefined);
  if (!key) return undefined;
  const input: AnalysisCheckInput = { metric: METRIC_KEYS[key], ...entry[key] };
  if (entry.name !== undefined) input.name = entry.name;
  if (entry.source !== undefined) input.source = entry.source;
  return { key, input };
}

const IN_METRIC = new Set<CheckField>(['min', 'max', 'percentile', 'vsBaseline', 'query']);

export const analysisCheck = z
  .strictObject({
    successRate: successRate.optional(),
    latency: latency.optional(),
    requests: requests.optional(),
    promql: promql.optional(),
    source: z.enum(METRIC_SOURCES).optional().meta({ description: "banyan (default: Banyan's own load reports) or prometheus" }),
    name: name.optional().meta({ description: 'Shown in status and audit; default derived, e.g. "success-rate ≥ 99%"' }),
  })
  .superRefine(exactlyOne(METRIC_KEY_LIST))
  .superRefine((entry, ctx) => {
    const found = checkInputOf(entry);
    if (!found) return;
    reportAt(ctx, checkProblems(found.input), (f) => (f === 'metric' ? [found.key] : IN_METRIC.has(f) ? [found.key, f] : [f]), entry);
  })
  .meta({ description: 'Exactly one of successRate, latency, requests, promql' });

export type AnalysisCheckYaml = z.output<typeof analysisCheck>;

const ANALYSIS_KEYS: Record<AnalysisField, string> = { intervalMs: 'interval', failureLimit: 'failureLimit', onFailure: 'onFailure' };

export const analysis = z
  .strictObject({
    interval: duration.optional().meta({ description: "How often checks run while a step bakes, each over this long a window (default: the rollout's interval)" }),
    failureLimit: z.number().optional().meta({ description: 'Failed runs in one step before onFailure (default 2)' }),
    onFailure: z.enum(ON_FAILURE).optional().meta({ description: 'rollback (default): back to the starting weights; pause: freeze where they are' }),
    checks: z
      .array(analysisCheck)
      .min(1)
      .superRefine((checks, ctx) => {
        const names = checks.map((c) => {
          const found = checkInputOf(c);
          return found ? (found.input.name ?? defaultCheckName(found.input)) : '';
        });
        for (const d of duplicateNames(names, 'check')) {
          if (names[d.index] === '') continue;
          const path = checks[d.index].name !== undefined ? [d.index, 'name'] : [d.index];
          ctx.addIssue({ code: 'custom', path, message: d.message, input: checks[d.index] });
        }
      }),
  })
  .superRefine((a, ctx) => reportAt(ctx, analysisProblems({ intervalMs: a.interval, failureLimit: a.failureLimit }), (f) => [ANALYSIS_KEYS[f]], a));

const WEBHOOK_KEYS: Record<WebhookField, string> = { name: 'name', url: 'url', events: 'events', gate: 'gate', secretEnv: 'secretEnv', timeoutMs: 'timeout', retries: 'retries' };

export const webhook = z
  .strictObject({
    name: name,
    url: z.string().meta({ description: 'http(s) URL; Banyan POSTs JSON, signed with HMAC-SHA256 when secretEnv is set' }),
    events: z.array(z.enum(WEBHOOK_EVENTS)).optional().meta({ description: 'Default: [pre-step] for a gate, every event otherwise' }),
    gate: z.boolean().optional().meta({ description: 'Hold each step until the hook answers 2xx (needs pre-step); default false' }),
    secretEnv: z.string().optional().meta({ description: 'Environment variable holding the HMAC secret' }),
    timeout: duration.optional().meta({ description: 'Per attempt, default 5s' }),
    retries: z.number().optional().meta({ description: 'Default 3' }),
  })
  .superRefine((w, ctx) => {
    const { timeout, ...rest } = w;
    reportAt(ctx, webhookProblems({ ...rest, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) }), (f) => [WEBHOOK_KEYS[f]], w);
  });

const webhooks = z.array(webhook).superRefine((list, ctx) => {
  for (const d of duplicateNames(list.map((w) => w.name), 'webhook')) ctx.addIssue({ code: 'custom', path: [d.index, 'name'], message: d.message, input: list[d.index].name });
});

const ROLLOUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const rollout = z
  .strictObject({
    name: name
      .superRefine(refineWith((v: string) => (ROLLOUT_NAME.test(v) ? undefined : `rollout name "${v}" may hold letters, digits, ".", "_" and "-", starting with a letter or digit (CLI commands name the rollout by it)`)))
      .meta({ description: 'Unique across files; how CLI commands and the audit name the rollout' }),
    route: name.meta({ description: 'Route reference: route, listener/route or listener/host/route' }),
    to: name.meta({ description: 'The cluster that receives more and more of the traffic' }),
    steps: z.array(z.number()).optional().meta({ description: 'Target percentages, increasing, e.g. [5, 10, 25, 50, 100]' }),
    step: z.number().optional().meta({ description: 'Equal steps of this many percent (with max)' }),
    max: z.number().optional().meta({ description: 'Last step for step (default 100)' }),
    interval: duration.meta({ description: 'Time each step bakes before the next, e.g. 10m' }),
    allowDecrease: z.boolean().optional().meta({ description: "Let the first step lower the target's current share (default false)" }),
    ackTimeout: duration.optional().meta({ description: 'How long proxies have to ACK each step before the rollout holds (default 2m)' }),
    analysis: analysis.optional(),
    webhooks: webhooks.optional(),
  })
  .superRefine(exactlyOne(['steps', 'step']))
  .superRefine(onlyWith(['max'], ['step']))
  .superRefine((r, ctx) => {
    const steps = r.steps && stepsProblem(r.steps);
    if (steps) ctx.addIssue({ code: 'custom', path: steps.index === undefined ? ['steps'] : ['steps', steps.index], message: steps.message, input: r.steps });
    const range = r.step !== undefined && r.steps === undefined ? stepRangeProblem(r.step, r.max, { step: 'step', max: 'max' }) : undefined;
    if (range) ctx.addIssue({ code: 'custom', path: [range.key], message: range.message, input: r[range.key] });
    const interval = positiveDurationProblem(r.interval);
    if (interval) ctx.addIssue({ code: 'custom', path: ['interval'], message: `the interval between steps ${interval}`, input: r.interval });
    const ack = positiveDurationProblem(r.ackTimeout);
    if (ack) ctx.addIssue({ code: 'custom', path: ['ackTimeout'], message: `ackTimeout ${ack}`, input: r.ackTimeout });
  })
  .meta({ description: 'A stepped rollout owned by this file: the desired rollout lives in git, its progress in the store' });

export type RolloutInput = z.output<typeof rollout>;
