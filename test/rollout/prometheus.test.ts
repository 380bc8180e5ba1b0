/**
 * PrometheusMetricSource against a real Prometheus, which scrapes (every second) an exporter this
 * test runs: Envoy's own metric names and labels, as Envoy's /stats/prometheus writes them, for
 *   - orders.v2 (the canary): 30% 5xx; 90% of requests in (25, 50] ms, 10% in (250, 500] ms;
 *   - orders-v2 (a decoy its name matches if the dot is not escaped): 0% 5xx, fast, 5× the traffic;
 *   - orders-v1 (the baseline): 0% 5xx (no 5xx series at all, as Envoy does), all in (5, 10] ms;
 *   - orders-idle: counters that never move (no traffic in any window).
 * Every scrape advances the moving counters by the same amounts, so ratios are exact.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterRegex, DEFAULT_TEMPLATES, PrometheusMetricSource, promDuration, renderQuery } from '../../src/rollout/analysis/prometheus.js';
import type { MetricQuery } from '../../src/rollout/analysis/source.js';
import { MetricSourceError } from '../../src/rollout/errors.js';
import { eventually } from '../support/eventually.js';
import { PrometheusServer } from '../support/prometheus.js';

const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

interface Traffic {
  /** Per scrape: responses by class. */
  perScrape: Record<string, number>;
  /** Per scrape: requests by the bucket upper bound they fall under. */
  latency: Record<number, number>;
  moving: boolean;
}

const CLUSTERS: Record<string, Traffic> = {
  'orders.v2': { perScrape: { '2': 70, '5': 30 }, latency: { 50: 90, 500: 10 }, moving: true },
  'orders-v2': { perScrape: { '2': 500 }, latency: { 1: 500 }, moving: true },
  'orders-v1': { perScrape: { '2': 100 }, latency: { 10: 100 }, moving: true },
  'orders-idle': { perScrape: { '2': 100 }, latency: { 10: 100 }, moving: false },
};

/** Prometheus text exposition of the clusters after `scrapes` scrapes. */
function exposition(scrapes: number): string {
  const lines = ['# TYPE envoy_cluster_upstream_rq_xx counter'];
  const times = (t: Traffic) => (t.moving ? scrapes : 1);
  for (const [name, t] of Object.entries(CLUSTERS))
    for (const [cls, n] of Object.entries(t.perScrape)) lines.push(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="${cls}",envoy_cluster_name="${name}"} ${n * times(t)}`);
  lines.push('# TYPE envoy_cluster_upstream_rq_time histogram');
  for (const [name, t] of Object.entries(CLUSTERS)) {
    const total = Object.values(t.latency).reduce((a, b) => a + b, 0) * times(t);
    for (const le of BUCKETS) {
      const below = Object.entries(t.latency).reduce((a, [ub, n]) => a + (Number(ub) <= le ? n : 0), 0) * times(t);
      lines.push(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${name}",le="${le}"} ${below}`);
    }
    lines.push(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${name}",le="+Inf"} ${total}`);
    lines.push(`envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="${name}"} ${total * 20}`);
    lines.push(`envoy_cluster_upstream_rq_time_count{envoy_cluster_name="${name}"} ${total}`);
  }
  lines.push('# TYPE banyan_test_route_info gauge', 'banyan_test_route_info{route="orders/api"} 7');
  return `${lines.join('\n')}\n`;
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function close(server: http.Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('PrometheusMetricSource against a real Prometheus scraping Envoy-named metrics', () => {
  let exporter: http.Server | undefined;
  let hanging: http.Server | undefined;
  let prometheus: PrometheusServer | undefined;
  let exporterPort = 0;
  let hangingPort = 0;
  let scrapes = 0;
  let source: PrometheusMetricSource;
  const t0 = Date.now();
  const startedAt = performance.now();

  const q = (over: Partial<MetricQuery> & { baseline?: string[] } = {}): MetricQuery & { baseline?: string[] } => ({
    metric: 'success-rate',
    clusters: ['orders.v2'],
    window: { from: t0, to: Date.now() },
    route: 'orders/api',
    ...over,
  });

  beforeAll(async () => {
    ({ server: exporter, port: exporterPort } = await listen((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      scrapes += 1;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(exposition(scrapes));
    }));
    ({ server: hanging, port: hangingPort } = await listen(() => {
      // never answers: the source's timeout has to end the request
    }));
    prometheus = await PrometheusServer.start({ targets: [`127.0.0.1:${exporterPort}`], scrapeIntervalSec: 1 });
    source = new PrometheusMetricSource({ url: prometheus.url, timeoutMs: 5_000 });
    // Enough scrapes in the window for increase() and rate() (two samples at least; three for margin),
    // and Prometheus answering with them.
    await eventually(
      async () => {
        expect(scrapes).toBeGreaterThanOrEqual(3);
        const m = await source.measure(q({ metric: 'requests' }));
        expect(m.value).toBeGreaterThanOrEqual(200);
      },
      30_000,
      200,
    );
  });
  afterAll(async () => {
    // Each step runs even if an earlier one throws: no Prometheus outlives the file.
    const results = await Promise.allSettled([prometheus?.stop(), close(exporter), close(hanging)]);
    process.stderr.write(`prometheus.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown, ${scrapes} scrapes\n`);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });

  it('success rate: ≈70% for the canary (its dotted name matches only itself), ≈100% for the baseline, which has no 5xx series', async () => {
    const canary = await source.measure(q());
    expect(canary.value).toBeGreaterThan(69);
    expect(canary.value).toBeLessThan(71);
    const baseline = await source.measure(q({ clusters: ['orders-v1'] }));
    expect(baseline.value).toBeCloseTo(100, 6);
    // samples: the requests over the window, measured by a second query
    expect(canary.samples).toBeGreaterThanOrEqual(200);
    expect(baseline.samples).toBeGreaterThanOrEqual(200);
    // two clusters together: 70 + 500 good of 600 per scrape
    const both = await source.measure(q({ clusters: ['orders.v2', 'orders-v2'] }));
    expect(both.value).toBeGreaterThan(94.5);
    expect(both.value).toBeLessThan(95.5);
  });

  it('latency: the canary p99 lands in its (250, 500] ms bucket, p50 in (25, 50]; the baseline p99 in (5, 10]', async () => {
    const p99 = await source.measure(q({ metric: 'latency', percentile: 99 }));
    expect(p99.value).toBeGreaterThan(250);
    expect(p99.value).toBeLessThanOrEqual(500);
    // histogram_quantile interpolates: 250 + 250 × (0.99 − 0.9) / 0.1
    expect(p99.value).toBeCloseTo(475, 0);
    const p50 = await source.measure(q({ metric: 'latency', percentile: 50 }));
    expect(p50.value).toBeGreaterThan(25);
    expect(p50.value).toBeLessThanOrEqual(50);
    const baseline = await source.measure(q({ metric: 'latency', percentile: 99, clusters: ['orders-v1'] }));
    expect(baseline.value).toBeGreaterThan(5);
    expect(baseline.value).toBeLessThanOrEqual(10);
    expect(p99.samples).toBeGreaterThan(0);
  });

  it('requests: the increase over the window, as value and samples', async () => {
    const m = await source.measure(q({ metric: 'requests', clusters: ['orders-v1'] }));
    expect(m.value).toBeGreaterThan(0);
    expect(m.samples).toBe(Math.round(m.value!));
    const canary = await source.measure(q({ metric: 'requests' }));
    // the decoy (5× the canary's traffic) is not counted
    expect(canary.value!).toBeLessThan(2 * m.value!);
  });

  it('evaluates at the window end: a window that ended before the first scrape has no data', async () => {
    const m = await source.measure(q({ metric: 'requests', window: { from: t0 - 60_000, to: t0 - 1_000 } }));
    expect(m).toMatchObject({ value: null, samples: 0 });
  });

  it('no series → null; no traffic (0/0, NaN) → null', async () => {
    for (const metric of ['success-rate', 'latency', 'requests'] as const) {
      const m = await source.measure(q({ metric, clusters: ['no-such-cluster'], percentile: 99 }));
      expect(m.value).toBeNull();
      expect(m.samples).toBe(0);
    }
    const idleRate = await source.measure(q({ clusters: ['orders-idle'] }));
    expect(idleRate.value).toBeNull();
    const idleLatency = await source.measure(q({ metric: 'latency', percentile: 99, clusters: ['orders-idle'] }));
    expect(idleLatency.value).toBeNull();
    expect(idleLatency.detail).toContain('NaN');
    const idleRequests = await source.measure(q({ metric: 'requests', clusters: ['orders-idle'] }));
    expect(idleRequests).toMatchObject({ value: 0, samples: 0 });
    const empty = await source.measure(q({ metric: 'promql', query: 'sum(envoy_cluster_upstream_rq_xx{envoy_cluster_name="no-such-cluster"})' }));
    expect(empty.value).toBeNull();
  });

  it('custom PromQL with {{cluster}}, {{baseline}}, {{route}} and {{window}}; a scalar is a value', async () => {
    // one window, a second in the past, for every query compared below: a scrape between two
    // queries must not change what they see
    const window = { from: t0, to: Date.now() - 1000 };
    const errors = await source.measure(
      q({ metric: 'promql', window, query: 'sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{cluster}}",envoy_response_code_class="5"}[{{window}}]))' }),
    );
    const requests = await source.measure(q({ metric: 'requests', window }));
    expect(errors.samples).toBe(0);
    expect(errors.value! / requests.value!).toBeGreaterThan(0.29);
    expect(errors.value! / requests.value!).toBeLessThan(0.31);
    const route = await source.measure(q({ metric: 'promql', query: 'sum(banyan_test_route_info{route="{{route}}"})' }));
    expect(route.value).toBe(7);
    const scalar = await source.measure(q({ metric: 'promql', query: 'scalar(sum(banyan_test_route_info{route="{{route}}"})) * 2' }));
    expect(scalar.value).toBe(14);
    const baseline = await source.measure(
      q({ metric: 'promql', window, baseline: ['orders-v1'], query: 'sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{baseline}}"}[{{window}}]))' }),
    );
    const baselineRequests = await source.measure(q({ metric: 'requests', window, clusters: ['orders-v1'] }));
    expect(baseline.value).toBeCloseTo(baselineRequests.value!, 0);
  });

  /** The error the promise rejects with, or fails the test. */
  async function rejection(p: Promise<unknown>): Promise<MetricSourceError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MetricSourceError);
    return err as MetricSourceError;
  }

  it('a bad query is a typed error (bad-input) naming the query and what Prometheus said', async () => {
    const template = 'sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{cluster}}"}[{{window}}])';
    const err = await rejection(source.measure(q({ metric: 'promql', query: template })));
    expect(err.code).toBe('bad-input');
    expect(err.query).toContain('envoy_cluster_name=~"orders\\\\.v2"');
    expect(err.message).toContain(err.query);
    expect(err.message).toContain('bad_data');
  });

  it('more than one series, or a range vector, is an error naming the query', async () => {
    const many = await rejection(source.measure(q({ metric: 'promql', query: 'envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{cluster}}"}' })));
    expect(many.code).toBe('bad-input');
    expect(many.message).toContain('2 series');
    expect(many.message).toContain('envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"orders\\\\.v2"}');
    const range = await rejection(source.measure(q({ metric: 'promql', query: 'banyan_test_route_info[30s]' })));
    expect(range.message).toContain('matrix');
    expect(range.message).toContain('banyan_test_route_info[30s]');
  });

  it('a variable it cannot fill is an error before any request', async () => {
    const err = await rejection(source.measure(q({ metric: 'promql', query: 'sum(x{c=~"{{baseline}}"})' })));
    expect(err.code).toBe('bad-input');
    expect(err.message).toContain('{{baseline}}');
    const unknown = await rejection(source.measure(q({ metric: 'promql', query: 'sum(x{c="{{canary}}"})' })));
    expect(unknown.message).toContain('unknown variable {{canary}}');
  });

  it('timeouts, unreachable and non-API answers are typed errors (bad-state) naming the query', async () => {
    const slow = new PrometheusMetricSource({ url: `http://127.0.0.1:${hangingPort}`, timeoutMs: 200 });
    const timeout = await rejection(slow.measure(q({ metric: 'requests' })));
    expect(timeout.code).toBe('bad-state');
    expect(timeout.message).toContain('no answer within 200ms');
    expect(timeout.message).toContain('sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"orders\\\\.v2"}');
    // the exporter is not Prometheus: 404, plain text
    const wrong = await rejection(new PrometheusMetricSource({ url: `http://127.0.0.1:${exporterPort}`, timeoutMs: 2_000 }).measure(q({ metric: 'requests' })));
    expect(wrong.code).toBe('bad-state');
    expect(wrong.message).toContain('HTTP 404');
    expect(wrong.message).toContain(wrong.query);
  });

  it('a path prefix in the URL is kept, and headers are sent', async () => {
    const seen: { url?: string; auth?: string }[] = [];
    const { server, port } = await listen((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '+Inf'] }] } }));
    });
    try {
      const s = new PrometheusMetricSource({ url: `http://127.0.0.1:${port}/prom`, timeoutMs: 2_000, headers: { Authorization: 'Bearer t' } });
      const m = await s.measure(q({ metric: 'latency', percentile: 99.9, window: { from: 1_000_000, to: 1_060_000 } }));
      expect(m.value).toBe(Infinity);
      expect(seen).toHaveLength(2);
      const u = new URL(seen[0].url!, 'http://x');
      expect(u.pathname).toBe('/prom/api/v1/query');
      expect(u.searchParams.get('time')).toBe('1060.000');
      expect(seen.map((s) => new URL(s.url!, 'http://x').searchParams.get('query'))).toContain(
        'histogram_quantile(0.999, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"orders\\\\.v2"}[60s])))',
      );
      expect(seen[0].auth).toBe('Bearer t');
    } finally {
      await close(server);
    }
  });
});

describe('PromQL templates (no server)', () => {
  const base: MetricQuery = { metric: 'promql', clusters: ['a.b', 'c'], window: { from: 0, to: 90_000 }, route: 'api/"x"' };

  it('{{cluster}} is an escaped RE2 alternation inside a double-quoted string; {{window}} a Prometheus duration', () => {
    expect(clusterRegex(['a.b', 'c+d', 'e'])).toBe('a\\\\.b|c\\\\+d|e');
    expect(renderQuery('x{c=~"{{cluster}}",r="{{ route }}"}[{{window}}]', base)).toBe('x{c=~"a\\\\.b|c",r="api/\\"x\\""}[90s]');
    expect(promDuration(1500)).toBe('1500ms');
    expect(promDuration(60_000)).toBe('60s');
  });

  it('the default templates read Envoy metric names', () => {
    expect(DEFAULT_TEMPLATES['success-rate']).toContain('envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{cluster}}",envoy_response_code_class="5"}');
    expect(DEFAULT_TEMPLATES.latency).toContain('envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"{{cluster}}"}');
  });

  it('an empty window or no clusters is refused', () => {
    expect(() => renderQuery('{{window}}', { ...base, window: { from: 5, to: 5 } })).toThrow(MetricSourceError);
    expect(() => renderQuery('{{cluster}}', { ...base, clusters: [] })).toThrow(MetricSourceError);
  });
});
