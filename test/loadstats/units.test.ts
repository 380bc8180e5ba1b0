/**
 * The pure parts: percentile interpolation, merging histograms, which node counts from which source,
 * reading Envoy's stat names, Prometheus buckets per bucket, and a stream's memory of since-start
 * counters (a reset is a restart) and histograms.
 */
import { describe, expect, it } from 'vitest';
import { sampleOf } from '../../src/loadstats/lrs.js';
import { classify, MetricsStreamState, perBucket, wantedFamily } from '../../src/loadstats/metrics-service.js';
import type { MetricFamily } from '../../src/loadstats/prometheus.js';
import { histogramQuantile, mergeHistograms, outcomes } from '../../src/rollout/analysis/banyan-source.js';
import type { LoadSample } from '../../src/store/types.js';

describe('histogramQuantile', () => {
  // per bucket: (0,10] 10, (10,20] 20, (20,40] 10, above 40: 0
  const bounds = [10, 20, 40];
  const counts = [10, 20, 10, 0];

  it('interpolates linearly inside the bucket the rank falls in, the first bucket from 0', () => {
    expect(histogramQuantile(0.5, bounds, counts)).toBe(15); // rank 20: 10th of 20 in (10,20]
    expect(histogramQuantile(0.125, bounds, counts)).toBe(5); // rank 5: half of (0,10]
    expect(histogramQuantile(0.875, bounds, counts)).toBe(30); // rank 35: 5th of 10 in (20,40]
    expect(histogramQuantile(0.75, bounds, counts)).toBe(20); // rank 30: exactly the top of (10,20]
    expect(histogramQuantile(1, bounds, counts)).toBe(40);
  });

  it('answers the last bound for a rank among the observations above it', () => {
    expect(histogramQuantile(0.99, bounds, [10, 20, 10, 60])).toBe(40);
  });

  it('is null with no observation or no bound; skips empty buckets', () => {
    expect(histogramQuantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
    expect(histogramQuantile(0.5, [], [5])).toBeNull();
    expect(histogramQuantile(0.5, [1, 2, 3], [0, 0, 4, 0])).toBe(2.5);
  });

  it('a first bound at or below zero is answered as is (as Prometheus does)', () => {
    expect(histogramQuantile(0.1, [0, 10], [5, 5, 0])).toBe(0);
  });
});

describe('mergeHistograms', () => {
  it('adds bucket by bucket, the overflow last', () => {
    expect(mergeHistograms([
      { bounds: [1, 5], counts: [1, 2, 3] },
      { bounds: [1, 5], counts: [10, 20, 30] },
    ])).toEqual({ bounds: [1, 5], counts: [11, 22, 33] });
  });

  it('lays other bounds on their union, each count at its own upper bound', () => {
    expect(mergeHistograms([
      { bounds: [1, 5], counts: [1, 2, 3] },
      { bounds: [2, 5, 10], counts: [4, 5, 6, 7] },
    ])).toEqual({ bounds: [1, 2, 5, 10], counts: [1, 4, 7, 6, 10] });
    expect(mergeHistograms([])).toEqual({ bounds: [], counts: [0] });
  });
});

const sample = (over: Partial<LoadSample>): LoadSample => ({ replica: 'r', cluster: 'c', source: 'lrs', at: 1, intervalMs: 1000, node: 'n', successes: 0, errors: 0, issued: 0, dropped: 0, ...over });

describe('outcomes', () => {
  it('counts a node over LRS when it sends LRS, and from its metrics counters only when it does not', () => {
    const got = outcomes([
      sample({ node: 'envoy-both', source: 'lrs', successes: 90, errors: 10 }),
      sample({ node: 'envoy-both', source: 'metrics', successes: 1000, errors: 1000 }),
      sample({ node: 'envoy-old', source: 'metrics', successes: 45, errors: 5 }),
      sample({ node: 'grpc', source: 'lrs', successes: 7, errors: 3 }),
    ]);
    expect(got).toEqual({ successes: 142, errors: 18, lrs: 2, metrics: 1 });
  });
});

describe('LRS ClusterStats → sample', () => {
  it('sums the localities; nothing happened is no sample; a missing cluster_name falls back to the service name', () => {
    const cs = { cluster_name: 'c', upstream_locality_stats: [{ total_successful_requests: 3, total_error_requests: 1, total_issued_requests: 5 }, { total_successful_requests: 2 }], total_dropped_requests: 1, load_report_interval: { seconds: 2, nanos: 5_000_000 } };
    expect(sampleOf(cs, 99, 'node-1', 'rep')).toEqual([{ replica: 'rep', cluster: 'c', source: 'lrs', at: 99, intervalMs: 2005, node: 'node-1', successes: 5, errors: 1, issued: 5, dropped: 1 }]);
    expect(sampleOf({ cluster_name: 'c', upstream_locality_stats: [{}] }, 1, 'n', 'r')).toEqual([]);
    expect(sampleOf({ cluster_service_name: 's', total_dropped_requests: 2 }, 1, 'n', 'r')[0].cluster).toBe('s');
  });
});

describe("Envoy's stat names", () => {
  it('reads the cluster from the full name or from the envoy.cluster_name label (either spelling)', () => {
    expect(classify('cluster.orders.upstream_rq_time')).toEqual({ cluster: 'orders', stat: 'time' });
    expect(classify('cluster.a.b.upstream_rq_2xx')).toEqual({ cluster: 'a.b', stat: '2xx' });
    expect(classify('cluster.upstream_rq_time', [{ name: 'envoy.cluster_name', value: 'x.y' }])).toEqual({ cluster: 'x.y', stat: 'time' });
    expect(classify('cluster.upstream_rq_xx', [{ name: 'envoy_cluster_name', value: 'o' }, { name: 'envoy_response_code_class', value: '5' }])).toEqual({ cluster: 'o', stat: '5xx' });
    expect(classify('cluster.upstream_rq_total', [{ name: 'envoy.cluster_name', value: 'o' }])).toEqual({ cluster: 'o', stat: 'total' });
  });

  it('leaves out sub-scopes, other classes and other stats', () => {
    for (const name of ['cluster.o.canary.upstream_rq_time', 'cluster.o.external.upstream_rq_2xx', 'cluster.o.internal.upstream_rq_5xx', 'cluster.o.retry.upstream_rq_5xx', 'cluster.o.zone.z1.z2.upstream_rq_time', 'cluster.o.upstream_rq_4xx', 'cluster.o.upstream_cx_total', 'http.edge.downstream_rq_time'])
      expect(classify(name), name).toBeUndefined();
    expect(classify('cluster.upstream_rq_xx', [{ name: 'envoy.cluster_name', value: 'o' }, { name: 'envoy.response_code_class', value: '4' }])).toBeUndefined();
    expect(classify('cluster.upstream_rq_time')).toBeUndefined(); // tagged name without the label
    expect(wantedFamily('cluster.upstream_rq_xx')).toBe(true);
    expect(wantedFamily('cluster.o.upstream_rq_time')).toBe(true);
    expect(wantedFamily('server.uptime')).toBe(false);
  });
});

describe('perBucket', () => {
  it('turns cumulative (le) buckets into per-bucket counts with the overflow from sample_count', () => {
    expect(perBucket({ sample_count: 12, bucket: [{ upper_bound: 5, cumulative_count: 4 }, { upper_bound: 1, cumulative_count: 1 }, { upper_bound: 10, cumulative_count: 10 }] })).toEqual({ bounds: [1, 5, 10], counts: [1, 3, 6, 2] });
  });

  it('takes a +Inf bucket as the total, and the float counts when set', () => {
    expect(perBucket({ bucket: [{ upper_bound: 1, cumulative_count: 2 }, { upper_bound: Infinity, cumulative_count: 5 }] })).toEqual({ bounds: [1], counts: [2, 3] });
    expect(perBucket({ sample_count_float: 4.5, bucket: [{ upper_bound: 1, cumulative_count_float: 1.5 }] })).toEqual({ bounds: [1], counts: [1.5, 3] });
  });
});

function family(name: string, value: number, type: MetricFamily['type'] = 'COUNTER'): MetricFamily {
  return { name, type, metric: [{ counter: { value } }] };
}
const hist = (name: string, cum: number[], bounds = [1, 10]): MetricFamily => ({
  name,
  type: 'HISTOGRAM',
  metric: [{ histogram: { sample_count: cum[cum.length - 1], bucket: bounds.map((upper_bound, i) => ({ upper_bound, cumulative_count: cum[i] })) } }],
});

describe('MetricsStreamState', () => {
  it('since-start counters: the first value is a baseline, then deltas; a value below the last one is a restart', () => {
    const state = new MetricsStreamState({ counters: 'cumulative', histograms: 'interval', defaultIntervalMs: 10_000 });
    const flush = (ok: number, failed: number, at: number) => state.ingest([family('cluster.c.upstream_rq_2xx', ok), family('cluster.c.upstream_rq_5xx', failed)], at);
    expect(flush(500, 50, 1_000)).toEqual([]);
    expect(flush(560, 51, 2_000)).toEqual([{ cluster: 'c', source: 'metrics', at: 2_000, intervalMs: 1_000, successes: 60, errors: 1, issued: 61, dropped: 0 }]);
    expect(flush(560, 51, 3_000)).toEqual([]); // nothing happened
    expect(flush(8, 2, 4_000)).toMatchObject([{ successes: 8, errors: 2 }]); // restarted: 8 and 2 since
    expect(flush(10, 2, 5_000)).toMatchObject([{ successes: 2, errors: 0 }]);
  });

  it('delta counters are taken as sent, the total counter as issued', () => {
    const state = new MetricsStreamState({ counters: 'delta', histograms: 'interval', defaultIntervalMs: 7_000 });
    expect(state.ingest([family('cluster.c.upstream_rq_2xx', 5), family('cluster.c.upstream_rq_total', 9)], 100)).toEqual([{ cluster: 'c', source: 'metrics', at: 100, intervalMs: 7_000, successes: 5, errors: 0, issued: 9, dropped: 0 }]);
    expect(state.ingest([family('cluster.c.upstream_rq_2xx', 5)], 600)).toMatchObject([{ successes: 5, intervalMs: 500 }]);
  });

  it('interval histograms are taken as sent; the SUMMARY twin is not a histogram', () => {
    const state = new MetricsStreamState({ counters: 'delta', histograms: 'interval', defaultIntervalMs: 1 });
    const summary: MetricFamily = { name: 'cluster.c.upstream_rq_time', type: 'SUMMARY', metric: [{ histogram: { sample_count: 1000, bucket: [{ upper_bound: 1, cumulative_count: 1000 }] } }] };
    expect(state.ingest([summary, hist('cluster.c.upstream_rq_time', [2, 5])], 1)[0].latency).toEqual({ bounds: [1, 10], counts: [2, 3, 0] });
    expect(state.ingest([hist('cluster.c.upstream_rq_time', [1, 2])], 2)[0].latency).toEqual({ bounds: [1, 10], counts: [1, 1, 0] });
  });

  it('since-start histograms: a baseline, then per-bucket deltas; a bucket below the last is a restart, new bounds start over', () => {
    const state = new MetricsStreamState({ counters: 'delta', histograms: 'cumulative', defaultIntervalMs: 1 });
    expect(state.ingest([hist('cluster.c.upstream_rq_time', [2, 5])], 1)).toEqual([]);
    expect(state.ingest([hist('cluster.c.upstream_rq_time', [3, 9])], 2)[0].latency).toEqual({ bounds: [1, 10], counts: [1, 3, 0] });
    expect(state.ingest([hist('cluster.c.upstream_rq_time', [1, 1])], 3)[0].latency).toEqual({ bounds: [1, 10], counts: [1, 0, 0] });
    expect(state.ingest([hist('cluster.c.upstream_rq_time', [1, 2, 4], [1, 5, 10])], 4)[0].latency).toEqual({ bounds: [1, 5, 10], counts: [1, 1, 2, 0] });
  });
});
