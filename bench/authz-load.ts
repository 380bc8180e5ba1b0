/**
 * Node load generator for bench:authz's fresh-token scenarios, where every request must carry a
 * different token, which h2load (one body for every request) cannot do. Run as its own process so
 * it never shares the server's event loop, and kept as light as grpc-js allows: requests arrive
 * already encoded, go out as raw bytes over several connections, and answers are not decoded (the
 * bench reads the server's allow/deny counters instead). Receives a LoadJob over IPC (advanced
 * serialization, so Buffers cross as Buffers) and replies with throughput and latency percentiles.
 */
import * as grpc from '@grpc/grpc-js';

export interface LoadJob {
  port: number;
  method: string;
  /** Encoded CheckRequest messages, sent round robin. */
  requests: Buffer[];
  connections: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
}

export interface LoadResult {
  calls: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const raw = (b: Buffer) => b;

async function drive(clients: grpc.Client[], job: LoadJob, durationMs: number, latencies: Float64Array | undefined) {
  let next = 0;
  let done = 0;
  let errors = 0;
  const end = performance.now() + durationMs;
  const lane = (lane: number) =>
    new Promise<void>((resolve) => {
      const client = clients[lane % clients.length];
      const one = () => {
        if (performance.now() >= end) return resolve();
        const t0 = performance.now();
        client.makeUnaryRequest(job.method, raw, raw, job.requests[next++ % job.requests.length], (err) => {
          if (err) errors++;
          else if (latencies && done < latencies.length) latencies[done++] = performance.now() - t0;
          one();
        });
      };
      one();
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => lane(i)));
  return { done, errors, elapsedMs: performance.now() - started };
}

async function runJob(received: LoadJob): Promise<LoadResult> {
  // Structured clone delivers Uint8Arrays; grpc-js writes Buffers. Wrapped once, not per call.
  const job = { ...received, requests: received.requests.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) };
  // A local subchannel pool per client makes each its own HTTP/2 connection.
  const clients = Array.from({ length: job.connections }, () => new grpc.Client(`127.0.0.1:${job.port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  try {
    await drive(clients, job, job.warmupMs, undefined);
    // Preallocated: recording a latency must not allocate. 200k/s is far above any fresh-verify rate.
    const latencies = new Float64Array(Math.ceil((job.durationMs / 1000) * 200_000));
    const { done, errors, elapsedMs } = await drive(clients, job, job.durationMs, latencies);
    const sorted = latencies.subarray(0, done).sort();
    const pct = (p: number) => (done ? sorted[Math.max(0, Math.ceil(p * done) - 1)] : NaN);
    return { calls: done, errors, perSecond: done / (elapsedMs / 1000), p50Ms: pct(0.5), p99Ms: pct(0.99) };
  } finally {
    for (const c of clients) c.close();
  }
}

process.on('message', (job: LoadJob) => {
  runJob(job).then(
    (result) => process.send!({ ok: true, result }),
    (err: Error) => process.send!({ ok: false, error: err.message }),
  );
});
