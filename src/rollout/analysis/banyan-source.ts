/**
 * Analysis over Banyan's own numbers: the load samples that LRS (proxyless gRPC clients, Envoy) and
 * the metrics service (Envoy's stats sink) wrote to the store, from every replica (src/loadstats/).
 *
 * - success-rate and requests count successes and errors. A node that reports over LRS is counted
 *   from its LRS samples only: an Envoy with Banyan's bootstrap sends both, and LRS counts what a
 *   gRPC client counts (grpc-status), where Envoy's response classes count HTTP statuses. A node
 *   with no LRS sample in the window is counted from its metrics samples' counters.
 * - latency is a percentile of the metrics samples' `upstream_rq_time` histograms summed over the
 *   window, interpolated linearly inside the bucket it falls in, as Prometheus' histogram_quantile does.
 * - value is null when nothing was measured (no request, no observation); samples is the number of
 *   requests (observations, for latency) behind the value.
 */
import type { LoadSample, Store } from '../../store/types.js';
import type { Measurement, MetricQuery, MetricSource } from './source.js';

export class BanyanMetricSource implements MetricSource {
  constructor(private readonly store: Pick<Store, 'listLoadSamples'>) {}

  async measure(q: MetricQuery): Promise<Measurement> {
    if (q.metric === 'promql') throw new Error("Banyan's own load samples cannot answer PromQL: a promql check needs the Prometheus source");
    const samples = await this.store.listLoadSamples(q.clusters, q.window.from, q.window.to);
    if (q.metric === 'latency') return latencyOf(samples, q.percentile ?? 99);
    const { successes, errors, lrs, metrics } = outcomes(samples);
    const requests = successes + errors;
    const detail = `${requests} requests (${describeSources(lrs, metrics)})`;
    if (!requests) return { value: null, samples: 0, detail: `no requests (${describeSources(lrs, metrics)})` };
    if (q.metric === 'requests') return { value: requests, samples: requests, detail };
    return { value: (successes / requests) * 100, samples: requests, detail: `${errors} errors of ${detail}` };
  }
}

function describeSources(lrs: number, metrics: number): string {
  return `${lrs} LRS and ${metrics} metrics samples`;
}

/** Successes and errors, each node counted from its LRS samples when it has any, else from its metrics samples. */
export function outcomes(samples: readonly LoadSample[]): { successes: number; errors: number; lrs: number; metrics: number } {
  const overLrs = new Set(samples.filter((s) => s.source === 'lrs').map((s) => s.node));
  let successes = 0;
  let errors = 0;
  let lrs = 0;
  let metrics = 0;
  for (const s of samples) {
    if (s.source === 'metrics' && overLrs.has(s.node)) continue;
    if (s.source === 'lrs') lrs++;
    else metrics++;
    successes += s.successes;
    errors += s.errors;
  }
  return { successes, errors, lrs, metrics };
}

function latencyOf(samples: readonly LoadSample[], percentile: number): Measurement {
  if (!(percentile >= 0 && percentile <= 100)) throw new Error(`latency percentile must be 0-100, got ${percentile}`);
  const histograms = samples.flatMap((s) => (s.source === 'metrics' && s.latency ? [s.latency] : []));
  const merged = mergeHistograms(histograms);
  const observed = merged.counts.reduce((a, b) => a + b, 0);
  if (!observed) return { value: null, samples: 0, detail: `no latency observations (${histograms.length} histograms)` };
  const value = histogramQuantile(percentile / 100, merged.bounds, merged.counts);
  return { value, samples: observed, detail: `p${percentile} of ${observed} requests from ${histograms.length} histograms` };
}

/**
 * Per-bucket counts summed. `counts[i]` is what fell in (bounds[i-1], bounds[i]]; an entry past the
 * last bound counts what fell above it. Histograms with other bounds are laid on the union of all
 * bounds, each bucket's count at its own upper bound (exact when the bounds agree, as Envoys' do unless
 * histogram_bucket_settings differ).
 */
export function mergeHistograms(hs: readonly { bounds: readonly number[]; counts: readonly number[] }[]): { bounds: number[]; counts: number[] } {
  const bounds = [...new Set(hs.flatMap((h) => h.bounds))].sort((a, b) => a - b);
  const index = new Map(bounds.map((b, i) => [b, i]));
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const h of hs) {
    h.counts.forEach((c, i) => {
      counts[i < h.bounds.length ? index.get(h.bounds[i])! : bounds.length] += c;
    });
  }
  return { bounds, counts };
}

/**
 * The q-quantile (0..1) of a histogram given per bucket (counts as in mergeHistograms), as Prometheus'
 * histogram_quantile computes it: the bucket where the rank q·total falls, linear inside it, the first
 * bucket starting at 0; a rank above the last bound answers the last bound. Null with no observations
 * or no bound.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total || !bounds.length) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const inBucket = counts[i] ?? 0;
    if (below + inBucket >= rank) {
      if (i === 0 && bounds[0] <= 0) return bounds[0];
      const start = i === 0 ? 0 : bounds[i - 1];
      return inBucket ? start + (bounds[i] - start) * ((rank - below) / inBucket) : start;
    }
    below += inBucket;
  }
  return bounds[bounds.length - 1];
}
