/**
 * envoy.service.load_stats.v3.LoadReportingService: clients whose clusters carry `lrs_server: {self: {}}`
 * (proxyless gRPC, gRFC A27) and Envoys whose bootstrap has cluster_manager.load_stats_config open one
 * stream, send their node, and then a report per interval with each cluster's requests since the
 * last one. Each report becomes a LoadSample per cluster (source 'lrs').
 */
import type * as grpc from '@grpc/grpc-js';
import { BanyanError } from '../errors.js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { LoadSample } from '../store/types.js';
import { prom } from '../telemetry/metrics.js';
import { lrsServiceDefinition, type ClusterStats, type LoadStatsRequest, type LoadStatsResponse } from './protos.js';
import type { SampleWriter } from './writer.js';

export const DEFAULT_REPORT_INTERVAL_MS = 10_000;
/** What a client that honours LoadStatsResponse.send_all_clusters says in node.client_features. */
export const SEND_ALL_CLUSTERS_FEATURE = 'envoy.lrs.supports_send_all_clusters';

export interface LoadReportingOptions {
  writer: SampleWriter;
  /** This replica's id, recorded in every sample. */
  replica: string;
  logger: Logger;
  registry?: client.Registry;
  /** How often clients report (LoadStatsResponse.load_reporting_interval); default 10 s. */
  reportIntervalMs?: number;
  /**
   * The clusters to name to a client that does not announce send_all_clusters support (all current
   * gRPC clients and Envoy do): without a list such a client would report nothing.
   */
  clusters?: () => readonly string[];
  now?: () => number;
}

export class LoadReportingService {
  private readonly streams = new Set<LrsStream>();
  private readonly log: Logger;
  private readonly requests: client.Counter;
  private readonly open: client.Gauge;
  readonly reportIntervalMs: number;

  constructor(private readonly opts: LoadReportingOptions) {
    this.log = opts.logger.child({ component: 'lrs' });
    this.reportIntervalMs = opts.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    if (!(this.reportIntervalMs >= 1)) throw new BanyanError('bad-input', `load report interval must be at least 1 ms, got ${this.reportIntervalMs}`);
    const registers = opts.registry ? [opts.registry] : [];
    this.requests = new prom.Counter({ name: 'banyan_lrs_reports_total', help: 'Load reports (LoadStatsRequest) received over LRS, the first of each stream included', registers });
    this.open = new prom.Gauge({ name: 'banyan_lrs_streams', help: 'Open LRS streams', registers });
  }

  addToServer(server: grpc.Server): void {
    server.addService(lrsServiceDefinition(), {
      StreamLoadStats: (call: grpc.ServerDuplexStream<LoadStatsRequest, LoadStatsResponse>) => this.serve(call),
    });
  }

  get streamCount(): number {
    return this.streams.size;
  }

  private serve(call: grpc.ServerDuplexStream<LoadStatsRequest, LoadStatsResponse>): void {
    const stream: LrsStream = { node: '', answered: false };
    this.streams.add(stream);
    this.open.inc();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream);
      this.open.dec();
      this.log.debug({ node: stream.node }, 'LRS stream closed');
    };
    call.on('data', (req: LoadStatsRequest) => {
      this.requests.inc();
      if (req.node?.id) stream.node = req.node.id;
      if (!stream.answered) {
        stream.answered = true;
        this.log.debug({ node: stream.node }, 'LRS stream opened');
        call.write(this.answer(req));
      }
      const at = (this.opts.now ?? Date.now)();
      this.opts.writer.add((req.cluster_stats ?? []).flatMap((cs) => sampleOf(cs, at, stream.node, this.opts.replica)));
    });
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  }

  /** The first answer, and the only one: report every cluster (or the named ones) every interval. */
  private answer(req: LoadStatsRequest): LoadStatsResponse {
    const ms = this.reportIntervalMs;
    const response: LoadStatsResponse = {
      send_all_clusters: true,
      load_reporting_interval: { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) },
    };
    if (!req.node?.client_features?.includes(SEND_ALL_CLUSTERS_FEATURE) && this.opts.clusters) response.clusters = [...this.opts.clusters()];
    return response;
  }
}

interface LrsStream {
  node: string;
  answered: boolean;
}

/**
 * One ClusterStats as a sample: requests summed over the cluster's localities. The cluster is
 * cluster_name; Banyan's EDS clusters take their endpoints under their own name (no
 * eds_cluster_config.service_name), so cluster_service_name never names anything else. Nothing
 * happened → no sample.
 */
export function sampleOf(cs: ClusterStats, at: number, node: string, replica: string): LoadSample[] {
  const cluster = cs.cluster_name || cs.cluster_service_name;
  if (!cluster) return [];
  let successes = 0;
  let errors = 0;
  let issued = 0;
  for (const l of cs.upstream_locality_stats ?? []) {
    successes += l.total_successful_requests ?? 0;
    errors += l.total_error_requests ?? 0;
    issued += l.total_issued_requests ?? 0;
  }
  const dropped = cs.total_dropped_requests ?? 0;
  if (successes + errors + issued + dropped === 0) return [];
  const interval = cs.load_report_interval;
  const intervalMs = Math.round((interval?.seconds ?? 0) * 1000 + (interval?.nanos ?? 0) / 1e6);
  return [{ replica, cluster, source: 'lrs', at, intervalMs, node, successes, errors, issued, dropped }];
}
