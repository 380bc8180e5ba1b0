/**
 * envoy.service.metrics.v3.MetricsService: an Envoy with the `envoy.stat_sinks.metrics_service` stats
 * sink streams all its stats as Prometheus MetricFamily messages on every stats flush. Banyan reads
 * the per-upstream-cluster ones: the latency histogram `upstream_rq_time` (ms) and the response-class
 * counters, and turns each message into a LoadSample per cluster (source 'metrics').
 *
 * What Envoy sends (source/extensions/stat_sinks/metrics_service/grpc_metrics_service_impl.cc):
 * - names: `cluster.<name>.upstream_rq_time`, `cluster.<name>.upstream_rq_2xx` …; with
 *   emit_tags_as_labels the tag-extracted names `cluster.upstream_rq_time`, `cluster.upstream_rq_xx`
 *   with labels `envoy.cluster_name` and `envoy.response_code_class` (the tag names; Prometheus'
 *   exposition spells them envoy_cluster_name …, accepted too).
 * - histograms: the flush interval's distribution (intervalStatistics), buckets cumulative across
 *   bounds (`le`); `cumulative` mode takes histograms that are cumulative over time instead and
 *   differences them, as a sender that reports since-start histograms needs.
 * - counters: the value since start, or with report_counters_as_deltas (Banyan's bootstrap) the
 *   change since the last flush; `counters` says which. A since-start value below the last one is a
 *   restart: the value itself is what happened since. The first since-start value of a stream is
 *   only a baseline (it counts everything since Envoy started).
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { LoadSample } from '../store/types.js';
import { prom } from '../telemetry/metrics.js';
import type { Histogram, LabelPair, MetricFamily } from './prometheus.js';
import { metricsServiceDefinition, type StreamMetricsMessage } from './protos.js';
import type { SampleWriter } from './writer.js';

export type CounterMode = 'delta' | 'cumulative';
export type HistogramMode = 'interval' | 'cumulative';

export interface MetricsServiceOptions {
  writer: SampleWriter;
  replica: string;
  logger: Logger;
  registry?: client.Registry;
  /** How the senders' counters count (default 'delta': Banyan's bootstrap sets report_counters_as_deltas). */
  counters?: CounterMode;
  /** How the senders' histograms count (default 'interval': what Envoy's sink sends). */
  histograms?: HistogramMode;
  /** The interval a stream's first message covers, when nothing says (default 10 s, the bootstrap's stats_flush_interval). */
  defaultIntervalMs?: number;
  now?: () => number;
}

type Stat = 'time' | '2xx' | '5xx' | 'total';
const SUFFIX: Record<string, Stat> = { upstream_rq_time: 'time', upstream_rq_2xx: '2xx', upstream_rq_5xx: '5xx', upstream_rq_total: 'total' };
const TAGGED: Record<string, Stat | 'xx'> = {
  'cluster.upstream_rq_time': 'time',
  'cluster.upstream_rq_xx': 'xx',
  'cluster.upstream_rq_total': 'total',
};
const UNTAGGED = /^cluster\.(.+)\.(upstream_rq_time|upstream_rq_2xx|upstream_rq_5xx|upstream_rq_total)$/;
/** Sub-scopes of a cluster's stats that would read as a cluster name: canary/internal/external/retry, zone.<from>.<to>. */
const SUB_SCOPE = /\.(canary|internal|external|retry)$|\.zone\.[^.]+\.[^.]+$/;

/** Whether a family is one Banyan reads (the rest of an Envoy's stats are never converted). */
export function wantedFamily(name: string): boolean {
  return name in TAGGED || UNTAGGED.test(name);
}

function label(labels: readonly LabelPair[] | undefined, tag: string): string | undefined {
  const alt = tag.replace(/\./g, '_');
  return labels?.find((l) => l.name === tag || l.name === alt)?.value;
}

/** The cluster and stat a metric of family `name` is, or undefined for one Banyan does not read. */
export function classify(name: string, labels?: readonly LabelPair[]): { cluster: string; stat: Stat } | undefined {
  const tagged = TAGGED[name];
  if (tagged) {
    const cluster = label(labels, 'envoy.cluster_name');
    if (!cluster) return undefined;
    if (tagged !== 'xx') return { cluster, stat: tagged };
    const cls = label(labels, 'envoy.response_code_class');
    return cls === '2' ? { cluster, stat: '2xx' } : cls === '5' ? { cluster, stat: '5xx' } : undefined;
  }
  const m = UNTAGGED.exec(name);
  if (!m || SUB_SCOPE.test(m[1])) return undefined;
  return { cluster: m[1], stat: SUFFIX[m[2]] };
}

/** A histogram per bucket: `counts[i]` observations in (bounds[i-1], bounds[i]], and one more entry, those above the last bound. */
export interface Buckets {
  bounds: number[];
  counts: number[];
}

/** Prometheus buckets (cumulative across bounds, +Inf optional) → per-bucket counts with the overflow last. */
export function perBucket(h: Histogram): Buckets {
  const count = (c: { cumulative_count?: number; cumulative_count_float?: number }) => (c.cumulative_count_float ? c.cumulative_count_float : (c.cumulative_count ?? 0));
  const buckets = [...(h.bucket ?? [])].sort((a, b) => (a.upper_bound ?? 0) - (b.upper_bound ?? 0));
  const finite = buckets.filter((b) => Number.isFinite(b.upper_bound ?? 0));
  const inf = buckets.find((b) => b.upper_bound === Infinity);
  const total = h.sample_count_float ? h.sample_count_float : (h.sample_count ?? (inf ? count(inf) : finite.length ? count(finite[finite.length - 1]) : 0));
  const bounds = finite.map((b) => b.upper_bound ?? 0);
  const counts: number[] = [];
  let below = 0;
  for (const b of finite) {
    const c = Math.max(count(b), below);
    counts.push(c - below);
    below = c;
  }
  counts.push(Math.max(0, total - below));
  return { bounds, counts };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const sameBounds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

interface ClusterFrame {
  counters: Partial<Record<Exclude<Stat, 'time'>, number>>;
  hist?: Buckets;
}

/**
 * One stream's memory: the last since-start value of every counter and histogram (cumulative modes),
 * and when the last message came. Pure apart from what it remembers; the service feeds it messages.
 */
export class MetricsStreamState {
  private readonly lastCounter = new Map<string, number>();
  private readonly lastHist = new Map<string, Buckets>();
  private lastSnapshotMs?: number;
  private lastAt?: number;

  constructor(private readonly modes: { counters: CounterMode; histograms: HistogramMode; defaultIntervalMs: number }) {}

  /** The samples one message yields (replica and node are the caller's), clusters in order of appearance. */
  ingest(families: readonly MetricFamily[], at: number): Omit<LoadSample, 'replica' | 'node'>[] {
    const frames = new Map<string, ClusterFrame>();
    let snapshotMs: number | undefined;
    for (const f of families) {
      for (const m of f.metric ?? []) {
        const which = classify(f.name ?? '', m.label);
        if (!which) continue;
        if (m.timestamp_ms) snapshotMs = Math.max(snapshotMs ?? 0, m.timestamp_ms);
        const frame = frames.get(which.cluster) ?? { counters: {} };
        frames.set(which.cluster, frame);
        if (which.stat === 'time') {
          // Envoy sends the histogram twice under one name: as a SUMMARY and as a HISTOGRAM.
          if (!m.histogram || (f.type !== undefined && f.type !== 'HISTOGRAM')) continue;
          const h = perBucket(m.histogram);
          frame.hist = frame.hist && sameBounds(frame.hist.bounds, h.bounds) ? { bounds: h.bounds, counts: h.counts.map((c, i) => c + frame.hist!.counts[i]) } : h;
        } else {
          const v = m.counter?.value ?? m.untyped?.value;
          if (v !== undefined) frame.counters[which.stat] = (frame.counters[which.stat] ?? 0) + v;
        }
      }
    }
    const intervalMs =
      snapshotMs !== undefined && this.lastSnapshotMs !== undefined && snapshotMs > this.lastSnapshotMs
        ? snapshotMs - this.lastSnapshotMs
        : this.lastAt !== undefined
          ? at - this.lastAt
          : this.modes.defaultIntervalMs;
    if (snapshotMs !== undefined) this.lastSnapshotMs = snapshotMs;
    this.lastAt = at;

    const out: Omit<LoadSample, 'replica' | 'node'>[] = [];
    for (const [cluster, frame] of frames) {
      const c = (stat: Exclude<Stat, 'time'>) => this.counterDelta(cluster, stat, frame.counters[stat]);
      const successes = c('2xx') ?? 0;
      const errors = c('5xx') ?? 0;
      const issued = c('total') ?? successes + errors;
      const latency = frame.hist ? this.histDelta(cluster, frame.hist) : undefined;
      const observed = latency ? sum(latency.counts) : 0;
      if (successes + errors + issued === 0 && observed === 0) continue;
      out.push({ cluster, source: 'metrics', at, intervalMs, successes, errors, issued, dropped: 0, ...(observed ? { latency } : {}) });
    }
    return out;
  }

  private counterDelta(cluster: string, stat: string, value: number | undefined): number | undefined {
    if (value === undefined) return undefined;
    if (this.modes.counters === 'delta') return value;
    const key = `${cluster}\0${stat}`;
    const last = this.lastCounter.get(key);
    this.lastCounter.set(key, value);
    if (last === undefined) return 0; // a baseline: it counts everything since the sender started
    return value < last ? value : value - last;
  }

  private histDelta(cluster: string, h: Buckets): Buckets | undefined {
    if (this.modes.histograms === 'interval') return h;
    const last = this.lastHist.get(cluster);
    this.lastHist.set(cluster, h);
    if (!last) return undefined;
    if (!sameBounds(last.bounds, h.bounds) || h.counts.some((c, i) => c < last.counts[i])) return h; // a restart (or new buckets): all of it is new
    return { bounds: h.bounds, counts: h.counts.map((c, i) => c - last.counts[i]) };
  }
}

export class MetricsService {
  private readonly log: Logger;
  private readonly messages: client.Counter;
  private readonly open: client.Gauge;
  private streams = 0;

  constructor(private readonly opts: MetricsServiceOptions) {
    this.log = opts.logger.child({ component: 'metrics-service' });
    const registers = opts.registry ? [opts.registry] : [];
    this.messages = new prom.Counter({ name: 'banyan_metrics_service_messages_total', help: 'Stats flushes (StreamMetricsMessage) received from Envoys over the metrics service', registers });
    this.open = new prom.Gauge({ name: 'banyan_metrics_service_streams', help: 'Open metrics service streams', registers });
  }

  addToServer(server: grpc.Server): void {
    server.addService(metricsServiceDefinition(wantedFamily), {
      StreamMetrics: (call: grpc.ServerReadableStream<StreamMetricsMessage, object>, callback: grpc.sendUnaryData<object>) => this.serve(call, callback),
    });
  }

  get streamCount(): number {
    return this.streams;
  }

  private serve(call: grpc.ServerReadableStream<StreamMetricsMessage, object>, callback: grpc.sendUnaryData<object>): void {
    const state = new MetricsStreamState({
      counters: this.opts.counters ?? 'delta',
      histograms: this.opts.histograms ?? 'interval',
      defaultIntervalMs: this.opts.defaultIntervalMs ?? 10_000,
    });
    let node = '';
    let closed = false;
    this.streams++;
    this.open.inc();
    const close = () => {
      if (closed) return;
      closed = true;
      this.streams--;
      this.open.dec();
      this.log.debug({ node }, 'metrics service stream closed');
    };
    call.on('data', (msg: StreamMetricsMessage) => {
      this.messages.inc();
      if (msg.identifier?.node?.id) node = msg.identifier.node.id;
      const at = (this.opts.now ?? Date.now)();
      this.opts.writer.add(state.ingest(msg.envoy_metrics ?? [], at).map((s) => ({ ...s, replica: this.opts.replica, node })));
    });
    call.on('end', () => {
      close();
      callback(null, {});
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  }
}
