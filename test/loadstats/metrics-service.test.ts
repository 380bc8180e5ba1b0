/**
 * Envoy's metrics service end to end: a scripted sink speaking Envoy's protos sends two stats flushes
 * to `banyan serve`, as an Envoy with Banyan's bootstrap does (tags as labels, counters as deltas,
 * each flush's histogram). Banyan stores a sample per flush and cluster with the histogram per bucket,
 * ignores the SUMMARY twin, other response classes, sub-scopes and unrelated stats, and
 * BanyanMetricSource's p99 and success rate come from the two flushes together.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanMetricSource } from '../../src/rollout/analysis/banyan-source.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { counterFamily, ENVOY_BUCKETS, envoySink, gaugeFamily, histogramFamily, summaryFamily, type EnvoySink } from './envoy-sink.js';

const YAML = `
listeners:
  - name: edge
    port: 10000
    hosts:
      - domains: ["*"]
        routes:
          - { name: split, match: { prefix: / }, to: [{ cluster: orders-v1, weight: 50 }, { cluster: orders-v2, weight: 50 }] }
clusters:
  - { name: orders-v1, endpoints: [127.0.0.1:1] }
  - { name: orders-v2, endpoints: [127.0.0.1:2] }
`;

const v2 = { 'envoy.cluster_name': 'orders-v2' };
/** Cumulative (`le`) counts per bound of ENVOY_BUCKETS, up to 100 ms; the rest repeat the last. */
const FLUSH_1 = [0, 0, 10, 50, 90, 98, 100];
const FLUSH_2 = [0, 0, 20, 60, 150, 190, 200];
/** The same per bucket: what lands in (0.5,1], (1,5], (5,10], (10,25], (25,50], (50,100]; then zeros and the overflow. */
const perBucket = (cum: number[]) => [...ENVOY_BUCKETS.map((_, i) => (cum[Math.min(i, cum.length - 1)] ?? 0) - (i ? (cum[Math.min(i - 1, cum.length - 1)] ?? 0) : 0)), 0];

function flush(cumulative: number[], ok: number, failed: number, timestampMs: number): object[] {
  return [
    gaugeFamily('server.uptime', 42),
    summaryFamily('cluster.upstream_rq_time', v2),
    histogramFamily('cluster.upstream_rq_time', cumulative, { labels: v2, timestampMs }),
    counterFamily('cluster.upstream_rq_xx', ok, { ...v2, 'envoy.response_code_class': '2' }, timestampMs),
    counterFamily('cluster.upstream_rq_xx', failed, { ...v2, 'envoy.response_code_class': '5' }, timestampMs),
    counterFamily('cluster.upstream_rq_xx', 7, { ...v2, 'envoy.response_code_class': '4' }, timestampMs),
    counterFamily('cluster.external.upstream_rq_xx', 1000, { ...v2, 'envoy.response_code_class': '5' }, timestampMs),
    counterFamily('cluster.upstream_cx_total', 3, v2, timestampMs),
  ];
}

describe('metrics service from an Envoy-style sink', () => {
  let b: TestBanyan;
  let sink: EnvoySink;
  let startedAt: number;

  beforeAll(async () => {
    startedAt = Date.now();
    b = await startTestBanyan(YAML);
    sink = await envoySink(`127.0.0.1:${b.banyan.ports.xds}`);
  }, 300_000);

  afterAll(async () => {
    sink?.close();
    await b?.stop();
  });

  it('stores a sample per flush: the histogram per bucket, 2xx as successes, 5xx as errors', async () => {
    const t0 = Date.now();
    const stream = sink.open();
    stream.send({ identifier: { node: { id: 'envoy-1', cluster: 'edge' } }, envoy_metrics: flush(FLUSH_1, 95, 5, t0) });
    const first = await eventually(async () => {
      const s = await b.banyan.store.listLoadSamples(['orders-v2'], startedAt, Date.now());
      expect(s).toHaveLength(1);
      return s[0];
    });
    expect(first).toMatchObject({ cluster: 'orders-v2', source: 'metrics', node: 'envoy-1', replica: b.banyan.replica, successes: 95, errors: 5, issued: 100, dropped: 0, intervalMs: 10_000 });
    expect(first.latency).toEqual({ bounds: ENVOY_BUCKETS, counts: perBucket(FLUSH_1) });

    // Envoy sends its node on the first message only; the second flush comes 5 s of Envoy's clock later.
    stream.send({ envoy_metrics: flush(FLUSH_2, 190, 10, t0 + 5_000) });
    const second = await eventually(async () => {
      const s = await b.banyan.store.listLoadSamples(['orders-v2'], startedAt, Date.now());
      expect(s).toHaveLength(2);
      return s[1];
    });
    // each flush's histogram is that interval's: taken as sent, not differenced against the first
    expect(second).toMatchObject({ node: 'envoy-1', successes: 190, errors: 10, intervalMs: 5_000 });
    expect(second.latency).toEqual({ bounds: ENVOY_BUCKETS, counts: perBucket(FLUSH_2) });
    await stream.end();
    expect(await b.banyan.store.listLoadSamples(['orders-v1'], startedAt, Date.now())).toEqual([]);
  });

  it("BanyanMetricSource: p99 and the success rate over both flushes (no LRS samples: the counters count)", async () => {
    const source = new BanyanMetricSource(b.banyan.store);
    const window = { from: startedAt, to: Date.now() };
    // 300 observations: (1,5] 30, (5,10] 80, (10,25] 130, (25,50] 48, (50,100] 12. Rank 297 is the
    // 9th of the 12 in (50,100]: 50 + 50 · 9/12 = 87.5.
    expect(await source.measure({ metric: 'latency', percentile: 99, clusters: ['orders-v2'], window, route: 'split' })).toMatchObject({ value: 87.5, samples: 300 });
    // rank 150 is the 40th of the 130 in (10,25]
    const p50 = await source.measure({ metric: 'latency', percentile: 50, clusters: ['orders-v2'], window, route: 'split' });
    expect(p50.value).toBeCloseTo(10 + 15 * (40 / 130), 9);
    expect(await source.measure({ metric: 'success-rate', clusters: ['orders-v2'], window, route: 'split' })).toMatchObject({ value: (285 / 300) * 100, samples: 300 });
    expect(await source.measure({ metric: 'latency', clusters: ['orders-v1'], window, route: 'split' })).toMatchObject({ value: null, samples: 0 });
  });
});
