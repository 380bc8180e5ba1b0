/**
 * LRS end to end with @grpc/grpc-js-xds as the client (gRFC A27): an api listener splits over three
 * clusters, two of them compiled with `lrs_server: {self: {}}`; one of those fails 30% of its calls.
 * The client reports each cluster's successes and errors to Banyan every second, and the store's
 * samples add up to exactly what the backends saw; the third cluster, not under load reporting, is
 * never reported. BanyanMetricSource reads the same numbers back as a success rate.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanMetricSource } from '../../src/rollout/analysis/banyan-source.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { EchoClient, startEchoBackend, type ConfigurableEchoBackend } from '../support/echo.js';
import { eventually } from '../support/eventually.js';
import { apiSplitYaml, loadTotals as totals, registerGrpcJsXds } from '../support/proxyless.js';

const CLIENT_NODE = 'lrs-grpc-js-client';

const yaml = (v1: number, v2: number, v3: number) =>
  apiSplitYaml({
    orders: [
      { cluster: 'orders-v1', weight: 40, port: v1 },
      { cluster: 'orders-v2', weight: 40, port: v2 },
      { cluster: 'orders-v3', weight: 20, port: v3 },
    ],
  });

/** `n` calls, `concurrency` at a time; failures are counted, not thrown. */
async function callMany(client: grpc.Client, n: number, concurrency = 25): Promise<{ ok: number; failed: number }> {
  let issued = 0;
  const out = { ok: 0, failed: 0 };
  const call = () =>
    new Promise<void>((resolve) =>
      (client as unknown as Record<string, Function>).Who({}, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null) => {
        if (err) out.failed++;
        else out.ok++;
        resolve();
      }),
    );
  const worker = async () => {
    while (issued < n) {
      issued++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

describe('LRS from grpc-js-xds', () => {
  let v1: ConfigurableEchoBackend;
  let v2: ConfigurableEchoBackend;
  let v3: ConfigurableEchoBackend;
  let b: TestBanyan;
  let client: grpc.Client;
  let startedAt: number;

  beforeAll(async () => {
    [v1, v2, v3] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2', { fail: { fraction: 0.3 } }), startEchoBackend('v3')]);
    startedAt = Date.now();
    b = await startTestBanyan(yaml(v1.port, v2.port, v3.port), { loadReportIntervalMs: 1_000, loadReporting: ['orders-v1', 'orders-v2'] });
    await registerGrpcJsXds(`127.0.0.1:${b.banyan.ports.xds}`, CLIENT_NODE);
    client = new EchoClient('xds:///orders', grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await b?.stop();
    await Promise.all([v1?.stop(), v2?.stop(), v3?.stop()]);
  });

  it('stores per-cluster successes and errors that add up to what the backends answered', async () => {
    await eventually(async () => expect((await callMany(client, 1, 1)).ok).toBe(1), 15_000);
    const result = await callMany(client, 1000);
    // every call reached a backend, and the failing one failed its share exactly
    expect(v1.calls + v2.calls + v3.calls).toBe(1001);
    expect(result.failed).toBe(v2.failed);
    expect(v2.failed).toBe(Math.floor(v2.calls * 0.3));
    expect(v3.calls).toBeGreaterThan(0);

    const samples = await eventually(async () => {
      const all = await b.banyan.store.listLoadSamples(['orders-v1', 'orders-v2', 'orders-v3'], startedAt, Date.now());
      expect(totals(all, 'orders-v1')).toEqual({ successes: v1.calls, errors: 0, issued: v1.calls });
      expect(totals(all, 'orders-v2')).toEqual({ successes: v2.calls - v2.failed, errors: v2.failed, issued: v2.calls });
      return all;
    }, 15_000, 100);
    // orders-v3 carries no lrs_server: its traffic is never reported
    expect(samples.filter((s) => s.cluster === 'orders-v3')).toEqual([]);
    const errorShare = totals(samples, 'orders-v2').errors / v2.calls;
    expect(errorShare).toBeGreaterThan(0.28);
    expect(errorShare).toBeLessThan(0.32);
    for (const s of samples) {
      expect(s).toMatchObject({ source: 'lrs', node: CLIENT_NODE, replica: b.banyan.replica, dropped: 0 });
      expect(s.intervalMs).toBeGreaterThan(0);
      expect(s.intervalMs).toBeLessThan(5_000);
    }
  });

  it('BanyanMetricSource reads the same success rates and request counts back', async () => {
    const source = new BanyanMetricSource(b.banyan.store);
    const window = { from: startedAt, to: Date.now() };
    const rate = (clusters: string[]) => source.measure({ metric: 'success-rate', clusters, window, route: 'orders-split' });
    const v2Rate = await rate(['orders-v2']);
    expect(v2Rate.samples).toBe(v2.calls);
    expect(v2Rate.value).toBeCloseTo(((v2.calls - v2.failed) / v2.calls) * 100, 6);
    expect(v2Rate.value!).toBeGreaterThan(68);
    expect(v2Rate.value!).toBeLessThan(72);
    expect(await rate(['orders-v1'])).toMatchObject({ value: 100, samples: v1.calls });
    expect(await rate(['orders-v3'])).toMatchObject({ value: null, samples: 0 });
    const both = await source.measure({ metric: 'requests', clusters: ['orders-v1', 'orders-v2'], window, route: 'orders-split' });
    expect(both).toMatchObject({ value: v1.calls + v2.calls, samples: v1.calls + v2.calls });
  });
});
