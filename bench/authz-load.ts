/**
 * Load generator for bench:authz, run as a separate process so that client work does not share
 * the server's event loop. Receives { port, requests, concurrency, durationMs } over IPC, keeps
 * `concurrency` Check calls in flight for the duration (after a short warm-up) and replies with
 * throughput, latency percentiles and how many answers were not OK.
 */
import * as grpc from '@grpc/grpc-js';
import { authorizationServiceDefinition } from '../src/proto/grpc.js';

export interface LoadJob {
  port: number;
  requests: unknown[];
  concurrency: number;
  durationMs: number;
  warmupMs: number;
}

export interface LoadResult {
  calls: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  notOk: number;
}

const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');

async function drive(client: grpc.Client & Record<string, Function>, job: LoadJob, durationMs: number, record: boolean) {
  const latencies: number[] = [];
  let notOk = 0;
  let next = 0;
  const end = performance.now() + durationMs;
  const lane = async () => {
    while (performance.now() < end) {
      const req = job.requests[next++ % job.requests.length];
      const t0 = performance.now();
      const res = await new Promise<{ status?: { code?: number } }>((resolve, reject) =>
        client.Check(req, (err: Error | null, r: never) => (err ? reject(err) : resolve(r))),
      );
      if (record) latencies.push(performance.now() - t0);
      if ((res.status?.code ?? 0) !== 0) notOk++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  return { latencies, notOk, elapsedMs: performance.now() - started };
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const client = new Client(`127.0.0.1:${job.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  try {
    await drive(client, job, job.warmupMs, false);
    const { latencies, notOk, elapsedMs } = await drive(client, job, job.durationMs, true);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? NaN;
    return { calls: latencies.length, perSecond: latencies.length / (elapsedMs / 1000), p50Ms: pct(50), p99Ms: pct(99), notOk };
  } finally {
    client.close();
  }
}

process.on('message', (job: LoadJob) => {
  runJob(job).then(
    (result) => process.send!({ ok: true, result }),
    (err: Error) => process.send!({ ok: false, error: err.message }),
  );
});
