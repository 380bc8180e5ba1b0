/**
 * bench:ratelimit-redis — the Redis work of rate limit decisions on each Node Redis client, against a
 * real redis-server (test/support/redis.ts), and whether a second Redis for per-second counters (the
 * reference's REDIS_PERSECOND / REDIS_PERSECOND_URL) pays off.
 *
 * One decision = what Banyan's RedisBackend sends for a request of 1 or 3 descriptors: per descriptor
 * INCRBY key 1 + EXPIRE key window, issued together (bench/ratelimit-redis-client-child.ts; for
 * "banyan" it is RedisBackend itself, on @redis/client). Clients: Banyan's RedisBackend; the RedisBackend
 * Banyan had before, on ioredis (a devDependency now) with enableAutoPipelining on (as it ran) and off;
 * bare @redis/client (node-redis v5, pipelines what is written in one tick, Banyan's dependency);
 * @valkey/valkey-glide (Rust core, prebuilt per platform), not a dependency: it is `npm install
 * --prefix`ed into node_modules/.cache/bench-redis-clients at bench time, and if it does not install or
 * load it is reported with the reason.
 *
 * Each client runs in its own child process, closed loop at 1, 50 and 200 decisions in flight. Its CPU
 * (utime+stime, all threads) and RSS come from /proc/<pid>, redis-server's CPU from /proc/<its pid>
 * (process_id of INFO server), both over the measured window only (after a warm-up). INFO commandstats
 * proves every run sent exactly 2 commands per descriptor per decision. Rounds are interleaved (every
 * client of a cell, then the next cell, ... then round 2), medians shown.
 *
 * Per-second part: 3 descriptors, two per-second and one per-minute, on RedisBackend as Banyan runs it:
 * all on one Redis vs per-second keys on a second redis-server. Compared on decisions per CPU-s of all
 * processes involved (client + every redis-server), p99, and how much of a core the single Redis used.
 *
 * BENCH_SECONDS (default 3) per run, BENCH_ROUNDS (default 2, at least 2); BENCH_REDIS_CLIENTS=a,b picks the
 * clients of the client table (empty: only the per-second part).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { RedisServer } from '../test/support/redis.js';
import { fmt, median } from './support/format.js';
import type { ChildSpec, ClientName } from './ratelimit-redis-client-child.js';
import { processCpuSeconds, processMemoryMb } from './support/proc-tree.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Math.max(2, Number(process.env.BENCH_ROUNDS ?? 2));
const WARMUP_SECONDS = 1;
const CONCURRENCY = [1, 50, 200];
const DESCRIPTORS = [1, 3];
const ALL_CLIENTS: ClientName[] = ['banyan', 'ioredis', 'ioredis-no-autopipelining', 'node-redis', 'valkey-glide'];
/** BENCH_REDIS_CLIENTS=a,b: only these in the client table; set and empty: none, only the per-second part. */
const CLIENTS: ClientName[] = process.env.BENCH_REDIS_CLIENTS !== undefined ? (process.env.BENCH_REDIS_CLIENTS.split(',').filter(Boolean) as ClientName[]) : ALL_CLIENTS;
/** npm packages of the clients that are not dependencies, with the range installed. */
const OPTIONAL: Partial<Record<ClientName, { pkg: string; range: string }>> = {
  'valkey-glide': { pkg: '@valkey/valkey-glide', range: '^2' },
};
const CLIENT_LABEL: Record<ClientName, string> = {
  banyan: 'RedisBackend on @redis/client (Banyan)',
  ioredis: 'former RedisBackend on ioredis, auto-pipelining',
  'ioredis-no-autopipelining': 'former RedisBackend on ioredis, no auto-pipelining',
  'node-redis': '@redis/client, without RedisBackend',
  'valkey-glide': '@valkey/valkey-glide',
};
const MINUTE = 60;
/** The per-second mix: remote_address and path per second, user per minute. */
const MIXED_WINDOWS = [1, MINUTE, 1];

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
const CACHE_DIR = path.join(repoRoot, 'node_modules', '.cache', 'bench-redis-clients');


/** Installs the optional clients into CACHE_DIR when missing; returns why each one is unavailable, if it is. */
async function installOptional(): Promise<Map<ClientName, string>> {
  const missing = new Map<ClientName, string>();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const manifest = path.join(CACHE_DIR, 'package.json');
  if (!fs.existsSync(manifest)) fs.writeFileSync(manifest, '{ "name": "bench-redis-clients", "private": true }\n');
  const resolves = (pkg: string) => {
    try {
      createRequire(manifest).resolve(pkg);
      return true;
    } catch {
      return false;
    }
  };
  for (const [client, { pkg, range }] of Object.entries(OPTIONAL) as [ClientName, { pkg: string; range: string }][]) {
    if (!CLIENTS.includes(client) || resolves(pkg)) continue;
    console.error(`installing ${pkg}@${range} into ${CACHE_DIR}`);
    try {
      // Saved into the cache directory's own package.json, so that the next install there keeps it.
      await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--prefix', CACHE_DIR, `${pkg}@${range}`], { timeout: 300_000 });
      if (!resolves(pkg)) missing.set(client, `npm install ${pkg}@${range} succeeded but the package does not resolve`);
    } catch (err) {
      missing.set(client, `npm install ${pkg}@${range} failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
    }
  }
  return missing;
}

function versionOf(client: ClientName): string {
  const pkg = client.startsWith('ioredis') ? 'ioredis' : client === 'banyan' || client === 'node-redis' ? '@redis/client' : OPTIONAL[client]!.pkg;
  const base = OPTIONAL[client] ? path.join(CACHE_DIR, 'package.json') : path.join(repoRoot, 'package.json');
  try {
    let dir = path.dirname(createRequire(base).resolve(pkg));
    while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== pkg) dir = path.dirname(dir);
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;
  } catch {
    return '?';
  }
}

interface Cell {
  id: string;
  client: ClientName;
  descriptors: number;
  concurrency: number;
  windows: number[];
  split: boolean;
}

interface Sample {
  decisions: number;
  errors: number;
  elapsedS: number;
  clientCpuS: number;
  /** Per redis-server (one, or two with split). */
  redisCpuS: number[];
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
}

interface RedisSide {
  server: RedisServer;
  control: Redis;
  pid: number;
}

async function side(server: RedisServer): Promise<RedisSide> {
  const control = server.client();
  const info = String(await control.info('server'));
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!pid) throw new Error(`no process_id in INFO server of ${server.url}`);
  return { server, control, pid };
}

async function commandCalls(r: RedisSide): Promise<Record<string, number>> {
  const info = String(await r.control.info('commandstats'));
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function waitFor<T extends { type: string }>(proc: ChildProcess, type: string, stderr: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`exited (${code}) before "${type}": ${stderr().trim().split('\n').slice(-3).join(' | ')}`));
    };
    const cleanup = () => {
      proc.off('message', onMessage);
      proc.off('exit', onExit);
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

async function measure(cell: Cell, sides: RedisSide[]): Promise<Sample> {
  const used = cell.split ? sides : [sides[0]];
  for (const r of used) await r.control.flushall();
  const spec: ChildSpec = {
    client: cell.client,
    urls: used.map((r) => r.server.url),
    descriptors: cell.descriptors,
    concurrency: cell.concurrency,
    windows: cell.windows,
    split: cell.split,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    cacheDir: CACHE_DIR,
  };
  const entry = fileURLToPath(new URL('./ratelimit-redis-client-child.js', import.meta.url));
  const proc = fork(entry, [JSON.stringify(spec)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  try {
    await waitFor(proc, 'warm', () => stderr);
    for (const r of used) await r.control.config('RESETSTAT');
    const pid = proc.pid!;
    const c0 = processCpuSeconds(pid);
    const r0 = used.map((r) => processCpuSeconds(r.pid));
    const done = waitFor<{ type: string; decisions: number; errors: number; lastError: string; elapsedMs: number }>(proc, 'done', () => stderr);
    proc.send({ type: 'go' });
    const d = await done;
    const c1 = processCpuSeconds(pid);
    const r1 = used.map((r) => processCpuSeconds(r.pid));
    const rssMb = processMemoryMb(pid).rss;
    const report = waitFor<{ type: string; p50Ms: number; p99Ms: number }>(proc, 'report', () => stderr);
    proc.send({ type: 'report' });
    const rep = await report;
    if (d.errors) throw new Error(`${d.errors} of ${d.decisions} decisions failed (last: ${d.lastError})`);
    // Exactly RedisBackend's commands: one INCRBY and one EXPIRE per descriptor of every decision.
    const calls = await Promise.all(used.map(commandCalls));
    const expected = cell.windows.slice(0, cell.descriptors);
    const onSide = (i: number) => d.decisions * expected.filter((w) => (cell.split ? (w === 1) === (i === 1) : true)).length;
    calls.forEach((c, i) => {
      const want = onSide(i);
      const extra = Object.keys(c).filter((k) => !['incrby', 'expire', 'info', 'config'].includes(k));
      if (c.incrby !== want || c.expire !== want || extra.length) throw new Error(`redis ${i}: ${JSON.stringify(c)}, expected incrby = expire = ${want}`);
    });
    return { decisions: d.decisions, errors: d.errors, elapsedS: d.elapsedMs / 1000, clientCpuS: c1 - c0, redisCpuS: r1.map((v, i) => v - r0[i]), p50Ms: rep.p50Ms, p99Ms: rep.p99Ms, rssMb };
  } finally {
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.send({ type: 'exit' }, () => {});
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
  }
}

interface Summary {
  cell: Cell;
  rps: number;
  clientPerK: number;
  redisPerK: number;
  perCpuS: number;
  redisCore: number;
  p50: number;
  p99: number;
  rss: number;
}

function summarize(cell: Cell, ss: Sample[]): Summary {
  const redis = (s: Sample) => s.redisCpuS.reduce((a, b) => a + b, 0);
  return {
    cell,
    rps: median(ss.map((s) => s.decisions / s.elapsedS)),
    clientPerK: median(ss.map((s) => (s.clientCpuS / s.decisions) * 1000)),
    redisPerK: median(ss.map((s) => (redis(s) / s.decisions) * 1000)),
    perCpuS: median(ss.map((s) => s.decisions / (s.clientCpuS + redis(s)))),
    // The busiest redis-server's share of one core over the window.
    redisCore: median(ss.map((s) => Math.max(...s.redisCpuS) / s.elapsedS)),
    p50: median(ss.map((s) => s.p50Ms)),
    p99: median(ss.map((s) => s.p99Ms)),
    rss: median(ss.map((s) => s.rssMb)),
  };
}

export async function run(): Promise<void> {
  const unavailable = await installOptional();
  const servers = [await RedisServer.start(), await RedisServer.start()];
  const sides = await Promise.all(servers.map(side));
  const allWindows = [MINUTE, MINUTE, MINUTE];
  const cells: Cell[] = [];
  for (const descriptors of DESCRIPTORS)
    for (const concurrency of CONCURRENCY)
      for (const client of CLIENTS) cells.push({ id: `${client}/${descriptors}/${concurrency}`, client, descriptors, concurrency, windows: allWindows, split: false });
  const perSecond: Cell[] = [];
  for (const concurrency of CONCURRENCY)
    for (const split of [false, true]) perSecond.push({ id: `persecond/${concurrency}/${split}`, client: 'banyan', descriptors: 3, concurrency, windows: MIXED_WINDOWS, split });

  const samples = new Map<string, Sample[]>();
  try {
    // A client that cannot start is found in its first cell and then left out, with the reason.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const cell of [...cells, ...perSecond]) {
        if (unavailable.has(cell.client)) continue;
        try {
          const s = await measure(cell, sides);
          (samples.get(cell.id) ?? samples.set(cell.id, []).get(cell.id)!).push(s);
          console.error(
            `round ${round}/${ROUNDS} ${cell.id}${cell.split ? ' (2 redis)' : ''}: ${fmt(s.decisions / s.elapsedS)} decisions/s, client ${fmt((s.clientCpuS / s.decisions) * 1000, 3)} + redis ${fmt((s.redisCpuS.reduce((a, b) => a + b, 0) / s.decisions) * 1000, 3)} CPU-s/1k, p99 ${fmt(s.p99Ms, 2)} ms`,
          );
        } catch (err) {
          const why = (err as Error).message;
          if (!samples.has(cell.id) && round === 1 && cell.descriptors === DESCRIPTORS[0] && cell.concurrency === CONCURRENCY[0] && !cell.split) {
            unavailable.set(cell.client, `does not run here: ${why}`);
            console.error(`${cell.client}: not measured (${why})`);
          } else throw new Error(`${cell.id}: ${why}`);
        }
      }
    }
  } finally {
    for (const s of sides) s.control.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  }

  const redisVersion = await promisify(execFile)('redis-server', ['--version']).then((r) => /v=(\S+)/.exec(r.stdout)?.[1] ?? '?', () => '?');
  console.log(
    `One decision = Banyan's RedisBackend.check() of 1 or 3 fixed-window descriptors (per descriptor INCRBY + EXPIRE, issued together; 10,000 distinct values per descriptor key). ` +
      `Closed loop, 1/50/200 decisions in flight, ${SECONDS}s per run after ${WARMUP_SECONDS}s warm-up, ${ROUNDS} interleaved rounds, medians shown. ` +
      `Each client in its own child process; CPU (utime+stime, all threads) from /proc/<pid>/stat of that child and of redis-server ${redisVersion} (loopback, no persistence); ` +
      `INFO commandstats checked: exactly 2 commands per descriptor per decision, none other. Node ${process.version}, ${os.cpus().length} CPUs (shared machine: other work may run beside it), load average ${os.loadavg()[0].toFixed(1)}.\n`,
  );
  console.log('| client (version) | descriptors | in flight | decisions/s | client CPU-s per 1k | redis CPU-s per 1k | decisions per CPU-s (client+redis) | vs former (ioredis auto) | p50 ms | p99 ms | client RSS MB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const sum = new Map<string, Summary>();
  for (const cell of [...cells, ...perSecond]) {
    const ss = samples.get(cell.id);
    if (ss?.length) sum.set(cell.id, summarize(cell, ss));
  }
  for (const cell of cells) {
    const r = sum.get(cell.id);
    if (!r) continue;
    const base = sum.get(`ioredis/${cell.descriptors}/${cell.concurrency}`);
    console.log(
      `| ${CLIENT_LABEL[cell.client]} (${versionOf(cell.client)}) | ${cell.descriptors} | ${cell.concurrency} | ${fmt(r.rps)} | ${fmt(r.clientPerK, 3)} | ${fmt(r.redisPerK, 3)} | ${fmt(r.perCpuS)} | ${base ? `${(r.perCpuS / base.perCpuS).toFixed(2)}×` : 'n/a'} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.rss, 0)} |`,
    );
  }
  for (const [client, why] of unavailable) console.log(`\n${CLIENT_LABEL[client]}: NOT measured — ${why}`);

  console.log(
    `\nPer-second Redis (the reference's REDIS_PERSECOND_URL): 3 descriptors per decision, remote_address and path per second, user per minute, on RedisBackend as Banyan runs it; ` +
      `"2 redis" sends the per-second keys to a second redis-server (2 of 3 INCRBY+EXPIRE pairs), the rest to the first. CPU = client + every redis-server. ` +
      `"busiest redis" = CPU-s per wall second of the busier redis-server (1.00 = one core saturated).\n`,
  );
  console.log('| in flight | redis servers | decisions/s | client CPU-s per 1k | redis CPU-s per 1k (all) | decisions per CPU-s (all) | vs 1 redis | p50 ms | p99 ms | busiest redis (core share) |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const verdicts: string[] = [];
  for (const concurrency of CONCURRENCY) {
    const one = sum.get(`persecond/${concurrency}/false`);
    const two = sum.get(`persecond/${concurrency}/true`);
    for (const r of [one, two]) {
      if (!r) continue;
      console.log(
        `| ${concurrency} | ${r.cell.split ? 2 : 1} | ${fmt(r.rps)} | ${fmt(r.clientPerK, 3)} | ${fmt(r.redisPerK, 3)} | ${fmt(r.perCpuS)} | ${one ? `${(r.perCpuS / one.perCpuS).toFixed(2)}×` : 'n/a'} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${r.redisCore.toFixed(2)} |`,
      );
    }
    if (one && two) verdicts.push(`${concurrency} in flight: ${(two.perCpuS / one.perCpuS).toFixed(2)}× decisions per CPU-s, ${(two.rps / one.rps).toFixed(2)}× decisions/s, p99 ${fmt(one.p99, 3)} → ${fmt(two.p99, 3)} ms, single Redis at ${one.redisCore.toFixed(2)} of a core`);
  }
  if (verdicts.length) {
    const pays = CONCURRENCY.every((c) => {
      const one = sum.get(`persecond/${c}/false`);
      const two = sum.get(`persecond/${c}/true`);
      return one && two && two.perCpuS >= one.perCpuS && two.p99 <= one.p99;
    });
    console.log(`\nSecond Redis for per-second keys: ${verdicts.join('; ')}.`);
    const peakCore = Math.max(...CONCURRENCY.map((c) => sum.get(`persecond/${c}/false`)?.redisCore ?? NaN));
    console.log(
      pays
        ? 'It pays off here: at least as many decisions per CPU-s and no worse p99 at every concurrency.'
        : `It does not pay off here: the second redis-server does not give at least as many decisions per CPU-s at no worse p99 at every concurrency. ` +
            `The single Redis used at most ${peakCore.toFixed(2)} of a core` +
            (peakCore < 0.8
              ? ': the Node client, not Redis, is the bottleneck, and the split costs it a second socket, a second batch and reply parse per decision (and a second redis-server wake-up). ' +
                'A per-second Redis is a capacity measure for a Redis that saturates its core, which this load does not do.'
              : ' (near saturation), yet the split still costs more than it frees on this machine.'),
    );
  }
}
