/**
 * bench:ratelimit — ShouldRateLimit decisions per second and latency for the memory and Redis
 * backends, next to a same-run ceiling: a grpc-js server with the same service definition whose
 * handler does no work. The load generator is a separate process (bench/ratelimit-client.ts).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { rateLimitServiceDefinition } from '../src/proto/grpc.js';
import { createRedisClient, RedisBackend } from '../src/ratelimit/backend/redis.js';
import { parseRateLimitYaml } from '../src/ratelimit/config.js';
import { createRateLimitServer } from '../src/ratelimit/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { RedisServer } from '../test/support/redis.js';

const CHANNELS = 4;
const CONCURRENCY = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ratelimit-client.js');

const DOMAINS = parseRateLimitYaml(
  'domain: bench\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 1000000 }\n',
  'bench.yaml',
).domains;

interface LoadResult {
  calls: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

function load(port: number, mode: 'closed' | 'open', amount: number): Promise<LoadResult> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CLIENT, `127.0.0.1:${port}`, mode, String(CHANNELS), String(amount), String(SECONDS)], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!)),
    ),
  );
}

async function ceilingServer(): Promise<{ port: number; stop: () => void }> {
  const server = new grpc.Server();
  const answer = { overall_code: 'OK', statuses: [{ code: 'OK' }] };
  server.addService(rateLimitServiceDefinition(), { ShouldRateLimit: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, answer) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, stop: () => server.forceShutdown() };
}

export async function run(): Promise<void> {
  const log = createLogger('bench', 'silent');
  const rows: { name: string; peak: LoadResult; half: LoadResult }[] = [];
  const measure = async (name: string, port: number) => {
    const peak = await load(port, 'closed', CONCURRENCY);
    const half = await load(port, 'open', Math.round(peak.rps / 2));
    rows.push({ name, peak, half });
  };

  const ceiling = await ceilingServer();
  try {
    await measure('ceiling (no-op handler)', ceiling.port);
  } finally {
    ceiling.stop();
  }

  const memory = createRateLimitServer({ domains: DOMAINS, log });
  try {
    await measure('memory backend', await memory.start(0, '127.0.0.1'));
  } finally {
    await memory.stop();
  }

  const redis = await RedisServer.start();
  const backend = new RedisBackend(createRedisClient({ url: redis.url }));
  const withRedis = createRateLimitServer({ domains: DOMAINS, backend, log, failureMode: 'deny' });
  try {
    await backend.ready();
    await measure('redis backend', await withRedis.start(0, '127.0.0.1'));
  } finally {
    await withRedis.stop();
    await redis.stop();
  }

  const base = rows[0].peak.rps;
  const f = (n: number, d = 2) => n.toFixed(d);
  console.log(`load: ${CHANNELS} channels, ${CONCURRENCY} in flight (peak) / open loop at half the peak rate; ${SECONDS}s each\n`);
  console.log('| target | decisions/s | vs ceiling | p50 ms | p99 ms | half-peak rate | p99 ms at half peak | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${f(r.peak.rps, 0)} | ${f((100 * r.peak.rps) / base, 1)}% | ${f(r.peak.p50Ms)} | ${f(r.peak.p99Ms)} | ${f(r.half.rps, 0)} | ${f(r.half.p99Ms)} | ${r.peak.errors + r.half.errors} |`);
  }
}
