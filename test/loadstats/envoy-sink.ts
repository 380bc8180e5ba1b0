/**
 * A scripted stand-in for Envoy's `envoy.stat_sinks.metrics_service`: a client of
 * envoy.service.metrics.v3.MetricsService built by @grpc/proto-loader from Envoy's own protos (the
 * @grpc/grpc-js-xds tree) and Prometheus' client_model metrics.proto, which that tree lacks: it comes
 * from the client_model Go module, fetched through the Go module proxy (and cached by Go), so neither
 * the test nor Banyan's in-code declaration of it is what the messages are encoded with.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_INCLUDE_DIRS } from '../../src/proto/paths.js';

const run = promisify(execFile);
export const CLIENT_MODEL = 'github.com/prometheus/client_model@v0.6.3';

/** The client_model module's directory (holding io/prometheus/client/metrics.proto). */
export async function clientModelDir(): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', CLIENT_MODEL], { timeout: 300_000, env: { ...process.env, GOFLAGS: '-mod=mod' } });
  const dir = (JSON.parse(stdout) as { Dir?: string; Error?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${CLIENT_MODEL}: ${stdout}`);
  return dir;
}

export const prometheusProtoFile = (dir: string) => path.join(dir, 'io', 'prometheus', 'client', 'metrics.proto');

export interface SinkStream {
  send(msg: object): void;
  /** Half-closes the stream and waits for Banyan's (empty) answer. */
  end(): Promise<void>;
  cancel(): void;
}

export interface EnvoySink {
  open(): SinkStream;
  close(): void;
}

export async function envoySink(address: string): Promise<EnvoySink> {
  const def = protoLoader.loadSync('envoy/service/metrics/v3/metrics_service.proto', {
    includeDirs: [...PROTO_INCLUDE_DIRS, await clientModelDir()],
    keepCase: true,
    longs: Number,
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Client = pkg.envoy.service.metrics.v3.MetricsService as typeof grpc.Client;
  const client = new Client(address, grpc.credentials.createInsecure()) as any;
  return {
    open() {
      let done!: Promise<void>;
      let call!: grpc.ClientWritableStream<object>;
      done = new Promise<void>((resolve, reject) => {
        call = client.StreamMetrics((err: grpc.ServiceError | null) => (err ? reject(err) : resolve()));
      });
      done.catch(() => {});
      return {
        send: (msg) => void call.write(msg),
        end: async () => {
          call.end();
          await done;
        },
        cancel: () => call.cancel(),
      };
    },
    close: () => client.close(),
  };
}

/** Envoy's default histogram bucket bounds (ms for upstream_rq_time). */
export const ENVOY_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** A HISTOGRAM family as Envoy's sink writes it: one metric, cumulative (`le`) bucket counts over ENVOY_BUCKETS. */
export function histogramFamily(name: string, cumulative: number[], opts: { labels?: Record<string, string>; timestampMs?: number; sum?: number } = {}): object {
  const counts = ENVOY_BUCKETS.map((_, i) => cumulative[Math.min(i, cumulative.length - 1)]);
  return {
    name,
    type: 'HISTOGRAM',
    metric: [
      {
        label: Object.entries(opts.labels ?? {}).map(([n, v]) => ({ name: n, value: v })),
        timestamp_ms: opts.timestampMs ?? Date.now(),
        histogram: {
          sample_count: counts[counts.length - 1],
          sample_sum: opts.sum ?? 0,
          bucket: ENVOY_BUCKETS.map((upper_bound, i) => ({ upper_bound, cumulative_count: counts[i] })),
        },
      },
    ],
  };
}

/** The SUMMARY family Envoy sends under the same name next to the histogram (Banyan must ignore it). */
export function summaryFamily(name: string, labels: Record<string, string> = {}): object {
  return {
    name,
    type: 'SUMMARY',
    metric: [{ label: Object.entries(labels).map(([n, v]) => ({ name: n, value: v })), summary: { sample_count: 1_000_000, sample_sum: 1e9, quantile: [{ quantile: 0.99, value: 123456 }] } }],
  };
}

export function counterFamily(name: string, value: number, labels: Record<string, string> = {}, timestampMs = Date.now()): object {
  return { name, type: 'COUNTER', metric: [{ label: Object.entries(labels).map(([n, v]) => ({ name: n, value: v })), timestamp_ms: timestampMs, counter: { value } }] };
}

export function gaugeFamily(name: string, value: number): object {
  return { name, type: 'GAUGE', metric: [{ gauge: { value } }] };
}
