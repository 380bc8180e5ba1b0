/**
 * Acceptance, end to end: a canary 200 ms slower at p99 than its baseline, measured from Banyan's own
 * numbers (the metrics-service path). One `banyan serve` (embedded store) and a scripted Envoy-style
 * stats sink (test/loadstats/envoy-sink.ts: Envoy's own protos and client_model's) streaming to its
 * xDS port as an Envoy with the metrics_service sink does: the node on the first message, then every
 * ~300 ms a flush with each cluster's interval histogram `cluster.<name>.upstream_rq_time` (and its
 * SUMMARY twin), and the flush's upstream_rq_2xx/5xx/total as deltas. A rollout started through the
 * admin API checks the canary's p99 against the baseline's (≤ 100 ms above) and against 400 ms:
 * both clusters at p99 97.5 ms → the step advances; the canary at p99 300 ms → rolled back to the
 * YAML's weights with both percentiles in the rollout.rollback audit entry, or with onFailure: pause,
 * frozen at the step's weights (and left frozen while the slow canary keeps reporting). Last, a
 * step's runs must together count every flush sent in their windows: today they miss the samples
 * still waiting in the SampleWriter's batch when a run reads the store (src/rollout/runner.ts
 * analyse(): the window ends at `now`, the next starts there), so that test fails.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/store/types.js';
import { counterFamily, ENVOY_BUCKETS, envoySink, gaugeFamily, histogramFamily, summaryFamily, type EnvoySink, type SinkStream } from '../loadstats/envoy-sink.js';
import { servedWeights, startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { adminCall, canaryRouteYaml, rolloutAudit, storedRollout, throwFirstRejection } from '../support/rollout-e2e.js';

const TOKEN = 'e2e-admin-token';
const ROUTE = 'orders';
const BASELINE = 'orders-v1';
const CANARY = 'orders-v2';
const NODE = 'edge-envoy-1';
/** Envoy's stats flush interval, as this test drives it. */
const FLUSH_EVERY_MS = 300;
const ANALYSIS_INTERVAL_MS = 1000;
/** Longer than two analysis runs: a step whose runs fail is judged before it could advance. */
const STEP_INTERVAL_MS = 3000;

const YAML = canaryRouteYaml(ROUTE, BASELINE, CANARY);

const CHECKS = [
  { name: 'p99 vs baseline', metric: 'latency', percentile: 99, vsBaseline: true, max: 100, source: 'banyan' },
  { name: 'p99', metric: 'latency', percentile: 99, max: 400, source: 'banyan' },
] as const;

/** One flush's upstream_rq_time per bucket: observations in (previous bound, bound] of ENVOY_BUCKETS. */
type Profile = Readonly<Record<number, number>>;
/** 1000 requests a flush, rank 990 is the 190th of the 200 in (50,100]: 50 + 50 · 190/200 = 97.5 ms. */
const FAST: Profile = { 25: 200, 50: 600, 100: 200 };
/** 1000 requests a flush, rank 990 is the 2nd of the 10 in (250,500]: 250 + 250 · 2/10 = 300 ms. */
const SLOW: Profile = { 25: 200, 50: 600, 100: 188, 500: 10, 1000: 2 };

const total = (p: Profile) => Object.values(p).reduce((a, b) => a + b, 0);
/** The profile as Envoy's sink writes buckets: cumulative across bounds (`le`). */
function cumulative(p: Profile): number[] {
  let below = 0;
  return ENVOY_BUCKETS.map((b) => (below += p[b] ?? 0));
}
/** A rough sample_sum: each observation at its bucket's middle (Banyan reads the buckets only). */
const roughSum = (p: Profile) => ENVOY_BUCKETS.reduce((s, b, i) => s + (p[b] ?? 0) * ((b + (i ? ENVOY_BUCKETS[i - 1] : 0)) / 2), 0);

/**
 * The test's own oracle: the q-quantile of any number of flushes of `p` as Prometheus'
 * histogram_quantile gives it (the bucket the rank falls in, linear inside it, the first from 0).
 * Every flush is the same profile, so this is the value whatever the number of flushes in a window.
 */
function expectedQuantile(q: number, p: Profile): number {
  const rank = q * total(p);
  let below = 0;
  let lower = 0;
  for (const bound of ENVOY_BUCKETS) {
    const n = p[bound] ?? 0;
    if (n && below + n >= rank) return lower + (bound - lower) * ((rank - below) / n);
    below += n;
    lower = bound;
  }
  throw new Error('rank above the last bound');
}
const P99_FAST = expectedQuantile(0.99, FAST);
const P99_SLOW = expectedQuantile(0.99, SLOW);

/**
 * The scripted Envoy: one MetricsService stream, a flush every FLUSH_EVERY_MS of whatever `latency`
 * says each cluster answers now, until stop() (which half-closes and waits for Banyan's answer).
 */
class EnvoyFlushLoop {
  readonly latency: Record<string, Profile> = { [BASELINE]: FAST, [CANARY]: FAST };
  flushes = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stream: SinkStream;
  private readonly running: Promise<void>;

  constructor(sink: EnvoySink) {
    this.stream = sink.open();
    this.running = this.run();
  }

  private message(): object {
    const at = Date.now();
    const families: object[] = [gaugeFamily('server.uptime', 3600 + this.flushes)];
    for (const [cluster, p] of Object.entries(this.latency)) {
      const name = `cluster.${cluster}.upstream_rq_time`;
      families.push(
        summaryFamily(name),
        histogramFamily(name, cumulative(p), { timestampMs: at, sum: roughSum(p) }),
        counterFamily(`cluster.${cluster}.upstream_rq_2xx`, total(p), {}, at),
        counterFamily(`cluster.${cluster}.upstream_rq_5xx`, 0, {}, at),
        counterFamily(`cluster.${cluster}.upstream_rq_total`, total(p), {}, at),
      );
    }
    // Envoy names its node on a stream's first message only
    return { ...(this.flushes === 0 ? { identifier: { node: { id: NODE, cluster: 'edge' } } } : {}), envoy_metrics: families };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.stream.send(this.message());
      this.flushes += 1;
      // Envoy's flush timer (not a synchronisation: nothing waits on it but the next flush)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, FLUSH_EVERY_MS);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.running;
    await this.stream.end();
  }
}

describe('rollout analysis of p99 latency from the metrics service (Envoy-style sink, one replica)', () => {
  let t: TestBanyan | undefined;
  let sink: EnvoySink | undefined;
  let envoy: EnvoyFlushLoop | undefined;
  const startedAt = performance.now();
  let flushes = 0;
  /** What the route served before any rollout: the YAML's weights. */
  let yamlWeights = '';

  beforeAll(async () => {
    expect(P99_FAST).toBeCloseTo(97.5, 9);
    expect(P99_SLOW).toBeCloseTo(300, 9);
    t = await startTestBanyan(YAML, { watch: false, adminToken: TOKEN, rolloutPollMs: 100, analysisSettleMs: 250 });
    sink = await envoySink(`127.0.0.1:${t.banyan.ports.xds}`);
    yamlWeights = servedWeights(t.banyan, ROUTE);
    expect(yamlWeights).toMatch(new RegExp(`^${BASELINE}=100(,${CANARY}=0)?$`));
  }, 300_000);

  beforeEach(async () => {
    const since = Date.now();
    envoy = new EnvoyFlushLoop(sink!);
    // the flushes arrive as samples: both clusters, from the node, each flush's buckets as sent
    await eventually(async () => {
      for (const cluster of [BASELINE, CANARY]) {
        // the newest: a flush of the previous test may still have been written after `since`
        const s = (await banyan().store.listLoadSamples([cluster], since, Date.now())).at(-1)!;
        expect(s, `a sample of ${cluster}`).toMatchObject({ source: 'metrics', node: NODE, successes: 1000, errors: 0, issued: 1000 });
        expect(s.latency).toEqual({ bounds: ENVOY_BUCKETS, counts: [...ENVOY_BUCKETS.map((b) => FAST[b] ?? 0), 0] });
      }
    });
  });

  afterEach(async () => {
    flushes += envoy?.flushes ?? 0;
    await envoy?.stop();
    envoy = undefined;
  });

  afterAll(async () => {
    const results = await Promise.allSettled([Promise.resolve().then(() => sink?.close()), t?.stop()]);
    process.stderr.write(`rollout-latency.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown, ${flushes} flushes\n`);
    throwFirstRejection(results);
  });

  const banyan = () => t!.banyan;

  const api = (method: string, p: string, body?: unknown) => adminCall(banyan().ports.admin, TOKEN, method, p, body);
  const stored = (id: string) => storedRollout(banyan().store, id);
  const auditOf = (id: string, action: string) => rolloutAudit(banyan().store, id, { limit: 1000, action, target: ROUTE });

  async function startRollout(onFailure: 'rollback' | 'pause'): Promise<string> {
    const res = await api('POST', '/api/v1/rollouts', {
      route: ROUTE,
      to: CANARY,
      steps: [10, 50, 100],
      interval: STEP_INTERVAL_MS,
      author: 'alice',
      analysis: { checks: CHECKS, intervalMs: ANALYSIS_INTERVAL_MS, failureLimit: 2, onFailure },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.analysis).toMatchObject({ checks: CHECKS, intervalMs: ANALYSIS_INTERVAL_MS, failureLimit: 2, onFailure });
    return res.body.id as string;
  }

  const weights = (v1: number, v2: number) => [
    { cluster: BASELINE, weight: v1 },
    { cluster: CANARY, weight: v2 },
  ];

  /** Phase 1: both clusters at P99_FAST, step 1 (10%) passes and the rollout moves to 50%; then the canary turns slow. */
  async function passStepOneThenSlowDown(id: string): Promise<void> {
    const second = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'running', currentStep: 1, percent: 50 });
      return r;
    }, 20_000);
    envoy!.latency[CANARY] = SLOW;

    const run = second.log![0].analysis.at(-1)!;
    expect(run.passed).toBe(true);
    const [vs, abs] = run.results as CheckResult[];
    expect(vs).toMatchObject({ check: 'p99 vs baseline', passed: true, threshold: 'above baseline ≤ 100ms' });
    expect(vs.value).toBeCloseTo(P99_FAST, 2);
    expect(vs.baseline).toBeCloseTo(P99_FAST, 2);
    expect(abs).toMatchObject({ check: 'p99', passed: true, threshold: '≤ 400ms' });
    expect(abs.value).toBeCloseTo(P99_FAST, 2);
    // at least one flush of 1000 requests (how many: see the last test)
    expect(vs.samples).toBeGreaterThanOrEqual(1000);
    expect(vs.samples % 1000).toBe(0);
    expect((await banyan().store.getOverride(ROUTE))?.backends).toEqual(weights(50, 50));
    await eventually(() => expect(servedWeights(banyan(), ROUTE)).toBe(`${BASELINE}=50,${CANARY}=50`));
  }

  /** The failing run's results: the canary at P99_SLOW (fails vs the baseline, passes ≤ 400), the baseline at P99_FAST. */
  function expectSlowCanary(results: CheckResult[]): void {
    const [vs, abs] = results;
    expect(vs).toMatchObject({ check: 'p99 vs baseline', passed: false, threshold: 'above baseline ≤ 100ms' });
    expect(vs.value).toBeCloseTo(P99_SLOW, 2);
    expect(vs.baseline).toBeCloseTo(P99_FAST, 2);
    expect(vs.samples).toBeGreaterThanOrEqual(1000);
    expect(vs.samples % 1000).toBe(0);
    expect(abs).toMatchObject({ check: 'p99', passed: true, threshold: '≤ 400ms' });
    expect(abs.value).toBeCloseTo(P99_SLOW, 2);
  }

  const failedReason = (results: CheckResult[]) =>
    `analysis failed 2 times at step 2 (50%): p99 vs baseline: ${results[0].value} vs baseline ${results[0].baseline} (needs above baseline ≤ 100ms)`;

  it('advances while the canary is as fast as the baseline, and rolls back once it is 200 ms slower at p99, with both p99s in the audit', async () => {
    const id = await startRollout('rollback');
    await passStepOneThenSlowDown(id);

    const done = await eventually(async () => {
      const r = await stored(id);
      expect(r.state).toBe('rolled-back');
      return r;
    }, 15_000);
    expect(done).toMatchObject({ percent: 50, currentStep: 1 });

    const [rollback, ...more] = await auditOf(id, 'rollout.rollback');
    expect(rollback, 'a rollout.rollback audit entry').toBeDefined();
    expect(more).toEqual([]);
    expect(rollback.details).toMatchObject({ step: 2, percent: 50, passed: false, failures: 2, of: 2 });
    const results = rollback.details.results as CheckResult[];
    expectSlowCanary(results);
    // the rollback names the failed check only (the absolute p99 passed), with both percentiles
    expect(rollback.details.reason).toBe(failedReason(results));
    expect(done.endReason).toBe(failedReason(results));
    // the window the failing run measured is this step's, and follows on from the run before it
    const window = rollback.details.window as { from: number; to: number };
    expect(window.from).toBeGreaterThanOrEqual(done.log![1].syncedAt!);
    const runs = done.log![1].analysis;
    expect(runs.at(-1)).toMatchObject({ from: window.from, to: window.to });
    expect(runs.at(-2)?.to).toBe(window.from);

    // no override was there at the start: the YAML's weights are served again
    expect(await banyan().store.getOverride(ROUTE)).toBeUndefined();
    await eventually(() => expect(servedWeights(banyan(), ROUTE)).toBe(yamlWeights));
  });

  it('with onFailure: pause, freezes at the step instead (paused, hold kind analysis, weights kept) and stays frozen', async () => {
    const id = await startRollout('pause');
    await passStepOneThenSlowDown(id);

    const frozen = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'paused', hold: { kind: 'analysis', auto: false } });
      return r;
    }, 15_000);
    expect(frozen).toMatchObject({ percent: 50, currentStep: 1, failures: 2, nextAnalysisAt: null });
    const [freeze, ...more] = await auditOf(id, 'rollout.freeze');
    expect(freeze, 'a rollout.freeze audit entry').toBeDefined();
    expect(more).toEqual([]);
    expect(freeze.details).toMatchObject({ step: 2, percent: 50, passed: false, failures: 2, of: 2 });
    const results = freeze.details.results as CheckResult[];
    expectSlowCanary(results);
    expect(frozen.hold!.message).toBe(failedReason(results));
    expect((await banyan().store.getOverride(ROUTE))?.backends).toEqual(weights(50, 50));
    expect(servedWeights(banyan(), ROUTE)).toBe(`${BASELINE}=50,${CANARY}=50`);

    // the slow canary keeps reporting for two more analysis intervals: nothing more is judged or moved
    const since = frozen.hold!.since + 2 * ANALYSIS_INTERVAL_MS;
    await eventually(async () => expect((await banyan().store.listLoadSamples([CANARY], since, Date.now())).length).toBeGreaterThan(0), 10_000);
    expect(await stored(id)).toMatchObject({ state: 'paused', percent: 50, currentStep: 1, revision: frozen.revision, hold: { kind: 'analysis' } });
    expect((await auditOf(id, 'rollout.analysis')).filter((e) => e.at > frozen.hold!.since)).toEqual([]);
    expect(await auditOf(id, 'rollout.rollback')).toEqual([]);
    expect((await banyan().store.getOverride(ROUTE))?.backends).toEqual(weights(50, 50));
    expect(servedWeights(banyan(), ROUTE)).toBe(`${BASELINE}=50,${CANARY}=50`);
  });

  it("a step's analysis runs count every flush the sink sent in their windows (none still on its way to the store, none between two runs)", async () => {
    // the frozen rollout of the previous test is left behind by a new one only once it ended
    const [paused] = (await banyan().store.listRollouts({ route: ROUTE, limit: 5 })).filter((r) => r.state === 'paused');
    if (paused) expect((await api('POST', `/api/v1/rollouts/${paused.id}/abort`, { author: 'e2e' })).status).toBe(200);
    const id = await startRollout('rollback');
    const runs = await eventually(async () => {
      // step 1's runs, once the rollout moved on (all of them: fewer than the 5 a step keeps)
      const r = await stored(id);
      expect(r.currentStep).toBeGreaterThanOrEqual(1);
      const step = r.log![0];
      expect(step.analysis.length).toBeGreaterThanOrEqual(2);
      return step.analysis;
    }, 20_000);
    // a sample ingested after the last window is stored only once every earlier one is (one writer, in order)
    const last = runs.at(-1)!;
    await eventually(async () => expect((await banyan().store.listLoadSamples([CANARY], last.to, Date.now())).length).toBeGreaterThan(0));

    const counted: string[] = [];
    const inStore: string[] = [];
    for (const run of runs) {
      const stored = (await banyan().store.listLoadSamples([CANARY], run.from, run.to)).reduce((n, s) => n + (s.latency?.counts.reduce((a, b) => a + b, 0) ?? 0), 0);
      counted.push(`(${run.from}, ${run.to}]: ${run.results[0].samples}`);
      inStore.push(`(${run.from}, ${run.to}]: ${stored}`);
    }
    expect(counted, 'requests each run counted vs those the store holds for its window').toEqual(inStore);
    // and the runs' windows adjoin: what the sink sent from the first run's start to the last run's end, all counted
    const all = (await banyan().store.listLoadSamples([CANARY], runs[0].from, last.to)).length * total(FAST);
    expect(runs.reduce((n, r) => n + r.results[0].samples, 0), 'requests counted by all runs vs sent over their span').toBe(all);
  });
});
