/**
 * LRS with grpc-go's xDS client (test/go/xdsclient, a real grpc-go process): the clusters compiled
 * with `lrs_server: {self: {}}` are reported over the stream grpc-go opens to the server its ADS
 * stream uses, at the interval Banyan answers with, and the store's samples add up to what the
 * backends answered, the failing backend's 30% included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanMetricSource } from '../../src/rollout/analysis/banyan-source.js';
import { okCount, prepareClient, type XdsClientProcess } from '../clients/driver.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { startEchoBackend, type ConfigurableEchoBackend } from '../support/echo.js';
import { eventually } from '../support/eventually.js';
import { apiSplitYaml, loadTotals as totals } from '../support/proxyless.js';

const yaml = (v1: number, v2: number) =>
  apiSplitYaml({
    orders: [
      { cluster: 'orders-v1', weight: 50, port: v1 },
      { cluster: 'orders-v2', weight: 50, port: v2 },
    ],
  });

describe('LRS from grpc-go', () => {
  let v1: ConfigurableEchoBackend;
  let v2: ConfigurableEchoBackend;
  let b: TestBanyan;
  let client: XdsClientProcess;
  let startedAt: number;

  beforeAll(async () => {
    const launch = await prepareClient('grpc-go');
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2', { fail: { fraction: 0.3 } })]);
    startedAt = Date.now();
    b = await startTestBanyan(yaml(v1.port, v2.port), { loadReportIntervalMs: 1_000, loadReporting: ['orders-v1', 'orders-v2'] });
    client = launch({ xds: `127.0.0.1:${b.banyan.ports.xds}`, nodeId: 'lrs-grpc-go-client' });
  }, 600_000);

  afterAll(async () => {
    await client?.close();
    await b?.stop();
    await Promise.all([v1?.stop(), v2?.stop()]);
  });

  it('stores per-cluster successes and errors that add up to what the backends answered', async () => {
    await eventually(async () => expect(okCount(await client.batch({ n: 1 }))).toBe(1), 20_000, 200);
    const batch = await client.batch({ n: 600, concurrency: 20 });
    expect(batch.errors.UNAVAILABLE ?? 0).toBe(v2.failed);
    expect(v1.calls + v2.calls).toBe(okCount(batch) + v2.failed + 1);
    expect(v2.failed).toBe(Math.floor(v2.calls * 0.3));

    const samples = await eventually(async () => {
      const all = await b.banyan.store.listLoadSamples(['orders-v1', 'orders-v2'], startedAt, Date.now());
      expect(totals(all, 'orders-v1')).toEqual({ successes: v1.calls, errors: 0, issued: v1.calls });
      expect(totals(all, 'orders-v2')).toEqual({ successes: v2.calls - v2.failed, errors: v2.failed, issued: v2.calls });
      return all;
    }, 20_000, 100);
    for (const s of samples) expect(s).toMatchObject({ source: 'lrs', node: 'lrs-grpc-go-client', replica: b.banyan.replica });
    // reports come at the interval Banyan asked for (1 s), not grpc-go's default
    expect(Math.max(...samples.map((s) => s.intervalMs))).toBeLessThan(5_000);

    const rate = await new BanyanMetricSource(b.banyan.store).measure({ metric: 'success-rate', clusters: ['orders-v2'], window: { from: startedAt, to: Date.now() }, route: 'orders-split' });
    expect(rate.samples).toBe(v2.calls);
    expect(rate.value!).toBeGreaterThan(68);
    expect(rate.value!).toBeLessThan(72);
  });
});
