/**
 * BanyanMetricSource's percentile is Prometheus' histogram_quantile: a real Prometheus evaluates
 * histogram_quantile over the same buckets (built in PromQL from constant vectors, no scrape needed)
 * for seeded random histograms and the corners (empty buckets, a rank in the overflow, the first
 * bucket, q at 0 and 1), and both answers agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../src/rollout/analysis/banyan-source.js';
import { PrometheusServer } from '../support/prometheus.js';

/** mulberry32: a small seeded PRNG, so a failure names a reproducible histogram. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  name: string;
  q: number;
  bounds: number[];
  /** Per bucket, the overflow last. */
  counts: number[];
}

/** histogram_quantile over constant series: one per bound (cumulative), and +Inf holding the total. */
function promql(c: Case): string {
  let cum = 0;
  const series = c.bounds.map((b, i) => {
    cum += c.counts[i];
    return `label_replace(vector(${cum}), "le", "${b}", "", "")`;
  });
  cum += c.counts[c.bounds.length];
  series.push(`label_replace(vector(${cum}), "le", "+Inf", "", "")`);
  return `histogram_quantile(${c.q}, ${series.join(' or ')})`;
}

const ENVOY = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

function cases(): Case[] {
  const out: Case[] = [
    { name: 'rank in the overflow', q: 0.99, bounds: [10, 20], counts: [1, 1, 98] },
    { name: 'empty buckets before and after', q: 0.5, bounds: [1, 2, 4, 8], counts: [0, 0, 6, 0, 0] },
    { name: 'first bucket', q: 0.3, bounds: [5, 50], counts: [10, 10, 0] },
    { name: 'q = 1', q: 1, bounds: [1, 2, 3], counts: [1, 1, 1, 0] },
    { name: 'rank on a bucket edge', q: 0.5, bounds: [1, 2, 3], counts: [1, 1, 2, 0] },
  ];
  const rand = prng(20_261_202);
  for (let i = 0; i < 40; i++) {
    const width = 1 + Math.floor(rand() * ENVOY.length);
    const start = Math.floor(rand() * (ENVOY.length - width + 1));
    const bounds = ENVOY.slice(start, start + width);
    const counts: number[] = [...bounds.map(() => (rand() < 0.3 ? 0 : Math.floor(rand() * 1000))), rand() < 0.7 ? 0 : Math.floor(rand() * 20)];
    if (!counts.some((c) => c > 0)) counts[0] = 1;
    const q = [0.5, 0.9, 0.95, 0.99, 0.999][Math.floor(rand() * 5)];
    out.push({ name: `random #${i}`, q, bounds, counts });
  }
  return out;
}

describe("histogramQuantile agrees with Prometheus' histogram_quantile", () => {
  let prom: PrometheusServer;
  beforeAll(async () => {
    prom = await PrometheusServer.start({ targets: [] });
  }, 60_000);
  afterAll(() => prom?.stop());

  it.each(cases())('$name', async (c) => {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(promql(c))}`);
    const body = (await res.json()) as { status: string; data: { result: { value: [number, string] }[] } };
    expect(body.status).toBe('success');
    expect(body.data.result).toHaveLength(1);
    const theirs = Number(body.data.result[0].value[1]);
    expect(histogramQuantile(c.q, c.bounds, c.counts)).toBeCloseTo(theirs, 9);
  });
});
