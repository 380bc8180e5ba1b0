/**
 * bench:ratelimit-transport — the rate limit service's unary call on each transport alternative,
 * same handler (Banyan's RateLimiter, memory backend, from src/ratelimit), same request bytes, same
 * load generator (h2load, a separate native process):
 *   - grpc-js: Banyan's RateLimitServer as served today;
 *   - h2: a lean gRPC unary path on node:http2 with the protobufjs codecs (bench/ratelimit-transport-server.ts);
 * each next to its no-op ceiling (a constant response). Every server runs in its own child process so
 * that its CPU time (utime+stime) and RSS come from /proc/<pid>. Rounds are interleaved
 * (A B C D, A B C D, ...) so that every target shares the machine's noise; the figures shown are the
 * medians over rounds. @connectrpc/connect-node is measured when importable (BENCH_CONNECT_DIR: it is
 * not a dependency). BENCH_REDIS=1 adds the limiter on Redis on both transports and envoyproxy/ratelimit
 * itself (go install'ed into node_modules/.cache) on the same Redis and config.
 *
 * Per target: closed loop (CONNECTIONS × STREAMS in flight) req/s and p50/p99, an open loop at one
 * fixed offered rate common to all targets (p50/p99 at the same load), server CPU-seconds per 1,000
 * decisions over the closed loop, and RSS after it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadEnvoyProtos } from '../src/proto/envoy.js';
import { RedisServer } from '../test/support/redis.js';
import { fmt, median } from './support/format.js';
import { probeCall, writeGrpcBody } from './support/grpc-frame.js';
import { closedLoop, openLoop, type GrpcTarget, type LoadStats, type OpenLoopStats } from './support/h2load.js';
import { REFERENCE_VERSION, referenceBinary, startReference } from './support/reference-ratelimit.js';
import { processCpuSeconds, processMemoryMb } from './support/proc-tree.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const OPEN_RATE = Number(process.env.BENCH_OPEN_RATE ?? 2000);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 4;
const STREAMS = 16;
const METHOD = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const REQUEST = { domain: 'bench', descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.1' }] }] };

interface TargetSpec {
  name: string;
  transport: 'grpc-js' | 'h2' | 'connect' | 'reference';
  handler: 'real' | 'noop' | 'redis';
}

const ALL_TARGETS: TargetSpec[] = [
  { name: 'grpc-js', transport: 'grpc-js', handler: 'real' },
  { name: 'node:http2 lean', transport: 'h2', handler: 'real' },
  { name: 'connect-node', transport: 'connect', handler: 'real' },
  { name: 'grpc-js no-op ceiling', transport: 'grpc-js', handler: 'noop' },
  { name: 'node:http2 lean no-op ceiling', transport: 'h2', handler: 'noop' },
  { name: 'connect-node no-op ceiling', transport: 'connect', handler: 'noop' },
];
/** BENCH_REDIS=1: the same limiter on Redis, next to envoyproxy/ratelimit itself on the same Redis and config. */
const REDIS_TARGETS: TargetSpec[] = [
  { name: 'grpc-js redis', transport: 'grpc-js', handler: 'redis' },
  { name: 'node:http2 lean redis', transport: 'h2', handler: 'redis' },
  { name: 'envoyproxy/ratelimit redis', transport: 'reference', handler: 'redis' },
];
const REFERENCE_CONFIG = 'domain: bench\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 1000000 }\n';

/** As the server's: from node_modules, else from BENCH_CONNECT_DIR. */
async function importOptional(name: string): Promise<unknown> {
  try {
    return await import(name);
  } catch {
    const dir = process.env.BENCH_CONNECT_DIR;
    if (!dir) throw new Error(`${name} is not installed`);
    return import(pathToFileURL(createRequire(`${dir}/package.json`).resolve(name)).href);
  }
}

/** @connectrpc/connect-node is not a dependency: measured when importable (node_modules or BENCH_CONNECT_DIR). */
async function connectAvailable(): Promise<boolean> {
  try {
    await importOptional('@connectrpc/connect-node');
    return true;
  } catch {
    return false;
  }
}

interface Counts {
  calls: number;
  hits: number;
  overLimit: number;
  backendErrors: number;
}

interface Sample {
  peak: LoadStats;
  open: OpenLoopStats;
  /** Server CPU seconds over the closed loop (warm-up included, as are its decisions). */
  cpuSeconds: number;
  /** Calls the server handled over the closed loop (warm-up included). */
  calls: number;
  rssMb: number;
  hwmMb: number;
}

class Child {
  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    /** Whether it answers `counts` over IPC (Banyan's child does; the reference does not). */
    readonly counted = true,
    private readonly stopper?: () => Promise<void>,
  ) {}

  /** envoyproxy/ratelimit on loopback with the same config and Redis (bench/support/reference-ratelimit.ts); its calls are counted by h2load only. */
  static async startReference(bin: string, redisPort: number, dir: string): Promise<Child> {
    const ref = await startReference({ bin, redisHostPort: `127.0.0.1:${redisPort}`, config: { 'bench.yaml': REFERENCE_CONFIG }, dir });
    return new Child(ref.proc, ref.port, false, ref.stop);
  }

  static async start(spec: TargetSpec, redisUrl?: string): Promise<Child> {
    const entry = fileURLToPath(new URL('./ratelimit-transport-server.js', import.meta.url));
    const proc = fork(entry, [spec.transport, spec.handler], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...(redisUrl ? { BENCH_REDIS_URL: redisUrl } : {}) } });
    const port = await new Promise<number>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`${spec.name}: server exited (${code}) before listening`)));
      proc.on('message', (m: { type?: string; port?: number }) => m.type === 'listening' && resolve(m.port!));
    });
    return new Child(proc, port);
  }

  counts(): Promise<Counts> {
    if (!this.counted) return Promise.resolve({ calls: NaN, hits: NaN, overLimit: NaN, backendErrors: NaN });
    return new Promise((resolve) => {
      const on = (m: Counts & { type?: string }) => {
        if (m.type !== 'counts') return;
        this.proc.off('message', on);
        resolve(m);
      };
      this.proc.on('message', on);
      this.proc.send({ type: 'counts' });
    });
  }

  stop(): Promise<void> {
    if (this.stopper) return this.stopper();
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGTERM');
    });
  }
}


export async function run(): Promise<void> {
  loadEnvoyProtos();
  const haveConnect = await connectAvailable();
  const TARGETS = ALL_TARGETS.filter((t) => haveConnect || t.transport !== 'connect');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rl-transport-'));
  const body = writeGrpcBody(dir, 'should-rate-limit', 'envoy.service.ratelimit.v3.RateLimitRequest', REQUEST);
  const samples = new Map<string, Sample[]>();

  const withRedis = process.env.BENCH_REDIS === '1';
  const redis = withRedis ? await RedisServer.start() : undefined;
  const ref = withRedis ? await referenceBinary() : undefined;
  if (ref && 'unavailable' in ref) console.error(`envoyproxy/ratelimit not measured: ${ref.unavailable}`);
  const refBin = ref && 'bin' in ref ? ref.bin : undefined;
  if (withRedis) TARGETS.push(...REDIS_TARGETS.filter((t) => t.transport !== 'reference' || refBin));
  for (const t of TARGETS) samples.set(t.name, []);
  const measure = async (spec: TargetSpec): Promise<Sample> => {
    const child = spec.transport === 'reference' ? await Child.startReference(refBin!, redis!.port, dir) : await Child.start(spec, redis?.url);
    try {
      const pid = child.proc.pid!;
      const target: GrpcTarget = { port: child.port, method: METHOD, bodyFile: body.file };
      // A real grpc-js client call of the same bytes: proves status, trailers and response decoding.
      const answer = await probeCall<{ overall_code?: string }>(child.port, METHOD, body.message, 'envoy.service.ratelimit.v3.RateLimitResponse');
      if (answer.overall_code !== 'OK') throw new Error(`${spec.name}: probe answered ${JSON.stringify(answer)}`);
      const before = await child.counts();
      const cpu0 = processCpuSeconds(pid);
      const peak = await closedLoop(target, { connections: CONNECTIONS, streams: STREAMS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
      const cpu1 = processCpuSeconds(pid);
      const mid = await child.counts();
      const mem = processMemoryMb(pid);
      const open = await openLoop(target, { rate: OPEN_RATE, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
      const after = await child.counts();
      // The reference reports no count over IPC: h2load's answers, scaled to include the warm-up its
      // CPU time covers (an estimate, flagged in the table).
      const calls = child.counted ? mid.calls - before.calls : Math.round((peak.ok * (SECONDS + WARMUP_SECONDS)) / SECONDS);
      if (calls < peak.ok) throw new Error(`${spec.name}: server handled ${calls} calls for ${peak.ok} HTTP 200s`);
      if (spec.handler !== 'noop' && child.counted) {
        const hits = after.hits - before.hits;
        const over = after.overLimit - before.overLimit;
        const errs = after.backendErrors - before.backendErrors;
        if (hits < peak.ok + open.ok || over || errs) throw new Error(`${spec.name}: limiter counted hits ${hits}, over ${over}, errors ${errs} for ${peak.ok + open.ok} HTTP 200s`);
      }
      return { peak, open, cpuSeconds: cpu1 - cpu0, calls, rssMb: mem.rss, hwmMb: mem.hwm };
    } finally {
      await child.stop();
    }
  };

  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const spec of TARGETS) {
        const s = await measure(spec);
        samples.get(spec.name)!.push(s);
        console.error(`round ${round}/${ROUNDS} ${spec.name}: ${fmt(s.peak.perSecond)} req/s, ${fmt((s.cpuSeconds / s.calls) * 1000, 3)} CPU-s/1k, p99 ${fmt(s.peak.p99Ms, 2)} ms`);
      }
    }
  } finally {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const summary = TARGETS.map((t) => {
    const ss = samples.get(t.name)!;
    const perK = ss.map((s) => (s.cpuSeconds / s.calls) * 1000);
    return {
      spec: t,
      rps: median(ss.map((s) => s.peak.perSecond)),
      rpsMin: Math.min(...ss.map((s) => s.peak.perSecond)),
      rpsMax: Math.max(...ss.map((s) => s.peak.perSecond)),
      p50: median(ss.map((s) => s.peak.p50Ms)),
      p99: median(ss.map((s) => s.peak.p99Ms)),
      openP50: median(ss.map((s) => s.open.p50Ms)),
      openP99: median(ss.map((s) => s.open.p99Ms)),
      offered: median(ss.map((s) => s.open.offered)),
      cpuPerK: median(perK),
      cpuPerKMin: Math.min(...perK),
      cpuPerKMax: Math.max(...perK),
      perCpuSecond: median(ss.map((s) => s.calls / s.cpuSeconds)),
      rss: median(ss.map((s) => s.rssMb)),
      hwm: Math.max(...ss.map((s) => s.hwmMb)),
      failed: ss.reduce((n, s) => n + s.peak.failed + s.open.failed, 0),
    };
  });
  const base = (handler: TargetSpec['handler']) => summary.find((r) => r.spec.transport === 'grpc-js' && r.spec.handler === handler)!;
  const handlerName = { real: 'RateLimiter (memory)', noop: 'no-op ceiling', redis: 'RateLimiter (Redis)' } as const;
  const x = (v: number, b: number) => `${(v / b).toFixed(2)}×`;

  console.log(
    `h2load in a separate process: closed loop ${CONNECTIONS} connections × ${STREAMS} streams, ${SECONDS}s after ${WARMUP_SECONDS}s warm-up; ` +
      `open loop ${OPEN_RATE}/s on one connection; ${ROUNDS} interleaved rounds, medians shown (min–max where given). ` +
      `Node ${process.version}, ${os.cpus().length} CPUs (shared machine: other work may run beside it), load average ${os.loadavg()[0].toFixed(1)}. ` +
      `Same request bytes for all; handler = Banyan's RateLimiter (memory backend; with BENCH_REDIS=1 also on Redis, whose own CPU is in no row), every Banyan answer a counted decision within limit. ` +
      `CPU from /proc/<pid>/stat of the server's own child process; ratios against grpc-js with the same handler.\n`,
  );
  console.log('| transport | handler | req/s (min–max) | vs grpc-js | p50 ms | p99 ms | open loop: offered/s | p50 ms | p99 ms | server CPU-s per 1k (min–max) | calls per CPU-s | vs grpc-js | RSS MB (peak) | failed |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of summary) {
    const b = base(r.spec.handler);
    console.log(
      `| ${r.spec.transport} | ${r.spec.transport === 'reference' ? 'its own (Redis)' : handlerName[r.spec.handler]} | ${fmt(r.rps)} (${fmt(r.rpsMin)}–${fmt(r.rpsMax)}) | ${x(r.rps, b.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.offered)} | ${fmt(r.openP50, 2)} | ${fmt(r.openP99, 2)} | ` +
        `${fmt(r.cpuPerK, 3)} (${fmt(r.cpuPerKMin, 3)}–${fmt(r.cpuPerKMax, 3)}) | ${fmt(r.perCpuSecond)} | ${x(r.perCpuSecond, b.perCpuSecond)} | ${fmt(r.rss, 0)} (${fmt(r.hwm, 0)}) | ${r.failed} |`,
    );
  }
  if (summary.some((r) => r.spec.transport === 'reference'))
    console.log(`\nenvoyproxy/ratelimit ${REFERENCE_VERSION} (its GOMAXPROCS = all CPUs, default settings, USE_STATSD=false): calls per CPU-s estimated from h2load's count scaled to the warm-up its CPU time covers.`);
  if (!haveConnect) console.log('\n@connectrpc/connect-node not measured: not a dependency of Banyan; `npm install @connectrpc/connect-node@2` in a directory and set BENCH_CONNECT_DIR to it.');
  if (haveConnect) console.log('connect-node: gRPC protocol only, DescService built at start from the loaded protobufjs root, messages mapped by hand to the RateLimiter\'s object form.');
}
