/**
 * The numbers Banyan gathers itself, for rollout analysis (rollout/analysis/banyan-source.ts reads
 * them back): LRS (lrs.ts) and Envoy's metrics service (metrics-service.ts), both served on the gRPC
 * server that serves xDS, so `lrs_server: {self: {}}` and a bootstrap's banyan_xds cluster reach them.
 * Samples go to the store in batches (writer.ts) and are kept for an hour.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { Store } from '../store/types.js';
import { LoadReportingService } from './lrs.js';
import { MetricsService, type CounterMode, type HistogramMode } from './metrics-service.js';
import { SampleWriter } from './writer.js';

export { LoadReportingService, SEND_ALL_CLUSTERS_FEATURE, DEFAULT_REPORT_INTERVAL_MS } from './lrs.js';
export { MetricsService, MetricsStreamState } from './metrics-service.js';
export { SampleWriter } from './writer.js';
export { LRS_SERVICE, METRICS_SERVICE } from './protos.js';

export const DEFAULT_RETENTION_MS = 60 * 60_000;
export const DEFAULT_PRUNE_EVERY_MS = 60_000;

export interface LoadStatsOptions {
  store: Pick<Store, 'addLoadSamples' | 'pruneLoadSamples'>;
  /** This replica's id, in every sample it writes. */
  replica: string;
  logger: Logger;
  registry?: client.Registry;
  /** How often LRS clients report (default 10 s). */
  reportIntervalMs?: number;
  /** Clusters to name to an LRS client that cannot take send_all_clusters. */
  clusters?: () => readonly string[];
  /** How the metrics service reads counters and histograms (defaults: what Banyan's bootstrap makes Envoy send). */
  metrics?: { counters?: CounterMode; histograms?: HistogramMode; defaultIntervalMs?: number };
  /** Samples older than this are pruned (default 1 h), every `pruneEveryMs` (default 1 min). */
  retentionMs?: number;
  pruneEveryMs?: number;
  /** Store writes at most this often (default 500 ms). */
  flushMs?: number;
  /** Samples kept while the store is down (default 10,000). */
  maxPending?: number;
  now?: () => number;
}

export interface LoadStats {
  lrs: LoadReportingService;
  metrics: MetricsService;
  writer: SampleWriter;
  /** Stops pruning and writes what is pending; call after the gRPC server stopped, before the store closes. */
  stop(): Promise<void>;
}

/** Adds LRS and the metrics service to `grpcServer` (the one that serves ADS), with retention. */
export function registerLoadStats(grpcServer: grpc.Server, opts: LoadStatsOptions): LoadStats {
  const log = opts.logger.child({ component: 'loadstats' });
  const now = opts.now ?? Date.now;
  const writer = new SampleWriter({ store: opts.store, logger: log, registry: opts.registry, flushMs: opts.flushMs, maxPending: opts.maxPending });
  const lrs = new LoadReportingService({
    writer,
    replica: opts.replica,
    logger: opts.logger,
    registry: opts.registry,
    reportIntervalMs: opts.reportIntervalMs,
    clusters: opts.clusters,
    now,
  });
  const metrics = new MetricsService({ writer, replica: opts.replica, logger: opts.logger, registry: opts.registry, ...opts.metrics, now });
  lrs.addToServer(grpcServer);
  metrics.addToServer(grpcServer);

  const retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  let pruning: Promise<void> | undefined;
  const prune = () => {
    pruning ??= opts.store
      .pruneLoadSamples(now() - retentionMs)
      .catch((err: unknown) => log.warn({ err }, 'old load samples not pruned; next try in a minute'))
      .finally(() => (pruning = undefined));
  };
  const timer = setInterval(prune, opts.pruneEveryMs ?? DEFAULT_PRUNE_EVERY_MS);
  timer.unref();

  return {
    lrs,
    metrics,
    writer,
    async stop() {
      clearInterval(timer);
      await pruning;
      await writer.stop();
    },
  };
}
