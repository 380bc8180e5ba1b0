/**
 * One analysis run: every check of a rollout measured over one window, canary (the rollout's target)
 * and, for `vsBaseline` checks, the route's other backends over the same window. A check with too
 * little traffic to judge is inconclusive (passed: null): it neither passes nor counts as a failure,
 * and a step does not advance on it.
 */
import type { AnalysisCheck, AnalysisRun, CheckResult, Rollout } from '../../store/types.js';
import type { MetricSource, MetricWindow } from './source.js';

export interface AnalysisSources {
  banyan?: MetricSource;
  prometheus?: MetricSource;
}

/** Requests below which a success-rate or latency value is not trusted unless a `requests` check says otherwise. */
const DEFAULT_MIN_REQUESTS = 1;

export async function runAnalysis(r: Rollout, window: MetricWindow, sources: AnalysisSources): Promise<AnalysisRun> {
  const checks = r.analysis?.checks ?? [];
  const canary = [r.toBackend];
  const baseline = r.fromBackends.filter((b) => b.cluster !== r.toBackend && b.weight > 0).map((b) => b.cluster);
  const minRequests = Math.max(DEFAULT_MIN_REQUESTS, ...checks.filter((c) => c.metric === 'requests' && c.min !== undefined).map((c) => c.min!));
  const results = await Promise.all(checks.map((c) => runCheck(c, r.route, canary, baseline, window, sources, minRequests)));
  const passed = results.some((x) => x.passed === false) ? false : results.every((x) => x.passed === true) ? true : null;
  return { at: window.to, from: window.from, to: window.to, passed, results };
}

async function runCheck(
  check: AnalysisCheck,
  route: string,
  canary: string[],
  baseline: string[],
  window: MetricWindow,
  sources: AnalysisSources,
  minRequests: number,
): Promise<CheckResult> {
  const threshold = describeThreshold(check);
  const source = check.metric === 'promql' || check.source === 'prometheus' ? sources.prometheus : sources.banyan;
  if (!source) return { check: check.name, passed: null, value: null, threshold, samples: 0, detail: `no ${check.source === 'prometheus' || check.metric === 'promql' ? 'Prometheus' : 'metrics'} source configured` };
  try {
    const query = { metric: check.metric, window, route, percentile: check.percentile ?? 99, query: check.query, baseline };
    const m = await source.measure({ ...query, clusters: canary });
    if (check.metric === 'requests') {
      return { check: check.name, passed: m.samples >= (check.min ?? 0) ? true : null, value: m.samples, threshold, samples: m.samples, ...(m.samples < (check.min ?? 0) ? { detail: `waiting for ${check.min} requests` } : {}) };
    }
    const enough = check.metric === 'promql' || m.samples >= minRequests;
    if (m.value === null || !enough) return { check: check.name, passed: null, value: m.value, threshold, samples: m.samples, detail: m.detail ?? `${m.samples} requests: not enough to judge` };
    if (!check.vsBaseline) return { check: check.name, passed: within(m.value, check), value: round(m.value), threshold, samples: m.samples };
    const b = await source.measure({ ...query, clusters: baseline });
    if (b.value === null || b.samples < minRequests) return { check: check.name, passed: null, value: round(m.value), baseline: b.value, threshold, samples: m.samples, detail: 'baseline has too little traffic to compare' };
    // success rate: how far the canary is below the baseline; latency: how far above
    const diff = check.metric === 'success-rate' ? b.value - m.value : m.value - b.value;
    return { check: check.name, passed: within(diff, check), value: round(m.value), baseline: round(b.value), threshold, samples: m.samples };
  } catch (err) {
    // A source that fails is not evidence against the canary: inconclusive, with the error shown.
    return { check: check.name, passed: null, value: null, threshold, samples: 0, detail: (err as Error).message };
  }
}

function within(v: number, c: AnalysisCheck): boolean {
  return (c.min === undefined || v >= c.min) && (c.max === undefined || v <= c.max);
}

export function describeThreshold(c: AnalysisCheck): string {
  const unit = c.metric === 'success-rate' ? (c.vsBaseline ? ' points' : '%') : c.metric === 'latency' ? 'ms' : '';
  const what = c.vsBaseline ? (c.metric === 'success-rate' ? 'below baseline' : 'above baseline') : '';
  const parts = [c.min !== undefined ? `≥ ${c.min}${unit}` : '', c.max !== undefined ? `≤ ${c.max}${unit}` : ''].filter(Boolean);
  return `${what ? `${what} ` : ''}${parts.join(' and ')}`;
}

const round = (v: number) => Math.round(v * 1000) / 1000;
