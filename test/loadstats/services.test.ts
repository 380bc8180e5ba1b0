/**
 * registerLoadStats on a gRPC server of the test's own, over a real embedded store, with clients
 * built by @grpc/proto-loader from Envoy's protos: what LRS answers (send_all_clusters, the interval;
 * the cluster list for a client that cannot take send_all_clusters), a report as a sample, streams
 * forgotten when the client cancels; the metrics service with since-start counters and histograms
 * (the first flush a baseline, then deltas, a value below the last one a restart) under full stat
 * names, a cluster name with dots included; samples kept through a store outage and pruned by age.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bindGrpcServer, shutdownGrpcServer } from '../../src/grpc/lifecycle.js';
import { registerLoadStats, type LoadStats, type LoadStatsOptions } from '../../src/loadstats/index.js';
import { PROTO_INCLUDE_DIRS } from '../../src/proto/paths.js';
import { BanyanMetricSource } from '../../src/rollout/analysis/banyan-source.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { LoadSample, Store } from '../../src/store/types.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { eventually } from '../support/eventually.js';
import { counterFamily, ENVOY_BUCKETS, envoySink, histogramFamily, type EnvoySink } from './envoy-sink.js';

interface Served {
  loadStats: LoadStats;
  registry: ReturnType<typeof createRegistry>;
  port: number;
  stop(): Promise<void>;
}

async function serve(opts: Omit<LoadStatsOptions, 'logger' | 'replica'> & { store: LoadStatsOptions['store'] }): Promise<Served> {
  const server = new grpc.Server();
  const registry = createRegistry();
  const loadStats = registerLoadStats(server, { replica: 'replica-a', logger: createLogger('test', 'silent'), registry, ...opts });
  const port = await bindGrpcServer(server, '127.0.0.1', 0);
  return {
    loadStats,
    registry,
    port,
    async stop() {
      await shutdownGrpcServer(server, 200);
      await loadStats.stop();
    },
  };
}

function lrsClient(port: number): grpc.Client & Record<string, Function> {
  const def = protoLoader.loadSync('envoy/service/load_stats/v3/lrs.proto', { includeDirs: [...PROTO_INCLUDE_DIRS], keepCase: true, longs: Number, enums: String });
  const Client = (grpc.loadPackageDefinition(def) as any).envoy.service.load_stats.v3.LoadReportingService as typeof grpc.Client;
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
}

/** The first message of a stream and what comes back. */
function firstAnswer(call: grpc.ClientDuplexStream<object, any>, node: object): Promise<any> {
  return new Promise((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
    call.write({ node, cluster_stats: [] });
  });
}

describe('loadstats services', () => {
  let dir: string;
  let store: EmbeddedStore;
  const running: Served[] = [];
  const clients: grpc.Client[] = [];
  let sink: EnvoySink | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-loadstats-'));
    store = await EmbeddedStore.open({ dir });
  });
  afterEach(async () => {
    sink?.close();
    sink = undefined;
    for (const c of clients.splice(0)) c.close();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const all = (clusters: string[]) => store.listLoadSamples(clusters, 0, Date.now() + 1);

  it('LRS: answers the first message with send_all_clusters and the interval, stores each report, forgets a cancelled stream', async () => {
    const s = await serve({ store, reportIntervalMs: 1_500, clusters: () => ['lrs-a', 'lrs-b'] });
    running.push(s);
    const client = lrsClient(s.port);
    clients.push(client);

    const call = client.StreamLoadStats() as grpc.ClientDuplexStream<object, any>;
    call.on('error', () => {});
    const answer = await firstAnswer(call, { id: 'envoy-7', client_features: ['envoy.lrs.supports_send_all_clusters'] });
    expect(answer).toEqual({ send_all_clusters: true, load_reporting_interval: { seconds: 1, nanos: 500_000_000 } });
    expect(s.loadStats.lrs.streamCount).toBe(1);

    call.write({
      cluster_stats: [
        {
          cluster_name: 'lrs-a',
          cluster_service_name: 'lrs-a',
          upstream_locality_stats: [
            { locality: { zone: 'z1' }, total_successful_requests: 40, total_error_requests: 2, total_issued_requests: 45, total_requests_in_progress: 3 },
            { locality: { zone: 'z2' }, total_successful_requests: 10, total_error_requests: 1, total_issued_requests: 11 },
          ],
          total_dropped_requests: 4,
          load_report_interval: { seconds: 1, nanos: 250_000_000 },
        },
        { cluster_name: 'lrs-b', upstream_locality_stats: [], load_report_interval: { seconds: 1 } },
      ],
    });
    const [sample] = await eventually(async () => {
      const got = await all(['lrs-a', 'lrs-b']);
      expect(got).toHaveLength(1);
      return got;
    });
    expect(sample).toMatchObject({ replica: 'replica-a', cluster: 'lrs-a', source: 'lrs', node: 'envoy-7', successes: 50, errors: 3, issued: 56, dropped: 4, intervalMs: 1250 });

    const metric = async (name: string) => (await s.registry.getSingleMetric(name)!.get()).values[0]?.value;
    expect(await metric('banyan_lrs_reports_total')).toBe(2);
    expect(await metric('banyan_lrs_streams')).toBe(1);
    await eventually(async () => expect(await metric('banyan_load_samples_written_total')).toBe(1));
    call.cancel();
    await eventually(() => expect(s.loadStats.lrs.streamCount).toBe(0));
    expect(await metric('banyan_lrs_streams')).toBe(0);
  });

  it('LRS: names the clusters to a client that does not announce send_all_clusters support', async () => {
    const s = await serve({ store, clusters: () => ['lrs-a', 'lrs-b'] });
    running.push(s);
    const client = lrsClient(s.port);
    clients.push(client);
    const call = client.StreamLoadStats() as grpc.ClientDuplexStream<object, any>;
    call.on('error', () => {});
    const answer = await firstAnswer(call, { id: 'old-client' });
    expect(answer).toMatchObject({ clusters: ['lrs-a', 'lrs-b'], send_all_clusters: true, load_reporting_interval: { seconds: 10, nanos: 0 } });
    call.cancel();
  });

  it('metrics service, since-start values: the first flush is a baseline, then deltas; a value below the last is a restart', async () => {
    const s = await serve({ store, metrics: { counters: 'cumulative', histograms: 'cumulative' } });
    running.push(s);
    sink = await envoySink(`127.0.0.1:${s.port}`);
    const stream = sink.open();
    // full stat names, a cluster with dots in its name, and a sub-scope that must not read as one
    const name = 'orders.v2';
    const flush = (cum: number[], ok: number, failed: number, t: number) => ({
      envoy_metrics: [
        histogramFamily(`cluster.${name}.upstream_rq_time`, cum, { timestampMs: t }),
        histogramFamily(`cluster.${name}.external.upstream_rq_time`, [500, 500], { timestampMs: t }),
        counterFamily(`cluster.${name}.upstream_rq_2xx`, ok, {}, t),
        counterFamily(`cluster.${name}.upstream_rq_5xx`, failed, {}, t),
        counterFamily(`cluster.${name}.canary.upstream_rq_5xx`, 999, {}, t),
      ],
    });
    const t0 = 1_700_000_000_000;
    stream.send({ identifier: { node: { id: 'envoy-9' } }, ...flush([0, 0, 100, 400], 1000, 20, t0) });
    stream.send(flush([0, 0, 130, 500], 1090, 30, t0 + 10_000));
    const samples = await eventually(async () => {
      const got = await all([name, `${name}.external`, `${name}.canary`]);
      expect(got).toHaveLength(1);
      return got;
    });
    // (1,5]: 130-100, (5,10]: (500-130)-(400-100); nothing above 10 ms
    const counts = [0, 0, 30, 70, ...new Array<number>(ENVOY_BUCKETS.length - 4).fill(0), 0];
    expect(samples[0]).toMatchObject({ cluster: name, node: 'envoy-9', successes: 90, errors: 10, intervalMs: 10_000, latency: { bounds: ENVOY_BUCKETS, counts } });

    // Envoy restarted: everything is below the last values, and counts from zero
    stream.send(flush([0, 0, 5, 8], 7, 1, t0 + 20_000));
    const after = await eventually(async () => {
      const got = await all([name]);
      expect(got).toHaveLength(2);
      return got[1];
    });
    expect(after).toMatchObject({ successes: 7, errors: 1, latency: { counts: [0, 0, 5, 3, ...new Array<number>(ENVOY_BUCKETS.length - 4).fill(0), 0] } });
    expect(s.loadStats.metrics.streamCount).toBe(1);
    expect((await s.registry.getSingleMetric('banyan_metrics_service_messages_total')!.get()).values[0].value).toBe(3);
    stream.cancel();
    await eventually(() => expect(s.loadStats.metrics.streamCount).toBe(0));

    const p99 = await new BanyanMetricSource(store).measure({ metric: 'latency', percentile: 99, clusters: [name], window: { from: 0, to: Date.now() + 1 }, route: 'r' });
    // 108 observations: (1,5] 35, (5,10] 73; rank 106.92 is the 71.92nd of 73 in (5,10]
    expect(p99.samples).toBe(108);
    expect(p99.value).toBeCloseTo(5 + 5 * (71.92 / 73), 9);
  });

  it('keeps samples while the store refuses them, writes them once it is back, and prunes by age', async () => {
    // The embedded store, with an outage switch in front of its writes.
    let down = true;
    const flaky: Pick<Store, 'addLoadSamples' | 'pruneLoadSamples'> = {
      addLoadSamples: (samples: LoadSample[]) => (down ? Promise.reject(new Error('store down')) : store.addLoadSamples(samples)),
      pruneLoadSamples: (before: number) => store.pruneLoadSamples(before),
    };
    let now = Date.now();
    const s = await serve({ store: flaky, flushMs: 20, maxPending: 3, retentionMs: 60_000, pruneEveryMs: 30, now: () => now });
    running.push(s);
    const sample = (cluster: string, at: number): LoadSample => ({ replica: 'r', cluster, source: 'lrs', at, intervalMs: 1000, node: 'n', successes: 1, errors: 0, issued: 1, dropped: 0 });
    s.loadStats.writer.add([sample('w-1', now), sample('w-2', now)]);
    s.loadStats.writer.add([sample('w-3', now), sample('w-4', now)]);
    // four waiting, at most three kept: the oldest went
    await eventually(() => expect(s.loadStats.writer.pendingCount).toBe(3));
    await s.loadStats.writer.flush();
    expect(s.loadStats.writer.pendingCount).toBe(3);
    down = false;
    await eventually(async () => expect((await all(['w-1', 'w-2', 'w-3', 'w-4'])).map((x) => x.cluster)).toEqual(['w-2', 'w-3', 'w-4']));
    expect(s.loadStats.writer.pendingCount).toBe(0);

    // an hour… a minute (retentionMs) later, the next prune forgets them
    now += 61_000;
    await eventually(async () => expect(await all(['w-2', 'w-3', 'w-4'])).toEqual([]));
  });

  it('stop() writes what is still waiting, and takes nothing after', async () => {
    const s = await serve({ store, flushMs: 60_000 });
    const at = Date.now();
    s.loadStats.writer.add([{ replica: 'r', cluster: 'at-stop', source: 'lrs', at, intervalMs: 1000, node: 'n', successes: 3, errors: 1, issued: 4, dropped: 0 }]);
    expect(await all(['at-stop'])).toEqual([]);
    await s.stop();
    expect((await all(['at-stop'])).map((x) => x.successes)).toEqual([3]);
    s.loadStats.writer.add([{ replica: 'r', cluster: 'at-stop', source: 'lrs', at, intervalMs: 1000, node: 'n', successes: 9, errors: 0, issued: 9, dropped: 0 }]);
    expect(s.loadStats.writer.pendingCount).toBe(0);
  });
});
