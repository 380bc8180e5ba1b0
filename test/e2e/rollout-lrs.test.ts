/**
 * Rollouts gated on the fleet and analysed from LRS, end to end with real clients: two `banyan serve`
 * replicas on one real PostgreSQL; @grpc/grpc-js-xds (in this process) bootstraps from replica A,
 * grpc-go's xDS client (test/go/xdsclient) from replica B; each drives steady traffic through Banyan
 * to a baseline and a canary echo backend and reports its load over LRS to the replica it talks to.
 *
 * - a healthy canary completes: every step is taken only after the previous one was ACKed by both
 *   clients (one per replica), and what the clients' calls reach shifts with the steps;
 * - a canary failing 30% of its calls is rolled back within two analysis intervals of its first
 *   failing window, to the override it started from, with the measured success rate in the audit;
 * - a proxy that NACKs the step holds the rollout with its error; once it ACKs, the rollout goes on
 *   by itself.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { BanyanMetricSource } from '../../src/rollout/analysis/banyan-source.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { prepareClient, type XdsClientProcess } from '../clients/driver.js';
import type { Resp } from '../conformance/harness.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { EchoClient, startEchoBackend, type ConfigurableEchoBackend } from '../support/echo.js';
import { eventually } from '../support/eventually.js';
import { NackingProxy } from '../support/nacking-proxy.js';
import { apiSplitYaml, registerGrpcJsXds } from '../support/proxyless.js';
import { adminCall, PostgresReplicaPair, rolloutAudit, settleInOrder, storedRollout, throwFirstRejection } from '../support/rollout-e2e.js';
import { echoBatch, SteadyTraffic, total, type RecordedBatch } from '../support/steady-traffic.js';

const RDS = TypeUrl.RouteConfiguration;
const TOKEN = 'e2e-lrs-token';
const ANALYSIS_INTERVAL_MS = 1000;
const LOAD_REPORT_INTERVAL_MS = 500;
const JS_NODE = 'lrs-e2e-grpc-js';

/** Three api listeners (one per case), each with a route over a baseline (all traffic) and a canary (none). */
function yaml(ports: Record<string, number>): string {
  const backend = (cluster: string, weight: number) => ({ cluster, weight, port: ports[cluster] ?? 9 });
  return apiSplitYaml(Object.fromEntries(['orders', 'payments', 'inventory'].map((name) => [name, [backend(`${name}-v1`, 100), backend(`${name}-v2`, 0)]])));
}

const analysis = {
  checks: [
    { metric: 'success-rate', min: 95 },
    { metric: 'requests', min: 10 },
  ],
  intervalMs: ANALYSIS_INTERVAL_MS,
  failureLimit: 2,
  onFailure: 'rollback',
};

type RouteConfig = { virtual_hosts: { routes: { route: { weighted_clusters: { clusters: { weight: number | { value: number } }[] } } }[] }[] };

/** The weights of the (only) route in a RouteConfiguration response. */
function weightsIn(r: Resp): number[] {
  const rc = r.resources[0] as unknown as RouteConfig;
  return rc.virtual_hosts[0].routes[0].route.weighted_clusters.clusters.map((c) => (typeof c.weight === 'number' ? c.weight : c.weight.value));
}

/** Share (0..100) of `batches`' calls that `backend` answered, and how many calls there were. */
function shareOf(batches: RecordedBatch[], backend: string): { share: number; calls: number } {
  const t = total(batches);
  return { share: t.calls ? (100 * (t.counts[backend] ?? 0)) / t.calls : NaN, calls: t.calls };
}

describe('rollouts analysed from LRS with grpc-js-xds and grpc-go clients across two replicas (PostgreSQL)', () => {
  const pair = new PostgresReplicaPair();
  const backends: Record<string, ConfigurableEchoBackend> = {};
  const goClients: XdsClientProcess[] = [];
  const jsClients: grpc.Client[] = [];
  const proxies: { close(): void }[] = [];
  const loops: SteadyTraffic[] = [];
  let a: RunningBanyan;
  let b: RunningBanyan;
  let launchGo: Awaited<ReturnType<typeof prepareClient>>;
  /** The healthy case's rollout, for the check of what its analysis runs counted. */
  let healthy: string | undefined;
  const startedAt = performance.now();

  beforeAll(async () => {
    // a cold go build takes long: start it first, alongside everything else
    const goReady = prepareClient('grpc-go');
    const started = await Promise.all([
      startEchoBackend('orders-v1'),
      startEchoBackend('orders-v2'),
      startEchoBackend('payments-v1'),
      startEchoBackend('payments-v2', { fail: { fraction: 0.3 } }),
    ]);
    for (const e of started) backends[e.name] = e;
    [a, b] = await pair.start({
      database: 'rollout_lrs',
      tmpPrefix: 'banyan-e2e-lrs-',
      yaml: yaml(Object.fromEntries(started.map((e) => [e.name, e.port]))),
      serve: { adminToken: TOKEN, fleetIntervalMs: 200, rolloutPollMs: 200, analysisSettleMs: 250, loadReportIntervalMs: LOAD_REPORT_INTERVAL_MS },
    });

    await registerGrpcJsXds(`127.0.0.1:${a.ports.xds}`, JS_NODE);
    launchGo = await goReady;
  }, 600_000);

  afterAll(async () => {
    const results = await settleInOrder([
      ...loops.map((l) => () => l.stop()),
      ...goClients.map((c) => () => c.close()),
      ...jsClients.map((c) => () => c.close()),
      ...proxies.map((p) => () => p.close()),
      ...pair.stopSteps(),
      ...Object.values(backends).map((e) => () => e.stop()),
    ]);
    delete process.env.GRPC_XDS_BOOTSTRAP_CONFIG;
    process.stderr.write(`rollout-lrs.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown\n`);
    throwFirstRejection(results);
  });

  const api = (r: RunningBanyan, method: string, p: string, body?: unknown) => adminCall(r.ports.admin, TOKEN, method, p, body);
  const stored = (id: string) => storedRollout(a.store, id);
  /** The rollout's audit entries, oldest first. */
  const auditOf = async (id: string) => (await rolloutAudit(a.store, id, { limit: 2000 })).reverse();

  /** One grpc-js channel and one grpc-go process on `listener`, both answering through its baseline, with steady traffic. */
  async function clientsOn(listener: string): Promise<{ js: SteadyTraffic; go: SteadyTraffic; goClient: XdsClientProcess; jsClient: grpc.Client }> {
    const jsClient = new EchoClient(`xds:///${listener}`, grpc.credentials.createInsecure());
    jsClients.push(jsClient);
    const goClient = launchGo({ xds: `127.0.0.1:${b.ports.xds}`, nodeId: `lrs-e2e-grpc-go-${listener}`, target: `xds:///${listener}` });
    goClients.push(goClient);
    await Promise.all([
      eventually(async () => expect((await echoBatch(jsClient, 1, 1)).counts).toEqual({ [`${listener}-v1`]: 1 }), 20_000, 100),
      eventually(async () => expect((await goClient.batch({ n: 1 })).counts).toEqual({ [`${listener}-v1`]: 1 }), 20_000, 100),
    ]);
    const js = new SteadyTraffic(`grpc-js ${listener}`, () => echoBatch(jsClient, 15, 3));
    const go = new SteadyTraffic(`grpc-go ${listener}`, async () => {
      const r = await goClient.batch({ n: 15, concurrency: 3 });
      return { counts: r.counts, errors: r.errors };
    });
    loops.push(js, go);
    return { js: js.start(), go: go.start(), goClient, jsClient };
  }

  it('a healthy canary completes: each step only after both clients ACKed the previous one, and their traffic follows the steps', async () => {
    const { js, go } = await clientsOn('orders');
    // a few batches at the YAML's weights first
    await eventually(() => expect(Math.min(js.batches.length, go.batches.length)).toBeGreaterThanOrEqual(3), 10_000);
    const created = await api(a, 'POST', '/api/v1/rollouts', { route: 'orders-split', to: 'orders-v2', steps: [20, 50, 100], interval: 2500, author: 'alice', analysis });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;
    healthy = id;

    const done = await eventually(async () => {
      const r = await stored(id);
      expect(r.state, JSON.stringify({ state: r.state, hold: r.hold, step: r.currentStep, endReason: r.endReason })).toBe('completed');
      return r;
    }, 40_000, 100);
    // traffic at 100% for a moment, then stop
    const completedAt = done.updatedAt;
    await eventually(() => {
      expect(js.within(completedAt).length).toBeGreaterThanOrEqual(8);
      expect(go.within(completedAt).length).toBeGreaterThanOrEqual(8);
    }, 10_000);
    await Promise.all([js.stop(), go.stop()]);
    expect(js.failure).toBeUndefined();
    expect(go.failure).toBeUndefined();

    // the lifecycle in the audit: a step only after the previous one was synced on both clients (one per replica)
    const audit = await auditOf(id);
    const lifecycle = audit.filter((e) => e.action !== 'rollout.analysis');
    expect(lifecycle.map((e) => `${e.action}:${e.details.step}`)).toEqual([
      'rollout.start:1',
      'rollout.synced:1',
      'rollout.step:2',
      'rollout.synced:2',
      'rollout.step:3',
      'rollout.complete:3',
    ]);
    for (const e of lifecycle.filter((x) => x.action === 'rollout.synced' || x.action === 'rollout.complete')) expect(e.details.accepted, e.action).toBe(2);
    // every step was preceded by a passing analysis of the step before
    for (const stepEntry of lifecycle.filter((e) => e.action === 'rollout.step')) {
      const before = audit.filter((e) => e.id < stepEntry.id && e.action === 'rollout.analysis').at(-1);
      expect(before?.details, `analysis before step ${stepEntry.details.step}`).toMatchObject({ step: Number(stepEntry.details.step) - 1, passed: true });
    }
    expect(done.log!.map((s) => [s.percent, s.outcome])).toEqual([
      [20, 'passed'],
      [50, 'passed'],
      [100, 'passed'],
    ]);

    // what each client's calls reached, between a step being ACKed and the next one being written
    const log = done.log!;
    for (const traffic of [js, go]) {
      const seen = log.map((s, i) => {
        const batches = traffic.within(s.syncedAt!, log[i + 1]?.appliedAt ?? Infinity);
        return { percent: s.percent, ...shareOf(batches, 'orders-v2') };
      });
      for (const s of seen) {
        expect(s.calls, `${traffic.name} at ${s.percent}%`).toBeGreaterThanOrEqual(100);
        expect(Math.abs(s.share - s.percent), `${traffic.name} sent ${s.share.toFixed(1)}% to the canary at ${s.percent}%`).toBeLessThanOrEqual(s.percent === 100 ? 0 : 12);
      }
      // and before the rollout, none
      const before = shareOf(traffic.within(0, log[0].appliedAt), 'orders-v2');
      expect(before.calls).toBeGreaterThanOrEqual(45);
      expect(before.share).toBe(0);
      process.stderr.write(`${traffic.name}: canary share per step ${seen.map((s) => `${s.percent}%→${s.share.toFixed(1)}% of ${s.calls}`).join(', ')}\n`);
    }
    expect(backends['orders-v2'].failed + backends['orders-v1'].failed).toBe(0);
    // what analysis read: both clients' LRS reports of the canary, each through the replica it talks to
    const samples = await a.store.listLoadSamples(['orders-v2'], log[0].appliedAt, Date.now());
    expect([...new Set(samples.map((x) => `${x.source} ${x.node} via ${x.replica}`))].sort()).toEqual(['lrs lrs-e2e-grpc-go-orders via replica-b', `lrs ${JS_NODE} via replica-a`]);
  });

  it("each analysis run of the healthy canary counted every request the clients reported in the run's window", async () => {
    expect(healthy, 'the healthy case ran').toBeDefined();
    const runs = (await auditOf(healthy!)).filter((e) => e.action === 'rollout.analysis');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const source = new BanyanMetricSource(a.store);
    // read back now, long after every report of those windows was written
    const counted = await Promise.all(
      runs.map(async (e) => {
        const window = e.details.window as { from: number; to: number };
        const requests = (e.details.results as { check: string; value: number | null }[]).find((c) => c.check === 'requests ≥ 10')!.value;
        const stored = await source.measure({ metric: 'requests', clusters: ['orders-v2'], window, route: 'orders-split' });
        return { step: e.details.step, window: `${window.to - window.from} ms`, counted: requests, reported: stored.value };
      }),
    );
    process.stderr.write(`analysis runs, requests counted vs reported in their windows: ${JSON.stringify(counted)}\n`);
    expect(counted).toEqual(counted.map((c) => ({ ...c, counted: c.reported })));
  });

  it('a canary failing 30% of its calls is rolled back within two analysis intervals, to the starting override, with its success rate in the audit', async () => {
    // the starting point is an override, so that "restored" means put back, not merely cleared
    const warm = await api(b, 'PUT', '/api/v1/routes/payments-split/weights', {
      backends: [
        { cluster: 'payments-v1', weight: 100 },
        { cluster: 'payments-v2', weight: 0 },
      ],
      author: 'e2e',
      reason: 'before the canary',
    });
    expect(warm.status, JSON.stringify(warm.body)).toBe(200);
    const { js, go, goClient, jsClient } = await clientsOn('payments');

    const created = await api(b, 'POST', '/api/v1/rollouts', { route: 'payments-split', to: 'payments-v2', steps: [20, 50, 100], interval: 2500, author: 'alice', analysis });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;
    const ended = await eventually(async () => {
      const r = await stored(id);
      expect(r.state, JSON.stringify({ state: r.state, hold: r.hold, step: r.currentStep })).toBe('rolled-back');
      return r;
    }, 30_000, 50);
    await Promise.all([js.stop(), go.stop()]);
    expect(js.failure).toBeUndefined();
    expect(go.failure).toBeUndefined();
    // the canary had traffic and failed its share of it
    expect(backends['payments-v2'].calls).toBeGreaterThan(0);
    expect(backends['payments-v2'].failed).toBe(Math.floor(backends['payments-v2'].calls * 0.3));

    const audit = await auditOf(id);
    const runs = audit.filter((e) => e.action === 'rollout.analysis' || e.action === 'rollout.rollback');
    const firstFail = runs.find((e) => e.details.passed === false)!;
    const rollback = audit.find((e) => e.action === 'rollout.rollback')!;
    expect(rollback, audit.map((e) => e.action).join(', ')).toBeDefined();
    // the first failing run counts 1 of 2, the rollback is the second: nothing passed in between
    expect(runs.filter((e) => e.id >= firstFail.id).map((e) => [e.action, e.details.passed, e.details.failures])).toEqual([
      ['rollout.analysis', false, 1],
      ['rollout.rollback', false, 2],
    ]);
    expect(rollback.details).toMatchObject({ step: 1, percent: 20, failures: 2, of: 2, weights: [{ cluster: 'payments-v1', weight: 100 }, { cluster: 'payments-v2', weight: 0 }] });
    const results = rollback.details.results as { check: string; value: number | null; passed: boolean | null; samples: number }[];
    const rate = results.find((c) => c.check === 'success-rate ≥ 95%')!;
    expect(rate).toMatchObject({ passed: false });
    expect(rate.samples).toBeGreaterThan(0);
    // the echo backend fails 3 calls in 10, evenly over all its calls; a window holds some tens of them
    // from two clients' reports, so its rate is 70% to within a few calls
    expect(rate.samples).toBeGreaterThanOrEqual(10);
    expect(rate.value!).toBeGreaterThan(60);
    expect(rate.value!).toBeLessThan(80);
    process.stderr.write(`rolled back on a success rate of ${rate.value}% over ${rate.samples} requests\n`);
    expect(String(rollback.details.reason)).toContain(`success-rate ≥ 95%: ${rate.value} (needs ≥ 95%)`);
    expect(ended.endReason).toBe(rollback.details.reason);

    // within two analysis intervals of the first failing window's start (slack for timers and a loaded machine)
    const fromFirstFailure = rollback.at - (firstFail.details.window as { from: number }).from;
    process.stderr.write(`rollback ${fromFirstFailure} ms after the first failing window began, ${rollback.at - ended.log![0].syncedAt!} ms after step 1 was synced (${ANALYSIS_INTERVAL_MS} ms analysis interval)\n`);
    expect(fromFirstFailure).toBeGreaterThanOrEqual(2 * ANALYSIS_INTERVAL_MS - 50);
    expect(fromFirstFailure).toBeLessThanOrEqual(2 * ANALYSIS_INTERVAL_MS + 1500);

    // the starting override is back, and both clients send everything to the baseline again
    expect(await a.store.getOverride('payments-split')).toMatchObject({
      backends: [
        { cluster: 'payments-v1', weight: 100 },
        { cluster: 'payments-v2', weight: 0 },
      ],
      author: 'admin (as e2e)',
      reason: 'before the canary',
    });
    await eventually(async () => {
      expect((await echoBatch(jsClient, 20, 4)).counts).toEqual({ 'payments-v1': 20 });
      expect((await goClient.batch({ n: 20, concurrency: 4 })).counts).toEqual({ 'payments-v1': 20 });
    }, 10_000, 100);
    const after = await Promise.all([echoBatch(jsClient, 100, 5), goClient.batch({ n: 100, concurrency: 5 })]);
    for (const r of after) expect({ counts: r.counts, errors: r.errors }).toEqual({ counts: { 'payments-v1': 100 }, errors: {} });
  });

  it('a proxy NACKing the step holds the rollout with its error, and the rollout goes on by itself once the proxy ACKs', async () => {
    const ERROR = "route 'inventory-split': cluster 'inventory-v2' not found (test NACK)";
    const nacking = new NackingProxy(`127.0.0.1:${a.ports.xds}`, { id: 'edge-nack' }, ['inventory']);
    proxies.push(nacking);
    const ok = new AdsRecorder(`127.0.0.1:${b.ports.xds}`, { id: 'edge-ok' }, { [RDS]: ['inventory'] });
    proxies.push(ok);
    const rdsState = async (node: string) =>
      (await a.fleet.fleet()).flatMap((r) => r.proxies.filter((p) => p.nodeId === node).map((p) => p.types.find((t) => t.typeUrl === RDS)?.state));
    // both ACKed the YAML's RouteConfiguration, as the whole fleet sees it
    await eventually(async () => {
      expect(await rdsState('edge-nack')).toEqual(['SYNCED']);
      expect(await rdsState('edge-ok')).toEqual(['SYNCED']);
    }, 10_000);

    nacking.rejectWith = ERROR;
    const created = await api(a, 'POST', '/api/v1/rollouts', { route: 'inventory-split', to: 'inventory-v2', steps: [30, 100], interval: 1000, author: 'alice' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;
    const held = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'paused', phase: 'syncing', percent: 30, hold: { kind: 'nack', auto: true } });
      return r;
    }, 15_000, 50);
    expect(held.hold!.message).toBe(`1 proxy rejected step 1 (30%): edge-nack on replica-a: ${ERROR}`);
    // the proxy did reject the version carrying 30%, and the other one runs it
    const nackedVersion = nacking.answers.at(-1)!;
    expect(nackedVersion.acked).toBe(false);
    const weights30 = [
      { cluster: 'inventory-v1', weight: 70 },
      { cluster: 'inventory-v2', weight: 30 },
    ];
    expect((await a.store.getOverride('inventory-split'))?.backends).toEqual(weights30);
    const okWeights = () => weightsIn(ok.latest(RDS));
    await eventually(() => expect(okWeights()).toEqual([70, 30]), 5_000);
    // while it NACKs, both runners keep looking and write nothing new
    await Promise.all([a.runner.runDue(), b.runner.runDue()]);
    await Promise.all([a.runner.runDue(), b.runner.runDue()]);
    expect(await stored(id)).toMatchObject({ revision: held.revision, state: 'paused', hold: { kind: 'nack' } });

    // the proxy is fixed: it comes back (a new stream, as a restarted Envoy would) and ACKs; the old one goes
    const fixed = new NackingProxy(`127.0.0.1:${a.ports.xds}`, { id: 'edge-nack' }, ['inventory']);
    proxies.push(fixed);
    await eventually(async () => expect((await rdsState('edge-nack')).sort()).toEqual(['NACKED', 'SYNCED']), 10_000);
    expect(await stored(id)).toMatchObject({ state: 'paused', hold: { kind: 'nack' } });
    nacking.close();

    const done = await eventually(async () => {
      const r = await stored(id);
      expect(r.state, JSON.stringify({ state: r.state, hold: r.hold })).toBe('completed');
      return r;
    }, 15_000, 50);
    expect(done.percent).toBe(100);
    // the fixed proxy ACKed the step it came back to and the last one
    expect(fixed.answers.filter((x) => x.acked).length).toBeGreaterThanOrEqual(2);
    await eventually(() => {
      expect(okWeights()).toEqual([0, 100]);
      expect(weightsIn(fixed.latest())).toEqual([0, 100]);
    }, 5_000);

    const lifecycle = (await auditOf(id)).map((e) => ({ action: e.action, step: e.details.step, accepted: e.details.accepted, lifted: e.details.lifted, kind: e.details.kind }));
    // held once (the same NACK seen again writes nothing), lifted by the ACK, no operator in between
    expect(lifecycle).toEqual([
      { action: 'rollout.start', step: 1, accepted: undefined, lifted: undefined, kind: undefined },
      { action: 'rollout.hold', step: 1, accepted: undefined, lifted: undefined, kind: 'nack' },
      { action: 'rollout.synced', step: 1, accepted: 2, lifted: 'nack', kind: undefined },
      { action: 'rollout.step', step: 2, accepted: undefined, lifted: undefined, kind: undefined },
      { action: 'rollout.complete', step: 2, accepted: 2, lifted: undefined, kind: undefined },
    ]);
    const hold = (await auditOf(id)).find((e) => e.action === 'rollout.hold')!;
    expect(hold.details.nacks).toEqual([{ nodeId: 'edge-nack', replica: 'replica-a', error: ERROR }]);
  });
});
