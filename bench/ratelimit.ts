/**
 * bench:ratelimit — Banyan's rate limit service as shipped (`banyan ratelimit`, its own process;
 * memory and Redis backends) next to envoyproxy/ratelimit itself (go install'ed at a pinned version,
 * bench/support/reference-ratelimit.ts) on the same Redis and the same config, and next to two no-op
 * ceilings (a constant answer on grpc-js and on a lean node:http2 path: bench/ratelimit-transport-server.ts),
 * all in one run.
 *
 * Every target answers the same request bytes (three descriptors: remote_address, path, and a nested
 * tenant/plan pair) under limits of 1,000,000/s, so every decision is "within limit"; a probe answer
 * from each real target must equal the others' (overall code, per-descriptor code and limit).
 * Load is h2load (a native process): peak = closed loop (CONNECTIONS × STREAMS in flight); latency =
 * open loop at one offered rate common to every target (half of the lowest peak of any round), so p99 compares
 * like for like. Server CPU (utime+stime, the server process and all its descendants) is read from
 * /proc around the measured closed loop only (its warm-up is a separate h2load run before), against
 * h2load's count of answers in that window; RSS: steady = median of samples during the measured loop,
 * peak = VmHWM summed over the process tree. Each target runs in a fresh process per round; rounds are
 * interleaved (A B C D E, A B C D E, ...) and medians shown. Redis is flushed before every target.
 *
 * Banyan's own counters (scraped from --metrics-port) show that each answer was a decision: calls,
 * hits (3 per counted call), over limit, backend errors, and fail-opens (failure mode allow is the
 * default: a slow Redis lets requests through uncounted, counted and logged — shown here).
 *
 * BENCH_SECONDS (default 5) is the measured length of each loop, BENCH_ROUNDS (default 3) the rounds.
 * BENCH_RATELIMIT_VARIANTS adds rows, to weigh settings side by side: `label=flags;label=flags` runs
 * Banyan Redis once more per entry with those extra `banyan ratelimit` flags; a flag written
 * `node:--x` goes to NODE_OPTIONS instead (e.g. `semi2=node:--max-semi-space-size=2 --gc-heap-growth 0`).
 * BENCH_TARGETS (comma-separated substrings of row names) keeps only the rows it names.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadEnvoyProtos } from '../src/proto/envoy.js';
import { RedisServer } from '../test/support/redis.js';
import { startBanyanRateLimit, ratelimitHelp, type BanyanCounts, type BanyanRateLimit } from './support/banyan-ratelimit.js';
import { fmt, median, verdict } from './support/format.js';
import { probeCall, writeGrpcBody } from './support/grpc-frame.js';
import { closedLoop, openLoop, type GrpcTarget, type LoadStats, type OpenLoopStats } from './support/h2load.js';
import { treeUsage } from './support/proc-tree.js';
import { REFERENCE_NAME, referenceBinary, startReference, type ReferenceServer } from './support/reference-ratelimit.js';
import { CONFIG_YAML, DESCRIPTORS, REQUEST, RLS_METHOD } from './support/ratelimit-workload.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(2, Number(process.env.BENCH_ROUNDS ?? 3));
const WARMUP_SECONDS = 1;
const CONNECTIONS = 4;
const STREAMS = 16;
const RSS_SAMPLE_MS = 250;
/** An open loop whose rate actually sent is off the common rate by more than this share is run again (twice at most). */
const OPEN_TOLERANCE = 0.1;
const METHOD = RLS_METHOD;
const RESPONSE_TYPE = 'envoy.service.ratelimit.v3.RateLimitResponse';

type Kind = 'ceiling' | 'banyan' | 'reference';
interface Target {
  name: string;
  kind: Kind;
  /** ceiling: the transport of bench/ratelimit-transport-server.ts. */
  transport?: 'grpc-js' | 'h2';
  backend?: 'memory' | 'redis';
  /** Extra flags for banyan ratelimit (e.g. --workers 1). */
  args?: string[];
  /** NODE_OPTIONS for banyan ratelimit (BENCH_RATELIMIT_VARIANTS rows). */
  nodeOptions?: string;
}

/** BENCH_RATELIMIT_VARIANTS: `label=flags;label=flags` (`node:--x` flags go to NODE_OPTIONS). */
function variantRows(spec: string | undefined): { label: string; flags: string; args: string[]; nodeOptions: string }[] {
  return (spec ?? '')
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const at = e.indexOf('=');
      if (at <= 0) throw new Error(`BENCH_RATELIMIT_VARIANTS: "${e}" is not label=flags`);
      const flags = e.slice(at + 1).trim();
      const tokens = flags.split(/\s+/).filter(Boolean);
      const node = tokens.filter((t) => t.startsWith('node:')).map((t) => t.slice('node:'.length));
      return { label: e.slice(0, at), flags, args: tokens.filter((t) => !t.startsWith('node:')), nodeOptions: node.join(' ') };
    });
}

/** A target's server, running. */
interface Running {
  pid: number;
  port: number;
  banyan?: BanyanRateLimit;
  stop(): Promise<void>;
}

interface PeakSample {
  load: LoadStats;
  cpuSeconds: number;
  decisionsPerCpuSecond: number;
  rssSteadyMb: number;
  hwmMb: number;
  /** Redis's own CPU over the same window (not charged to the server). */
  redisCpuSeconds?: number;
  counts?: BanyanCounts;
}

interface OpenSample {
  load: OpenLoopStats;
  hwmMb: number;
  counts?: BanyanCounts;
}

interface Probe {
  overall_code?: string;
  statuses?: { code?: string; current_limit?: { requests_per_unit?: number; unit?: string }; limit_remaining?: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function diff(a: BanyanCounts, b: BanyanCounts): BanyanCounts {
  return { calls: b.calls - a.calls, hits: b.hits - a.hits, overLimit: b.overLimit - a.overLimit, backendErrors: b.backendErrors - a.backendErrors, failOpen: b.failOpen - a.failOpen };
}

function add(a: BanyanCounts | undefined, b: BanyanCounts | undefined): BanyanCounts | undefined {
  if (!a || !b) return a ?? b;
  return { calls: a.calls + b.calls, hits: a.hits + b.hits, overLimit: a.overLimit + b.overLimit, backendErrors: a.backendErrors + b.backendErrors, failOpen: a.failOpen + b.failOpen };
}

/** What a decision says, without what depends on the moment (remaining, reset). */
function decisionShape(p: Probe): string {
  return JSON.stringify({
    overall_code: p.overall_code,
    statuses: (p.statuses ?? []).map((s) => ({ code: s.code, limit: s.current_limit ? `${s.current_limit.requests_per_unit}/${s.current_limit.unit}` : undefined })),
  });
}

function startCeiling(transport: 'grpc-js' | 'h2'): Promise<Running> {
  const entry = fileURLToPath(new URL('./ratelimit-transport-server.js', import.meta.url));
  const proc: ChildProcess = fork(entry, [transport, 'noop'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<Running>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`ceiling ${transport}: exited (${code}) before listening`)));
    proc.on('message', (m: { type?: string; port?: number }) => {
      if (m.type !== 'listening') return;
      resolve({
        pid: proc.pid!,
        port: m.port!,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once('exit', () => done());
            proc.kill('SIGTERM');
          }),
      });
    });
  });
}

/** Banyan's git commit (and whether the tree has uncommitted changes), for the header. */
function banyanRevision(): string {
  try {
    const root = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? ' + uncommitted changes under src/' : ''}`;
  } catch {
    return 'unknown revision';
  }
}

export async function run(): Promise<void> {
  loadEnvoyProtos();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ratelimit-'));
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(configDir);
  fs.writeFileSync(path.join(configDir, 'bench.yaml'), CONFIG_YAML);
  const body = writeGrpcBody(dir, 'should-rate-limit', 'envoy.service.ratelimit.v3.RateLimitRequest', REQUEST);

  // Banyan's targets: as shipped. With a --workers flag (when this build has one): --workers 1, and
  // on Redis also the default, or `auto` (one process per core) when the default is 1. The memory
  // backend counts per process, so it runs with one worker only.
  const help = await ratelimitHelp();
  const hasWorkers = /--workers\b/.test(help);
  const workersDefault = /--workers <[^>]*>[^]*?\(default: ([^)]+)\)/.exec(help)?.[1]?.replace(/"/g, '');
  const one = { suffix: ' (--workers 1)', args: ['--workers', '1'] };
  const many = workersDefault && workersDefault !== '1' ? { suffix: ` (default: --workers ${workersDefault})`, args: [] } : { suffix: ' (--workers auto)', args: ['--workers', 'auto'] };
  const memoryVariants: { suffix: string; args: string[] }[] = hasWorkers ? [one] : [{ suffix: '', args: [] }];
  const redisVariants: { suffix: string; args: string[] }[] = hasWorkers ? [one, many] : [{ suffix: '', args: [] }];
  const ref = await referenceBinary();
  const notes: string[] = [];
  if ('unavailable' in ref) {
    const line = `${REFERENCE_NAME} NOT measured: ${ref.unavailable}. The other targets run; the verdicts against it are not evaluated.`;
    console.error(line);
    notes.push(line);
  }
  const targets: Target[] = [
    { name: 'ceiling: grpc-js no-op', kind: 'ceiling', transport: 'grpc-js' },
    { name: 'ceiling: node:http2 lean no-op', kind: 'ceiling', transport: 'h2' },
    ...memoryVariants.map((v): Target => ({ name: `Banyan memory${v.suffix}`, kind: 'banyan', backend: 'memory', args: v.args })),
    ...redisVariants.map((v): Target => ({ name: `Banyan Redis${v.suffix}`, kind: 'banyan', backend: 'redis', args: v.args })),
    ...variantRows(process.env.BENCH_RATELIMIT_VARIANTS).map(
      (o): Target => ({ name: `Banyan Redis${redisVariants[0]!.suffix} [${o.label}: ${o.flags}]`, kind: 'banyan', backend: 'redis', args: [...redisVariants[0]!.args, ...o.args], nodeOptions: o.nodeOptions || undefined }),
    ),
    ...('bin' in ref ? [{ name: 'envoyproxy/ratelimit Redis', kind: 'reference' as const, backend: 'redis' as const }] : []),
  ];

  const only = (process.env.BENCH_TARGETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (only.length) targets.splice(0, targets.length, ...targets.filter((t) => only.some((o) => t.name.includes(o))));
  if (targets.length === 0) throw new Error(`BENCH_TARGETS=${process.env.BENCH_TARGETS} names no target`);

  const redis = await RedisServer.start();
  const redisClient = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  redisClient.on('error', () => {});
  const redisPid = Number(/process_id:(\d+)/.exec(String(await redisClient.info('server')))?.[1]);
  const redisCpu = () => (Number.isFinite(redisPid) ? treeUsage(redisPid).cpuSeconds : NaN);

  const peaks = new Map<string, PeakSample[]>(targets.map((t) => [t.name, []]));
  const opens = new Map<string, OpenSample[]>(targets.map((t) => [t.name, []]));
  const probes = new Map<string, Probe>();
  const warnings = new Map<string, string[]>(targets.map((t) => [t.name, []]));
  const failOpenLogLines = new Map<string, number>(targets.map((t) => [t.name, 0]));

  const start = async (t: Target): Promise<Running> => {
    await redisClient.flushall();
    if (t.kind === 'ceiling') return startCeiling(t.transport!);
    if (t.kind === 'reference') {
      const r: ReferenceServer = await startReference({ bin: (ref as { bin: string }).bin, redisHostPort: `127.0.0.1:${redis.port}`, config: { 'bench.yaml': CONFIG_YAML }, dir });
      return { pid: r.proc.pid!, port: r.port, stop: r.stop };
    }
    const b = await startBanyanRateLimit({ config: configDir, redisUrl: t.backend === 'redis' ? redis.url : undefined, args: t.args, ...(t.nodeOptions ? { env: { NODE_OPTIONS: t.nodeOptions } } : {}) });
    return {
      pid: b.proc.pid!,
      port: b.port,
      banyan: b,
      stop: async () => {
        warnings.get(t.name)!.push(...b.warnings());
        failOpenLogLines.set(t.name, failOpenLogLines.get(t.name)! + b.failOpenLogLines());
        await b.stop();
      },
    };
  };

  /** A grpc-js client call of exactly h2load's bytes: a real decision, the same from every real target. */
  const probe = async (t: Target, r: Running): Promise<void> => {
    const answer = await probeCall<Probe>(r.port, METHOD, body.message, RESPONSE_TYPE);
    if (answer.overall_code !== 'OK') throw new Error(`${t.name}: probe answered ${JSON.stringify(answer)}, expected overall_code OK`);
    if (t.kind !== 'ceiling') {
      if ((answer.statuses ?? []).length !== DESCRIPTORS) throw new Error(`${t.name}: probe answered ${JSON.stringify(answer)}, expected ${DESCRIPTORS} statuses`);
      if (!probes.has(t.name)) probes.set(t.name, answer);
    }
  };

  const measurePeak = async (t: Target): Promise<PeakSample> => {
    const r = await start(t);
    try {
      await probe(t, r);
      const target: GrpcTarget = { port: r.port, method: METHOD, bodyFile: body.file };
      // Warm-up as its own run, so that the CPU window below holds only the measured loop.
      await closedLoop(target, { connections: CONNECTIONS, streams: STREAMS, seconds: WARMUP_SECONDS, warmupSeconds: 0 });
      const c0 = await r.banyan?.counts();
      const u0 = treeUsage(r.pid);
      const redis0 = t.backend === 'redis' ? redisCpu() : undefined;
      const rss: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await sleep(RSS_SAMPLE_MS);
          if (sampling) rss.push(treeUsage(r.pid).rssMb);
        }
      })();
      const load = await closedLoop(target, { connections: CONNECTIONS, streams: STREAMS, seconds: SECONDS, warmupSeconds: 0 });
      const u1 = treeUsage(r.pid);
      const redis1 = t.backend === 'redis' ? redisCpu() : undefined;
      sampling = false;
      await sampler;
      const c1 = await r.banyan?.counts();
      const counts = c0 && c1 ? diff(c0, c1) : undefined;
      // The server answered at least what h2load counted (a few more: streams in flight at the end).
      // Fewer is shown, not fatal: with several workers the scrape may cover one process only.
      if (counts && counts.calls < load.ok) notes.push(`${t.name}: /metrics counted ${fmt(counts.calls)} calls for ${fmt(load.ok)} HTTP 200s in one closed loop (its counters do not cover every answer)`);
      const cpuSeconds = u1.cpuSeconds - u0.cpuSeconds;
      return {
        load,
        cpuSeconds,
        decisionsPerCpuSecond: load.ok / cpuSeconds,
        rssSteadyMb: median(rss.length ? rss : [u1.rssMb]),
        hwmMb: u1.hwmMb,
        redisCpuSeconds: redis0 !== undefined && redis1 !== undefined ? redis1 - redis0 : undefined,
        counts,
      };
    } finally {
      await r.stop();
    }
  };

  const measureOpen = async (t: Target, rate: number): Promise<OpenSample> => {
    const r = await start(t);
    try {
      await probe(t, r);
      const target: GrpcTarget = { port: r.port, method: METHOD, bodyFile: body.file };
      const c0 = await r.banyan?.counts();
      const load = await openLoop(target, { rate, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, tolerance: OPEN_TOLERANCE, retries: 2 });
      const c1 = await r.banyan?.counts();
      return { load, hwmMb: treeUsage(r.pid).hwmMb, counts: c0 && c1 ? diff(c0, c1) : undefined };
    } finally {
      await r.stop();
    }
  };

  let commonRate = NaN;
  const t0 = Date.now();
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const s = await measurePeak(t);
        peaks.get(t.name)!.push(s);
        const fo = s.counts ? `, fail-open ${s.counts.failOpen}, backend errors ${s.counts.backendErrors}` : '';
        console.error(`peak round ${round}/${ROUNDS} ${t.name}: ${fmt(s.load.perSecond)}/s, p99 ${fmt(s.load.p99Ms, 2)} ms, ${fmt(s.decisionsPerCpuSecond)} decisions/CPU-s, RSS ${fmt(s.rssSteadyMb, 0)} MB${fo}`);
      }
    }
    // One offered rate for every target: half of the lowest peak of any round (not of the medians: on
    // a shared machine a target's slow round is what it may meet again), so that none is saturated.
    commonRate = Math.max(100, Math.round((0.5 * Math.min(...targets.flatMap((t) => peaks.get(t.name)!.map((s) => s.load.perSecond)))) / 100) * 100);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const s = await measureOpen(t, commonRate);
        opens.get(t.name)!.push(s);
        console.error(`open round ${round}/${ROUNDS} ${t.name}: offered ${fmt(s.load.offered)}/s, p50 ${fmt(s.load.p50Ms, 2)} ms, p99 ${fmt(s.load.p99Ms, 2)} ms`);
      }
    }
  } finally {
    redisClient.disconnect();
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // Every real target gave the same decision for the same request.
  const shapes = [...probes.entries()].map(([name, p]) => ({ name, shape: decisionShape(p) }));
  const sameAnswers = shapes.every((s) => s.shape === shapes[0]?.shape);
  if (!sameAnswers) throw new Error(`targets answered the same request differently:\n${shapes.map((s) => `  ${s.name}: ${s.shape}`).join('\n')}`);

  const rows = targets.map((t) => {
    const ps = peaks.get(t.name)!;
    const os_ = opens.get(t.name)!;
    const counts = [...ps, ...os_].reduce<BanyanCounts | undefined>((acc, s) => add(acc, s.counts), undefined);
    const redisPerK = ps.every((s) => s.redisCpuSeconds !== undefined) ? median(ps.map((s) => (s.redisCpuSeconds! / s.load.ok) * 1000)) : NaN;
    return {
      t,
      rps: median(ps.map((s) => s.load.perSecond)),
      rpsAll: ps.map((s) => s.load.perSecond),
      p50: median(ps.map((s) => s.load.p50Ms)),
      p99: median(ps.map((s) => s.load.p99Ms)),
      cpuPerK: median(ps.map((s) => (s.cpuSeconds / s.load.ok) * 1000)),
      perCpu: median(ps.map((s) => s.decisionsPerCpuSecond)),
      perCpuAll: ps.map((s) => s.decisionsPerCpuSecond),
      redisPerK,
      offered: median(os_.map((s) => s.load.offered)),
      openP50: median(os_.map((s) => s.load.p50Ms)),
      openP99: median(os_.map((s) => s.load.p99Ms)),
      openP99All: os_.map((s) => s.load.p99Ms),
      rssSteady: median(ps.map((s) => s.rssSteadyMb)),
      hwm: Math.max(...ps.map((s) => s.hwmMb), ...os_.map((s) => s.hwmMb)),
      failed: [...ps, ...os_].reduce((n, s) => n + s.load.failed, 0),
      counts,
    };
  });
  const refRow = rows.find((r) => r.t.kind === 'reference');
  const vsRef = (v: number, b: number | undefined) => (b === undefined || !Number.isFinite(b) ? 'n/a' : `${(v / b).toFixed(2)}×`);
  const range = (xs: number[], d = 0) => (xs.length > 1 ? ` (${xs.map((x) => fmt(x, d)).join(', ')})` : '');

  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  console.log(
    `Banyan ${banyanRevision()} as shipped: \`banyan ratelimit\` in its own process (defaults: failure mode allow, 50 ms timeout; ${hasWorkers ? `--workers default ${workersDefault ?? 'unknown'}` : 'this build has no --workers flag'}); ` +
      `${'bin' in ref ? `${REFERENCE_NAME} (defaults, USE_STATSD=false, GOMAXPROCS = all CPUs)` : 'reference not measured'}; ceilings = constant answer (bench/ratelimit-transport-server.ts). ` +
      `Same config and request (3 descriptors: remote_address, path, tenant→plan; every decision within limit), same redis-server (flushed before every target). ` +
      `h2load: peak = closed loop ${CONNECTIONS} connections × ${STREAMS} streams for ${SECONDS}s after a separate ${WARMUP_SECONDS}s warm-up; latency = open loop at ${fmt(commonRate)}/s for every target (half of the lowest peak of any round), one connection, a request group every ms, a pass more than 10% off that rate run again (twice at most; the rate actually sent is shown). ` +
      `${ROUNDS} interleaved rounds, fresh server process each, medians shown (each round in parentheses). CPU = utime+stime of the server process and all its descendants over the measured closed loop, per HTTP 200 h2load counted; ` +
      `Redis's own CPU is charged to no server (shown apart). RSS steady = median of samples during the measured loop; peak = VmHWM summed over the process tree, highest of all runs. ` +
      `Node ${process.version}, ${os.cpus().length} CPUs (shared machine), load average ${os.loadavg()[0].toFixed(1)}; ${minutes} min.\n`,
  );
  console.log(
    '| target | decisions/s (peak) | p50 / p99 ms at peak | server CPU-s per 1k decisions | decisions per server CPU-s | vs reference | Redis CPU-s per 1k | common rate: offered/s | p50 / p99 ms | RSS MB steady / peak | failed streams | Banyan: calls / hits / over limit / backend errors / fail-open (logged lines) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const c = r.counts;
    const banyan = c ? `${fmt(c.calls)} / ${fmt(c.hits)} / ${c.overLimit} / ${c.backendErrors} / ${c.failOpen} (${failOpenLogLines.get(r.t.name)})` : r.t.kind === 'ceiling' ? 'n/a (no-op)' : 'n/a (not exposed)';
    console.log(
      `| ${r.t.name} | ${fmt(r.rps)}${range(r.rpsAll)} | ${fmt(r.p50, 2)} / ${fmt(r.p99, 2)} | ${fmt(r.cpuPerK, 3)} | ${fmt(r.perCpu)}${range(r.perCpuAll)} | ${vsRef(r.perCpu, refRow?.perCpu)} | ${fmt(r.redisPerK, 3)} | ` +
        `${fmt(r.offered)} | ${fmt(r.openP50, 2)} / ${fmt(r.openP99, 2)}${range(r.openP99All, 2)} | ${fmt(r.rssSteady, 0)} / ${fmt(r.hwm, 0)} | ${r.failed} | ${banyan} |`,
    );
  }

  console.log(`\nprobe answers (the same request, before load): ${sameAnswers ? 'identical overall_code and statuses (code, limit) from every real target' : 'DIFFER'}: ${shapes[0]?.shape ?? 'n/a'}`);
  for (const r of rows) {
    const c = r.counts;
    if (!c) continue;
    // Hits are counted as a call is planned (before the backend answers, as the reference's
    // total_hits), so a fail-open has its hits too: 3 per call, less calls still in flight at a scrape.
    const w = warnings.get(r.t.name)!;
    console.log(
      `${r.t.name}: ${c.failOpen ? `${fmt(c.failOpen)} calls failed open (answered OK without the backend's count; banyan_ratelimit_failure_mode_allowed_total), ${failOpenLogLines.get(r.t.name)} log lines said so` : 'no fail-open'}; ` +
        `${c.backendErrors} backend errors; ${c.overLimit} over limit; ${fmt(c.hits / c.calls, 3)} hits per call (${DESCRIPTORS} descriptors)` +
        (w.length ? `; first warning: ${w[0].slice(0, 300)}` : ''),
    );
  }

  const banyanRedis = rows.filter((r) => r.t.kind === 'banyan' && r.t.backend === 'redis');
  console.log('\ntargets (Banyan Redis vs envoyproxy/ratelimit Redis, same run):');
  if (!refRow) console.log(`- not evaluated: ${'unavailable' in ref ? ref.unavailable : 'the reference did not run'}`);
  else
    for (const b of banyanRedis) {
      const cpu = b.perCpu / refRow.perCpu;
      console.log(`- ${b.t.name}: decisions per server CPU-s ≥ 1.0× the reference (stretch 1.5×) — ${cpu.toFixed(2)}× (${fmt(b.perCpu)} vs ${fmt(refRow.perCpu)}), ${verdict(cpu >= 1)}${cpu >= 1.5 ? ', stretch met' : ', stretch not met'}`);
      console.log(`- ${b.t.name}: p99 ≤ the reference's at the same offered load (${fmt(commonRate)}/s) — ${fmt(b.openP99, 2)} ms vs ${fmt(refRow.openP99, 2)} ms, ${verdict(b.openP99 <= refRow.openP99)}`);
      console.log(`- ${b.t.name}: RSS ≤ 2× the reference's — steady ${(b.rssSteady / refRow.rssSteady).toFixed(2)}× (${fmt(b.rssSteady, 0)} vs ${fmt(refRow.rssSteady, 0)} MB), peak ${(b.hwm / refRow.hwm).toFixed(2)}× (${fmt(b.hwm, 0)} vs ${fmt(refRow.hwm, 0)} MB), ${verdict(b.rssSteady <= 2 * refRow.rssSteady && b.hwm <= 2 * refRow.hwm)}`);
    }
  for (const n of notes) console.log(`\nnote: ${n}`);
}
