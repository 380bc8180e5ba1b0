/**
 * bench:ratelimit — ShouldRateLimit decisions per second and latency for the memory and Redis
 * backends, next to a same-run ceiling: a grpc-js server with the same service definition whose
 * handler does no work. Load comes from h2load (bench/support/h2load.ts), a native process: peak is
 * a closed loop, latency is measured open loop at half of each target's own peak.
 *
 * Every request is the same descriptor under a limit of 1,000,000/s, so every decision is "within
 * limit"; the server's own counters are read after each target to prove that every HTTP 200 was a
 * real decision (hits counted, none over limit, no backend errors).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { rateLimitServiceDefinition } from '../src/proto/grpc.js';
import { createRedisClient, RedisBackend } from '../src/ratelimit/backend/redis.js';
import { parseRateLimitYaml } from '../src/config/ratelimit/parse.js';
import { createRateLimitServer, type RateLimitServer } from '../src/ratelimit/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { RedisServer } from '../test/support/redis.js';
import { counterTotal } from './support/counters.js';
import { fmt, pct, verdict } from './support/format.js';
import { probeCall, writeGrpcBody } from './support/grpc-frame.js';
import { closedLoop, openLoop, type GrpcTarget, type LoadStats, type OpenLoopStats } from './support/h2load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 4;
const STREAMS = 16;
const METHOD = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const REQUEST = { domain: 'bench', descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.1' }] }] };

const DOMAINS = parseRateLimitYaml(
  'domain: bench\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 1000000 }\n',
  'bench.yaml',
).domains;

interface Row {
  name: string;
  peak: LoadStats;
  half: OpenLoopStats;
  /** What the server itself counted over both runs (undefined for the no-op ceiling). */
  server?: { hits: number; overLimit: number; backendErrors: number };
}

async function ceilingServer(): Promise<{ port: number; stop: () => void }> {
  const server = new grpc.Server();
  const answer = { overall_code: 'OK', statuses: [{ code: 'OK' }] };
  server.addService(rateLimitServiceDefinition(), { ShouldRateLimit: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, answer) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, stop: () => server.forceShutdown() };
}

async function serverCounts(s: RateLimitServer): Promise<NonNullable<Row['server']>> {
  const m = s.limiter.metrics;
  return { hits: await counterTotal(m.totalHits), overLimit: await counterTotal(m.overLimit), backendErrors: await counterTotal(m.backendErrors) };
}

export async function run(): Promise<void> {
  const log = createLogger('bench', 'silent');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ratelimit-'));
  const body = writeGrpcBody(dir, 'should-rate-limit', 'envoy.service.ratelimit.v3.RateLimitRequest', REQUEST);
  const rows: Row[] = [];

  const measure = async (name: string, port: number, server?: RateLimitServer): Promise<void> => {
    const target: GrpcTarget = { port, method: METHOD, bodyFile: body.file };
    const answer = await probeCall<{ overall_code?: string }>(port, METHOD, body.message, 'envoy.service.ratelimit.v3.RateLimitResponse');
    if (answer.overall_code !== 'OK') throw new Error(`${name}: probe answered ${JSON.stringify(answer)}, expected overall_code OK`);
    const before = server && (await serverCounts(server));
    const peak = await closedLoop(target, { connections: CONNECTIONS, streams: STREAMS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
    const half = await openLoop(target, { rate: Math.round(peak.perSecond / 2), seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
    let counted: Row['server'];
    if (server && before) {
      const after = await serverCounts(server);
      counted = { hits: after.hits - before.hits, overLimit: after.overLimit - before.overLimit, backendErrors: after.backendErrors - before.backendErrors };
      // Warm-up requests are decisions too, so the server counts at least what h2load measured.
      // A backend error (e.g. the 50 ms Redis timeout on a loaded machine) is answered as a gRPC
      // error inside an HTTP 200: it is shown in the table, and the bench goes on.
      if (counted.hits < peak.ok + half.ok - counted.backendErrors || counted.overLimit)
        throw new Error(`${name}: server counted ${JSON.stringify(counted)} for ${peak.ok + half.ok} HTTP 200s; not every answer was a decision within limit`);
    }
    rows.push({ name, peak, half, server: counted });
  };

  try {
    const ceiling = await ceilingServer();
    try {
      await measure('ceiling (no-op handler)', ceiling.port);
    } finally {
      ceiling.stop();
    }

    const memory = createRateLimitServer({ domains: DOMAINS, log });
    try {
      await measure('memory backend', await memory.start(0, '127.0.0.1'), memory);
    } finally {
      await memory.stop();
    }

    const redis = await RedisServer.start();
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const withRedis = createRateLimitServer({ domains: DOMAINS, backend, log, failureMode: 'deny' });
    try {
      await backend.ready();
      await measure('redis backend', await withRedis.start(0, '127.0.0.1'), withRedis);
    } finally {
      await withRedis.stop();
      await redis.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const ceiling = rows[0].peak.perSecond;
  console.log(
    `h2load: peak = closed loop, ${CONNECTIONS} connections × ${STREAMS} streams; half = open loop at half the row's own peak, one connection, a request group every ms; ` +
      `${SECONDS}s each after ${WARMUP_SECONDS}s warm-up; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}\n`,
  );
  console.log('| target | decisions/s | vs ceiling | p50 ms | p99 ms | half: offered/s | half: p50 ms | half: p99 ms | failed streams | server: hits / over limit / backend errors (gRPC errors in HTTP 200s) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const s = r.server ? `${fmt(r.server.hits)} / ${r.server.overLimit} / ${r.server.backendErrors}` : 'n/a (no-op)';
    console.log(
      `| ${r.name} | ${fmt(r.peak.perSecond)} | ${pct(r.peak.perSecond, ceiling)} | ${fmt(r.peak.p50Ms, 2)} | ${fmt(r.peak.p99Ms, 2)} | ${fmt(r.half.offered)} | ${fmt(r.half.p50Ms, 2)} | ${fmt(r.half.p99Ms, 2)} | ${r.peak.failed + r.half.failed} | ${s} |`,
    );
  }
  const redisRow = rows[2];
  console.log(`\ntargets (redis): decisions/s ≥ 70% of ceiling — ${pct(redisRow.peak.perSecond, ceiling)}, ${verdict(redisRow.peak.perSecond >= 0.7 * ceiling)}; p99 < 5 ms at half peak — ${fmt(redisRow.half.p99Ms, 2)} ms, ${verdict(redisRow.half.p99Ms < 5)}`);
}
