/**
 * Issue 10, end to end: analysis read from a real Prometheus. Prometheus scrapes (every 500 ms) an
 * exporter this test runs, which serves Envoy's own metric names for the route's two clusters:
 * orders-v1 (the baseline, always healthy) and orders-v2 (the canary, with as many 5xx per 100
 * responses as the test says). One `banyan serve` (embedded store) with `prometheusUrl` runs a
 * rollout whose only check is the canary's success rate from Prometheus: healthy, the step advances;
 * at 30% 5xx it rolls back to the starting weights (or, with onFailure: pause, freezes), with the
 * measured rate in the audit.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusMetricSource } from '../../src/rollout/analysis/prometheus.js';
import { servedWeights, startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { PrometheusServer } from '../support/prometheus.js';
import { adminCall, canaryRouteYaml, rolloutAudit, storedRollout, throwFirstRejection } from '../support/rollout-e2e.js';

const TOKEN = 'e2e-admin-token';
const ROUTE = 'orders';
const BASELINE = 'orders-v1';
const CANARY = 'orders-v2';

const YAML = canaryRouteYaml(ROUTE, BASELINE, CANARY);

const CHECK = { name: 'success-rate ≥ 99%', metric: 'success-rate', min: 99, source: 'prometheus' } as const;

/**
 * Envoy's counters per cluster and response class. Every scrape adds 100 responses per cluster, of
 * which `fivexx[cluster]` are 5xx: every series moves on the same scrapes, so a window's ratio is exact.
 * They start high, as on a long-running Envoy, so that increase() never extrapolates towards zero.
 */
class Exporter {
  readonly fivexx: Record<string, number> = { [BASELINE]: 0, [CANARY]: 0 };
  private readonly counters = new Map<string, number>();
  scrapes = 0;

  exposition(): string {
    this.scrapes += 1;
    const lines = ['# TYPE envoy_cluster_upstream_rq_xx counter'];
    for (const [cluster, bad] of Object.entries(this.fivexx)) {
      for (const [cls, n] of [
        ['2', 100 - bad],
        ['5', bad],
      ] as const) {
        const key = `${cluster}|${cls}`;
        const value = (this.counters.get(key) ?? (cls === '2' ? 1_000_000 : 10_000)) + n;
        this.counters.set(key, value);
        lines.push(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="${cls}",envoy_cluster_name="${cluster}"} ${value}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

describe('rollout analysis from a real Prometheus (Envoy metrics, one replica)', () => {
  const exporter = new Exporter();
  let metrics: http.Server | undefined;
  let prometheus: PrometheusServer | undefined;
  let t: TestBanyan | undefined;
  const startedAt = performance.now();

  beforeAll(async () => {
    metrics = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(exporter.exposition());
    });
    await new Promise<void>((resolve) => metrics!.listen(0, '127.0.0.1', resolve));
    prometheus = await PrometheusServer.start({ targets: [`127.0.0.1:${(metrics.address() as AddressInfo).port}`], scrapeIntervalSec: 0.5 });
    t = await startTestBanyan(YAML, { watch: false, adminToken: TOKEN, prometheusUrl: prometheus.url, rolloutPollMs: 200 });
    // Prometheus applies its targets ~5 s after start: wait until a 2 s window has the canary's traffic
    const source = new PrometheusMetricSource({ url: prometheus.url, timeoutMs: 2000 });
    await eventually(
      async () => {
        const now = Date.now();
        const m = await source.measure({ metric: 'success-rate', clusters: [CANARY], route: ROUTE, window: { from: now - 2000, to: now } });
        expect(m.value).toBe(100);
        expect(m.samples).toBeGreaterThanOrEqual(200);
      },
      20_000,
      200,
    );
  });

  afterAll(async () => {
    const results = await Promise.allSettled([
      t?.stop(),
      prometheus?.stop(),
      metrics &&
        new Promise<void>((resolve) => {
          metrics!.closeAllConnections();
          metrics!.close(() => resolve());
        }),
    ]);
    process.stderr.write(`rollout-prometheus.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown, ${exporter.scrapes} scrapes\n`);
    throwFirstRejection(results);
  });

  const banyan = () => t!.banyan;

  const api = (method: string, p: string, body?: unknown) => adminCall(banyan().ports.admin, TOKEN, method, p, body);
  const stored = (id: string) => storedRollout(banyan().store, id);
  const auditOf = (id: string, action: string) => rolloutAudit(banyan().store, id, { limit: 500, action, target: ROUTE });

  async function startRollout(steps: number[], onFailure: 'rollback' | 'pause'): Promise<string> {
    const res = await api('POST', '/api/v1/rollouts', {
      route: ROUTE,
      to: CANARY,
      steps,
      interval: 2000,
      author: 'alice',
      analysis: { checks: [CHECK], intervalMs: 2000, failureLimit: 2, onFailure },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.analysis).toMatchObject({ checks: [{ ...CHECK }], intervalMs: 2000, failureLimit: 2, onFailure });
    return res.body.id as string;
  }

  const weights = (v1: number, v2: number) => [
    { cluster: BASELINE, weight: v1 },
    { cluster: CANARY, weight: v2 },
  ];

  it('advances while the canary is healthy, and rolls back to the starting weights once it answers 30% 5xx, with the measured rate in the audit', async () => {
    // start from an override, so that the rollback has something to put back
    const shift = await api('PUT', `/api/v1/routes/${ROUTE}/weights`, { backends: weights(98, 2), author: 'e2e', reason: 'warm-up' });
    expect(shift.status, JSON.stringify(shift.body)).toBe(200);
    exporter.fivexx[CANARY] = 0;
    const id = await startRollout([10, 50, 100], 'rollback');

    // step 1 (10%) passes its analysis (100%, from Prometheus) and the rollout moves to 50%
    const second = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'running', currentStep: 1, percent: 50 });
      return r;
    }, 15_000);
    const firstRuns = second.log![0].analysis;
    expect(firstRuns.at(-1)).toMatchObject({ passed: true, results: [{ check: CHECK.name, passed: true, value: 100 }] });
    expect(firstRuns.at(-1)!.results[0].samples).toBeGreaterThanOrEqual(200);
    expect((await banyan().store.getOverride(ROUTE))?.backends).toEqual(weights(50, 50));

    // the canary turns bad: two failing runs at 50% roll back
    exporter.fivexx[CANARY] = 30;
    const done = await eventually(async () => {
      const r = await stored(id);
      expect(r.state).toBe('rolled-back');
      return r;
    }, 15_000);
    expect(done.percent).toBe(50);

    const [rollback] = await auditOf(id, 'rollout.rollback');
    expect(rollback, 'a rollout.rollback audit entry').toBeDefined();
    expect(rollback.details).toMatchObject({ step: 2, percent: 50, passed: false, failures: 2, of: 2, weights: weights(98, 2) });
    const [result] = rollback.details.results as { check: string; value: number; passed: boolean; samples: number; threshold: string }[];
    expect(result).toMatchObject({ check: CHECK.name, passed: false, threshold: '≥ 99%' });
    // the second failing run's window holds only bad scrapes: exactly 70 (in a tolerance for scrape timing)
    expect(result.value).toBeGreaterThan(69);
    expect(result.value).toBeLessThan(71);
    expect(result.samples).toBeGreaterThanOrEqual(200);
    const reason = String(rollback.details.reason);
    expect(reason).toContain(`analysis failed 2 times at step 2 (50%): ${CHECK.name}: ${result.value} (needs ≥ 99%)`);
    expect(done.endReason).toBe(reason);

    // the starting override is back and served
    expect(await banyan().store.getOverride(ROUTE)).toMatchObject({ backends: weights(98, 2), author: 'admin (as e2e)', reason: 'warm-up' });
    await eventually(() => expect(servedWeights(banyan(), ROUTE)).toBe(`${BASELINE}=98,${CANARY}=2`));
  });

  it('with onFailure: pause, freezes the step instead (paused, hold kind analysis, weights kept)', async () => {
    exporter.fivexx[CANARY] = 30;
    const id = await startRollout([10, 100], 'pause');
    const frozen = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'paused', hold: { kind: 'analysis', auto: false } });
      return r;
    }, 15_000);
    expect(frozen).toMatchObject({ percent: 10, currentStep: 0, failures: 2 });
    expect(frozen.hold!.message).toMatch(/^analysis failed 2 times at step 1 \(10%\): success-rate ≥ 99%: (\d+(\.\d+)?) \(needs ≥ 99%\)$/);
    const [freeze] = await auditOf(id, 'rollout.freeze');
    expect(freeze, 'a rollout.freeze audit entry').toBeDefined();
    const [result] = freeze.details.results as { value: number; passed: boolean }[];
    expect(result.passed).toBe(false);
    expect(result.value).toBeGreaterThan(69);
    expect(result.value).toBeLessThan(71);
    expect(frozen.hold!.message).toContain(`: ${result.value} (needs`);
    // frozen, not rolled back: the step's weights stay (10% of the 98/2 start)
    expect((await banyan().store.getOverride(ROUTE))?.backends).toEqual(weights(90, 10));
    expect(servedWeights(banyan(), ROUTE)).toBe(`${BASELINE}=90,${CANARY}=10`);
    expect(await auditOf(id, 'rollout.rollback')).toEqual([]);
  });
});
