/**
 * Analysis measured by Prometheus: one instant PromQL query (`GET /api/v1/query`, evaluated at the
 * window's end) per value, over Envoy's own metrics as Prometheus scrapes them from Envoy's
 * `/stats/prometheus`:
 *
 *   - `envoy_cluster_upstream_rq_xx{envoy_cluster_name, envoy_response_code_class}` — responses per
 *     class (`"2"`, `"5"`, …) per upstream cluster, a counter;
 *   - `envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name, le}` — upstream request time in
 *     milliseconds, a histogram.
 *
 * Templates (DEFAULT_TEMPLATES; overridable per metric) take these variables:
 *   - `{{cluster}}` — the measured clusters as an RE2 alternation (`a|b\.c`), regex-escaped and
 *     escaped for a double-quoted PromQL string: write `envoy_cluster_name=~"{{cluster}}"`;
 *   - `{{baseline}}` — the same for `baseline`, when the query carries one;
 *   - `{{route}}` — the rollout's route reference, escaped for a double-quoted string;
 *   - `{{window}}` — the window's length as a Prometheus duration (`60s`, `1500ms`);
 *   - `{{quantile}}` — latency only: the percentile as a fraction (`0.99`).
 *
 * A value is a single-sample vector or a scalar. No series → null; NaN (e.g. 0/0: no traffic) →
 * null; more than one series, or a range vector → a MetricSourceError naming the query, as are
 * every HTTP, Prometheus (`status: error`) and timeout failure.
 */
import { MetricSourceError } from '../errors.js';
import type { Measurement, MetricQuery, MetricSource } from './source.js';

export interface PrometheusTemplates {
  'success-rate': string;
  latency: string;
  requests: string;
}

const RQ_XX = 'envoy_cluster_upstream_rq_xx';
const RQ_TIME_BUCKET = 'envoy_cluster_upstream_rq_time_bucket';

export const DEFAULT_TEMPLATES: Readonly<PrometheusTemplates> = {
  // Percent of responses that are not 5xx. `or vector(0)`: a cluster that never answered 5xx has no
  // 5xx series at all; with no traffic the division is 0/0 (NaN) or has no series (null either way).
  'success-rate': `100 * (1 - (sum(increase(${RQ_XX}{envoy_cluster_name=~"{{cluster}}",envoy_response_code_class="5"}[{{window}}])) or vector(0)) / sum(increase(${RQ_XX}{envoy_cluster_name=~"{{cluster}}"}[{{window}}])))`,
  latency: `histogram_quantile({{quantile}}, sum by (le) (rate(${RQ_TIME_BUCKET}{envoy_cluster_name=~"{{cluster}}"}[{{window}}])))`,
  requests: `sum(increase(${RQ_XX}{envoy_cluster_name=~"{{cluster}}"}[{{window}}]))`,
};

export interface PrometheusSourceOptions {
  /** Prometheus' base URL, e.g. `http://prometheus:9090` (a path prefix is kept). */
  url: string;
  /** Per query, for the whole HTTP exchange; also sent as Prometheus' own evaluation `timeout`. */
  timeoutMs: number;
  fetch?: typeof globalThis.fetch;
  /** Sent with every query, e.g. `Authorization`. */
  headers?: Record<string, string>;
  templates?: Partial<PrometheusTemplates>;
}

/** A MetricQuery that may also name the baseline clusters, for `{{baseline}}` in PromQL checks. */
export type PrometheusQuery = MetricQuery & { baseline?: string[] };

/** Milliseconds as a Prometheus duration: whole seconds as `Ns`, anything else as `Nms`. */
export function promDuration(ms: number): string {
  const whole = Math.max(1, Math.round(ms));
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** Escapes `s` for the inside of a double-quoted PromQL string. */
const promString = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
/** Escapes RE2's metacharacters. */
const re2Literal = (s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
/** The clusters as one regex alternation, ready for `label=~"…"`. */
export const clusterRegex = (clusters: readonly string[]) => promString(clusters.map(re2Literal).join('|'));

/** Fills a template's `{{variables}}`; a variable it cannot fill is an error naming the template. */
export function renderQuery(template: string, q: PrometheusQuery): string {
  const lengthMs = q.window.to - q.window.from;
  if (!(lengthMs > 0)) throw new MetricSourceError('bad-input', `analysis window (${q.window.from}, ${q.window.to}] is empty; query: ${template}`, template);
  const vars: Record<string, () => string | undefined> = {
    cluster: () => (q.clusters.length > 0 ? clusterRegex(q.clusters) : undefined),
    baseline: () => (q.baseline && q.baseline.length > 0 ? clusterRegex(q.baseline) : undefined),
    route: () => promString(q.route),
    window: () => promDuration(lengthMs),
    quantile: () => (q.percentile !== undefined && q.percentile > 0 && q.percentile < 100 ? String(Number((q.percentile / 100).toPrecision(12))) : undefined),
  };
  return template.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (all, name: string) => {
    const fill = Object.hasOwn(vars, name) ? vars[name]() : undefined;
    if (fill === undefined) {
      const why = Object.hasOwn(vars, name) ? `nothing to fill ${all} with (no ${name === 'quantile' ? 'percentile in 0..100' : `${name} clusters`})` : `unknown variable ${all}`;
      throw new MetricSourceError('bad-input', `${why}; query: ${template}`, template);
    }
    return fill;
  });
}

interface PromAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

type Sample = [number, string];

function parseValue(raw: string): number | null {
  // Prometheus writes NaN, +Inf and -Inf as such; Number() reads "+Inf" as NaN.
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  const v = Number(raw);
  return Number.isNaN(v) ? null : v;
}

const snippet = (text: string) => text.slice(0, 200).trim();

export class PrometheusMetricSource implements MetricSource {
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly templates: PrometheusTemplates;
  private readonly endpoint: URL;

  constructor(private readonly opts: PrometheusSourceOptions) {
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.templates = { ...DEFAULT_TEMPLATES, ...opts.templates };
    this.endpoint = new URL('api/v1/query', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
  }

  async measure(q: PrometheusQuery): Promise<Measurement> {
    if (q.metric === 'promql') {
      if (!q.query) throw new MetricSourceError('bad-input', 'a promql check needs a query; query: (none)', '');
      const r = await this.query(renderQuery(q.query, q), q.window.to);
      return { value: r.value, samples: 0, ...(r.detail ? { detail: r.detail } : {}) };
    }
    const requests = renderQuery(this.templates.requests, q);
    if (q.metric === 'requests') {
      const r = await this.query(requests, q.window.to);
      return { value: r.value, samples: r.value === null ? 0 : Math.round(r.value), ...(r.detail ? { detail: r.detail } : {}) };
    }
    const main = renderQuery(q.metric === 'latency' ? this.templates.latency : this.templates['success-rate'], q);
    const [value, count] = await Promise.all([this.query(main, q.window.to), this.query(requests, q.window.to)]);
    const samples = count.value === null || !Number.isFinite(count.value) ? 0 : Math.max(0, Math.round(count.value));
    const detail = value.detail ?? (value.value === null ? `no value: ${samples} requests in the window` : undefined);
    return { value: value.value, samples, ...(detail ? { detail } : {}) };
  }

  /** One instant query at `atMs`: its single value, or null for no series or NaN. */
  async query(promql: string, atMs: number): Promise<{ value: number | null; detail?: string }> {
    const url = new URL(this.endpoint);
    url.searchParams.set('query', promql);
    url.searchParams.set('time', (atMs / 1000).toFixed(3));
    url.searchParams.set('timeout', promDuration(this.opts.timeoutMs));
    const fail = (code: MetricSourceError['code'], what: string, cause?: unknown) =>
      new MetricSourceError(code, `Prometheus at ${this.opts.url}: ${what}; query: ${promql}`, promql, cause === undefined ? undefined : { cause });

    let status: number;
    let text: string;
    try {
      const res = await this.fetchFn(url, { headers: { Accept: 'application/json', ...this.opts.headers }, signal: AbortSignal.timeout(this.opts.timeoutMs) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') throw fail('bad-state', `no answer within ${this.opts.timeoutMs}ms`, err);
      throw fail('bad-state', `unreachable (${e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)})`, err);
    }

    let answer: PromAnswer;
    try {
      answer = JSON.parse(text) as PromAnswer;
    } catch {
      throw fail('bad-state', `HTTP ${status}, not a Prometheus API answer${text ? `: ${snippet(text)}` : ''}`);
    }
    if (answer.status === 'error') {
      // bad_data: the query itself is wrong (syntax, types); anything else is Prometheus failing it.
      throw fail(answer.errorType === 'bad_data' ? 'bad-input' : 'bad-state', `HTTP ${status}, ${answer.errorType ?? 'error'}: ${answer.error ?? 'no message'}`);
    }
    if (status < 200 || status > 299 || answer.status !== 'success' || !answer.data) throw fail('bad-state', `HTTP ${status}: ${snippet(text)}`);

    const warnings = answer.warnings?.length ? `Prometheus warnings: ${answer.warnings.join('; ')}` : undefined;
    const { resultType, result } = answer.data;
    if (resultType === 'scalar') {
      const value = parseValue((result as Sample)[1]);
      return { value, detail: warnings ?? (value === null ? 'the query returned NaN' : undefined) };
    }
    if (resultType !== 'vector') throw fail('bad-input', `the query returned a ${resultType ?? 'result of no type'}, not an instant vector or a scalar`);
    const series = result as { metric: Record<string, string>; value: Sample }[];
    if (series.length === 0) return { value: null, detail: warnings ?? 'the query returned no series' };
    if (series.length > 1) {
      const shown = series.slice(0, 3).map((s) => `{${Object.entries(s.metric).map(([k, v]) => `${k}="${v}"`).join(',')}}`);
      throw fail('bad-input', `the query returned ${series.length} series (${shown.join(' ')}${series.length > 3 ? ' …' : ''}), analysis needs one value: aggregate it, e.g. sum(…)`);
    }
    const value = parseValue(series[0].value[1]);
    return { value, detail: warnings ?? (value === null ? 'the query returned NaN (no traffic in the window?)' : undefined) };
  }
}
