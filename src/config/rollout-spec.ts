/**
 * What a rollout's analysis and webhooks may be, and what they default to: one set of rules for the
 * `rollouts:` YAML section (schema-rollout.ts maps them onto YAML keys and positions), the admin API's
 * `POST /api/v1/rollouts` body (the zod schemas below) and the CLI's flags (src/cli/commands/rollout.ts
 * checks before it sends). Inputs are the model's types with their defaults left out; problems come
 * back per field, in words that fit all three.
 *
 * vsBaseline: the check compares the canary with the route's other backends over the same window and
 * its `max` bounds how much worse the canary may be — success rate: points below the baseline's;
 * latency: milliseconds above the baseline's percentile. `min` has no meaning there and is refused.
 */
import { z } from 'zod';
import type { AnalysisCheck, AnalysisMetric, RolloutAnalysis, WebhookEvent, WebhookSpec } from './model.js';

export const ROLLOUT_DEFAULTS = {
  allowDecrease: false,
  ackTimeoutMs: 120_000,
  failureLimit: 2,
  onFailure: 'rollback',
  percentile: 99,
  webhookTimeoutMs: 5000,
  webhookRetries: 3,
} as const;

export const ANALYSIS_METRICS = ['success-rate', 'latency', 'requests', 'promql'] as const satisfies readonly AnalysisMetric[];
export const METRIC_SOURCES = ['banyan', 'prometheus'] as const;
export const ON_FAILURE = ['rollback', 'pause'] as const;
export const WEBHOOK_EVENTS = ['pre-step', 'post-step', 'promotion', 'rollback'] as const satisfies readonly WebhookEvent[];
export const MAX_WEBHOOK_RETRIES = 10;

/** An analysis check as given: AnalysisCheck without its defaults (name, percentile, source). */
export interface AnalysisCheckInput {
  metric: AnalysisMetric;
  name?: string;
  min?: number;
  max?: number;
  percentile?: number;
  vsBaseline?: boolean;
  query?: string;
  source?: AnalysisCheck['source'];
}

export interface RolloutAnalysisInput {
  checks: AnalysisCheckInput[];
  /** Default: the rollout's interval. */
  intervalMs?: number;
  failureLimit?: number;
  onFailure?: RolloutAnalysis['onFailure'];
}

export interface WebhookInput {
  name: string;
  url: string;
  /** Default: [pre-step] for a gate, every event for a notification. */
  events?: WebhookEvent[];
  gate?: boolean;
  secretEnv?: string;
  timeoutMs?: number;
  retries?: number;
}

/** One thing wrong with one field. `atKey`: about the key being there (or missing), reported at the key, not its value. */
export interface SpecProblem<F extends string = string> {
  field: F;
  message: string;
  atKey: boolean;
}

export type CheckField = keyof AnalysisCheckInput;
export type AnalysisField = Exclude<keyof RolloutAnalysisInput, 'checks'>;
export type WebhookField = keyof WebhookInput;

const atValue = <F extends string>(field: F, message: string): SpecProblem<F> => ({ field, message, atKey: false });
const atKey = <F extends string>(field: F, message: string): SpecProblem<F> => ({ field, message, atKey: true });

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** `must be longer than zero`, or undefined, for an interval or timeout in milliseconds. */
export function positiveDurationProblem(ms: number | undefined): string | undefined {
  return ms === undefined || (finite(ms) && ms > 0) ? undefined : 'must be longer than zero';
}

const UNIT: Record<AnalysisMetric, { what: string; range?: [number, number]; integer?: boolean; ms?: boolean }> = {
  'success-rate': { what: 'a success rate is a percentage', range: [0, 100] },
  latency: { what: 'a latency is a duration', range: [0, Infinity], ms: true },
  requests: { what: 'a request count is a whole number', range: [0, Infinity], integer: true },
  promql: { what: 'a PromQL value' },
};

/** Everything wrong with one check, per field. */
export function checkProblems(c: AnalysisCheckInput): SpecProblem<CheckField>[] {
  const out: SpecProblem<CheckField>[] = [];
  const unit = UNIT[c.metric];
  const relative = c.vsBaseline === true;
  if (c.vsBaseline !== undefined && (c.metric === 'requests' || c.metric === 'promql')) {
    out.push(atKey('vsBaseline', `"vsBaseline" applies to successRate and latency checks only: ${c.metric === 'requests' ? 'a request count' : 'a PromQL value'} has no baseline to be compared with`));
  }
  if (c.percentile !== undefined && c.metric !== 'latency') out.push(atKey('percentile', '"percentile" applies to latency checks only'));
  if (c.percentile !== undefined && c.metric === 'latency' && !(finite(c.percentile) && c.percentile > 0 && c.percentile < 100)) {
    out.push(atValue('percentile', `percentile must be above 0 and below 100 (e.g. 50, 99, 99.9), got ${c.percentile}`));
  }
  if (c.query !== undefined && c.metric !== 'promql') out.push(atKey('query', '"query" applies to promql checks only'));
  if (c.metric === 'promql' && (c.query === undefined || c.query.trim() === '')) out.push(atKey('metric', 'a promql check needs a "query"'));
  if (c.metric === 'promql' && c.source === 'banyan') out.push(atValue('source', 'a promql check always reads Prometheus; leave "source" out or write prometheus'));

  if (relative && c.min !== undefined && (c.metric === 'success-rate' || c.metric === 'latency')) {
    out.push(atKey('min', `"min" does not go with vsBaseline: give "max", ${c.metric === 'latency' ? 'how much slower than the baseline the canary may be' : 'how many points the canary may fall below the baseline'}`));
  } else if (c.min === undefined && c.max === undefined) {
    out.push(atKey('metric', `a ${c.metric} check needs a threshold: give ${relative ? '"max"' : '"min" or "max"'}`));
  }
  for (const field of ['min', 'max'] as const) {
    const v = c[field];
    if (v === undefined) continue;
    const bad = !finite(v) || (unit.integer && !Number.isInteger(v)) || (unit.range && (v < unit.range[0] || v > unit.range[1]));
    if (bad) {
      const range = unit.range ? (unit.range[1] === Infinity ? ' at least 0' : ` from ${unit.range[0]} to ${unit.range[1]}`) : ' a number';
      out.push(atValue(field, `${unit.what}: "${field}" must be${unit.integer ? ' a whole number' : ''}${range}, got ${v}`));
    }
  }
  if (finite(c.min) && finite(c.max) && c.max < c.min && !relative) out.push(atValue('max', `"max" (${c.max}) is below "min" (${c.min}): no value could pass`));
  return out;
}

/** Everything wrong with the analysis's own settings (its checks: checkProblems, duplicateNames). */
export function analysisProblems(a: Omit<RolloutAnalysisInput, 'checks'>): SpecProblem<AnalysisField>[] {
  const out: SpecProblem<AnalysisField>[] = [];
  const interval = positiveDurationProblem(a.intervalMs);
  if (interval) out.push(atValue('intervalMs', `the analysis interval ${interval}`));
  if (a.failureLimit !== undefined && !(Number.isInteger(a.failureLimit) && a.failureLimit >= 1)) {
    out.push(atValue('failureLimit', `failureLimit is how many failed runs in one step are tolerated before onFailure: a whole number from 1, got ${a.failureLimit}`));
  }
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Everything wrong with one webhook, per field. */
export function webhookProblems(w: WebhookInput): SpecProblem<WebhookField>[] {
  const out: SpecProblem<WebhookField>[] = [];
  if (!isHttpUrl(w.url)) out.push(atValue('url', `webhook url must be an http(s) URL, got ${JSON.stringify(w.url)}`));
  if (w.events !== undefined) {
    if (w.events.length === 0) out.push(atValue('events', `a webhook needs at least one event (${WEBHOOK_EVENTS.join(', ')})`));
    const twice = w.events.find((e, i) => w.events!.indexOf(e) !== i);
    if (twice) out.push(atValue('events', `event ${twice} is listed twice`));
    if (w.gate && w.events.length > 0 && !w.events.includes('pre-step')) {
      out.push(atKey('gate', `webhook "${w.name}" is a gate, so its events must include pre-step (a gate holds each step until it answers 2xx); add pre-step or drop gate`));
    }
  }
  if (w.secretEnv !== undefined && !ENV_NAME.test(w.secretEnv)) {
    out.push(atValue('secretEnv', `secretEnv names the environment variable that holds the secret (letters, digits and _), got ${JSON.stringify(w.secretEnv)}`));
  }
  const timeout = positiveDurationProblem(w.timeoutMs);
  if (timeout) out.push(atValue('timeoutMs', `the webhook timeout ${timeout}`));
  if (w.retries !== undefined && !(Number.isInteger(w.retries) && w.retries >= 0 && w.retries <= MAX_WEBHOOK_RETRIES)) {
    out.push(atValue('retries', `retries must be a whole number from 0 to ${MAX_WEBHOOK_RETRIES}, got ${w.retries}`));
  }
  return out;
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** The index and message of every name used a second time (checks by their defaulted names). */
export function duplicateNames(names: readonly string[], what: string): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  names.forEach((n, i) => {
    const first = names.indexOf(n);
    if (first !== i) out.push({ index: i, message: `${what} "${n}" is already the name of ${what} ${first + 1}; give each a distinct name` });
  });
  return out;
}

// ---------------------------------------------------------------- defaults

const MS_UNITS: [number, string][] = [
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
];

/** 500 → 500ms, 1500 → 1.5s, 120000 → 2m. */
export function formatMs(ms: number): string {
  for (const [size, unit] of MS_UNITS) if (ms >= size && (ms % size === 0 || size === 1000)) return `${Math.round((ms / size) * 1000) / 1000}${unit}`;
  return `${ms}ms`;
}

/** The threshold in words, as status shows it: `≥ 99%`, `≤ 500ms`, `≤ 1 point below baseline`. */
export function thresholdText(c: AnalysisCheckInput): string {
  const v = (n: number) => (c.metric === 'success-rate' ? `${n}%` : c.metric === 'latency' ? formatMs(n) : c.metric === 'requests' ? n.toLocaleString('en-US') : String(n));
  if (c.vsBaseline && c.max !== undefined) {
    return c.metric === 'latency' ? `≤ ${formatMs(c.max)} above baseline` : `≤ ${c.max} point${c.max === 1 ? '' : 's'} below baseline`;
  }
  return [c.min !== undefined ? `≥ ${v(c.min)}` : '', c.max !== undefined ? `≤ ${v(c.max)}` : ''].filter(Boolean).join(', ');
}

/** `success-rate ≥ 99%`, `p99 latency ≤ 500ms`, `requests ≥ 100`, `promql ≤ 5`. */
export function defaultCheckName(c: AnalysisCheckInput): string {
  const what = c.metric === 'latency' ? `p${c.percentile ?? ROLLOUT_DEFAULTS.percentile} latency` : c.metric;
  const threshold = thresholdText(c);
  return threshold ? `${what} ${threshold}` : what;
}

export function checkWithDefaults(c: AnalysisCheckInput): AnalysisCheck {
  const out: AnalysisCheck = { name: c.name ?? defaultCheckName(c), metric: c.metric, source: c.metric === 'promql' ? 'prometheus' : (c.source ?? 'banyan') };
  if (c.min !== undefined) out.min = c.min;
  if (c.max !== undefined) out.max = c.max;
  if (c.metric === 'latency') out.percentile = c.percentile ?? ROLLOUT_DEFAULTS.percentile;
  if (c.vsBaseline) out.vsBaseline = true;
  if (c.query !== undefined) out.query = c.query;
  return out;
}

/** The analysis as the rollout keeps it; `rolloutIntervalMs` is the default run interval. Expects input without problems. */
export function analysisWithDefaults(a: RolloutAnalysisInput, rolloutIntervalMs: number): RolloutAnalysis {
  return {
    checks: a.checks.map(checkWithDefaults),
    intervalMs: a.intervalMs ?? rolloutIntervalMs,
    failureLimit: a.failureLimit ?? ROLLOUT_DEFAULTS.failureLimit,
    onFailure: a.onFailure ?? ROLLOUT_DEFAULTS.onFailure,
  };
}

export function webhookWithDefaults(w: WebhookInput): WebhookSpec {
  const gate = w.gate ?? false;
  return {
    name: w.name,
    url: w.url,
    events: w.events ? [...w.events] : gate ? ['pre-step'] : [...WEBHOOK_EVENTS],
    gate,
    ...(w.secretEnv !== undefined ? { secretEnv: w.secretEnv } : {}),
    timeoutMs: w.timeoutMs ?? ROLLOUT_DEFAULTS.webhookTimeoutMs,
    retries: w.retries ?? ROLLOUT_DEFAULTS.webhookRetries,
  };
}

/**
 * Every problem of a whole analysis + webhooks, as `path: message` lines in model terms
 * (`analysis.checks[1].vsBaseline: ...`). For callers without a schema (the CLI); empty when valid.
 */
export function rolloutExtrasProblems(analysis: RolloutAnalysisInput | undefined, webhooks: readonly WebhookInput[]): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  if (analysis) {
    if (analysis.checks.length === 0) out.push({ path: ['analysis', 'checks'], message: 'an analysis needs at least one check' });
    analysis.checks.forEach((c, i) => out.push(...checkProblems(c).map((p) => ({ path: ['analysis', 'checks', i, p.field], message: p.message }))));
    out.push(...analysisProblems(analysis).map((p) => ({ path: ['analysis', p.field], message: p.message })));
    out.push(...duplicateNames(analysis.checks.map((c) => c.name ?? defaultCheckName(c)), 'check').map((d) => ({ path: ['analysis', 'checks', d.index, 'name'], message: d.message })));
  }
  webhooks.forEach((w, i) => out.push(...webhookProblems(w).map((p) => ({ path: ['webhooks', i, p.field], message: p.message }))));
  out.push(...duplicateNames(webhooks.map((w) => w.name), 'webhook').map((d) => ({ path: ['webhooks', d.index, 'name'], message: d.message })));
  return out;
}

// ---------------------------------------------------------------- the admin API's body (model form)

/** Reports SpecProblems as zod issues at `[...prefix, field]`. */
function reported<T, F extends string>(problems: (value: T) => SpecProblem<F>[]) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    for (const p of problems(value)) {
      ctx.addIssue({ code: 'custom', path: [p.field], message: p.message, input: (value as Record<string, unknown>)[p.field] });
    }
  };
}

function namesDistinct<T>(nameOf: (item: T) => string, what: string) {
  return (items: T[], ctx: z.RefinementCtx<T[]>): void => {
    for (const d of duplicateNames(items.map(nameOf), what)) ctx.addIssue({ code: 'custom', path: [d.index, 'name'], message: d.message, input: items[d.index] });
  };
}

export const analysisCheckBody = z
  .strictObject({
    metric: z.enum(ANALYSIS_METRICS),
    name: z.string().min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    percentile: z.number().optional(),
    vsBaseline: z.boolean().optional(),
    query: z.string().optional(),
    source: z.enum(METRIC_SOURCES).optional(),
  })
  .superRefine(reported(checkProblems));

export const analysisBody = z
  .strictObject({
    checks: z.array(analysisCheckBody).min(1, 'an analysis needs at least one check').superRefine(namesDistinct((c: AnalysisCheckInput) => c.name ?? defaultCheckName(c), 'check')),
    intervalMs: z.number().optional(),
    failureLimit: z.number().optional(),
    onFailure: z.enum(ON_FAILURE).optional(),
  })
  .superRefine(reported(analysisProblems));

export const webhookBody = z
  .strictObject({
    name: z.string().min(1),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
    gate: z.boolean().optional(),
    secretEnv: z.string().optional(),
    timeoutMs: z.number().optional(),
    retries: z.number().optional(),
  })
  .superRefine(reported(webhookProblems));

export const webhooksBody = z.array(webhookBody).superRefine(namesDistinct((w: WebhookInput) => w.name, 'webhook'));
