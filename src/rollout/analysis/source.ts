/**
 * Where analysis gets its numbers. Two implementations: Banyan's own (load samples that LRS and the
 * metrics service wrote to the store, summed over every replica: banyan-source.ts) and Prometheus
 * (PromQL over its HTTP API: prometheus.ts). checks.ts turns measurements into pass/fail.
 */

/** (from, to] in epoch milliseconds. */
export interface MetricWindow {
  from: number;
  to: number;
}

export interface MetricQuery {
  metric: 'success-rate' | 'latency' | 'requests' | 'promql';
  /** The clusters measured together (the canary, or the baseline backends). */
  clusters: string[];
  window: MetricWindow;
  /** latency: percentile, e.g. 99. */
  percentile?: number;
  /** promql: the template; {{cluster}} (regex alternation of `clusters`), {{route}}, {{window}} (e.g. 60s). */
  query?: string;
  route: string;
  /** The route's other backends (for {{baseline}} in PromQL). */
  baseline?: string[];
}

export interface Measurement {
  /** success-rate in percent, latency in ms, requests as a count; null when there is nothing to measure. */
  value: number | null;
  /** Requests the value is computed from (0 when unknown, e.g. an arbitrary PromQL value). */
  samples: number;
  detail?: string;
}

export interface MetricSource {
  measure(q: MetricQuery): Promise<Measurement>;
}
