/**
 * bench:ratelimit-rss — the memory of `banyan ratelimit` as shipped: `node bin/banyan.js ratelimit
 * --config <dir> --port 0` (memory backend) and the same with `--redis` (a real redis-server), each
 * in a fresh process. VmRSS and VmHWM are read from /proc/<pid>/status once it listens (idle, after
 * IDLE_SETTLE_MS) and after LOAD_DECISIONS ShouldRateLimit calls (h2load -n, a native client, so the
 * figures are the service's own), next to a bare `node -e` of the same binary.
 *
 * Then where the memory goes: each module group the ratelimit path loads, imported alone into a
 * fresh `node` (what it costs by itself, over bare node) and cumulatively in the order the command
 * loads them (what it adds on top of the ones before), with the number of CommonJS modules each
 * brings. Every figure is a median of BENCH_ROUNDS (default 3) fresh processes.
 *
 * Node/V8 flags are reported as information only (users run `banyan ratelimit` directly):
 * --max-semi-space-size=1 and --max-old-space-size=64.
 *
 * The reference (envoyproxy/ratelimit, ~29–39 MB) is not built here: see bench:ratelimit.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadEnvoyProtos } from '../src/proto/envoy.js';
import { RedisServer } from '../test/support/redis.js';
import { banyanBin } from './support/banyan-ratelimit.js';
import { fmt, median } from './support/format.js';
import { probeCall, writeGrpcBody } from './support/grpc-frame.js';
import { parseStatusKb } from './support/proc-tree.js';
import { CONFIG_YAML, REQUEST, RLS_METHOD } from './support/ratelimit-workload.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOAD_DECISIONS = Number(process.env.LOAD_DECISIONS ?? 20_000);
const IDLE_SETTLE_MS = 1_000;
const H2LOAD = process.env.H2LOAD ?? 'h2load';
const METHOD = RLS_METHOD;


interface Mem {
  rssKb: number;
  hwmKb: number;
}

function readMem(pid: number): Mem {
  return parseStatusKb(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (kb: number) => fmt(kb / 1024, 1);

/** A bare `node -e` that stays up, read like the service. */
async function bareNode(nodeFlags: string[] = []): Promise<Mem> {
  const proc = spawn(process.execPath, [...nodeFlags, '-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
  await sleep(IDLE_SETTLE_MS);
  const m = readMem(proc.pid!);
  proc.kill('SIGKILL');
  return m;
}

interface ServiceRun {
  idle: Mem;
  loaded: Mem;
}

/** One fresh `banyan ratelimit`: waits for its "listening" log line (which names the port), reads /proc, loads, reads again. */
async function runService(configDir: string, body: { file: string; message: Buffer }, o: { redisUrl?: string; nodeFlags?: string[] }): Promise<ServiceRun> {
  const args = [...(o.nodeFlags ?? []), banyanBin(), 'ratelimit', '--config', configDir, '--port', '0', ...(o.redisUrl ? ['--redis', o.redisUrl] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`banyan ratelimit did not listen within 30 s: ${stderr}${out.slice(-2000)}`)), 30_000);
      proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        for (const line of out.split('\n')) {
          if (!line.includes('rate limit service listening')) continue;
          clearTimeout(timer);
          resolve(Number(/"port":(\d+)/.exec(line)![1]));
        }
      });
      proc.once('exit', (code, sig) => (clearTimeout(timer), reject(new Error(`banyan ratelimit exited (${code ?? sig}): ${stderr}${out}`))));
    });
    await sleep(IDLE_SETTLE_MS);
    const idle = readMem(proc.pid!);
    // The request is understood (h2load only sees HTTP 200, gRPC errors are in trailers).
    const answer = await probeCall<{ overall_code: string }>(port, METHOD, body.message, 'envoy.service.ratelimit.v3.RateLimitResponse');
    if (answer.overall_code !== 'OK') throw new Error(`probe answered ${JSON.stringify(answer)}`);
    const report = await h2loadCount(port, body.file, LOAD_DECISIONS);
    if (report.succeeded < LOAD_DECISIONS) throw new Error(`h2load: ${report.succeeded}/${LOAD_DECISIONS} succeeded`);
    await sleep(IDLE_SETTLE_MS);
    const loaded = readMem(proc.pid!);
    return { idle, loaded };
  } finally {
    proc.kill('SIGKILL');
  }
}

/** Exactly `n` unary calls (h2load -n), 4 connections × 10 streams. */
function h2loadCount(port: number, bodyFile: string, n: number): Promise<{ succeeded: number }> {
  const args = ['-n', String(n), '-c', '4', '-m', '10', '-d', bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}${METHOD}`];
  return new Promise((resolve, reject) =>
    execFile(H2LOAD, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'h2load not found: apt-get install nghttp2-client or set H2LOAD' : `h2load: ${err.message}\n${stderr}`));
      const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(stdout);
      resolve({ succeeded: m ? Number(m[1]) : 0 });
    }),
  );
}

/** Module groups in the order `banyan ratelimit` loads them (bin → CLI → ratelimit/run). */
function groups(dist: string): { name: string; imports: string[] }[] {
  const own = (p: string) => pathToFileURL(path.join(dist, 'src', p)).href;
  return [
    { name: 'commander', imports: ['commander'] },
    { name: 'pino', imports: ['pino'] },
    { name: 'prom-client (+@opentelemetry/api)', imports: ['prom-client'] },
    { name: 'yaml', imports: ['yaml'] },
    { name: 'chokidar', imports: ['chokidar'] },
    { name: 'protobufjs', imports: ['protobufjs'] },
    { name: '@redis/client', imports: ['@redis/client'] },
    { name: 'Banyan CLI (cli/main.js + commands/ratelimit.js)', imports: [own('cli/main.js'), own('cli/commands/ratelimit.js')] },
    { name: 'Banyan ratelimit/run.js', imports: [own('ratelimit/run.js')] },
    { name: 'Envoy protos loaded (loadEnvoyProtos)', imports: [`${own('proto/envoy.js')}#load`] },
    // Not needed by `banyan ratelimit` (without --xds); 0 "in order" = already loaded by a row above.
    { name: 'zod', imports: ['zod'] },
    { name: '@grpc/grpc-js', imports: ['@grpc/grpc-js'] },
    { name: '@peculiar/x509 (+reflect-metadata)', imports: ['reflect-metadata', '@peculiar/x509'] },
  ];
}

/** The child's script: imports each step's modules, reports VmRSS (after a GC) and the CommonJS module count after each. */
function importScript(steps: string[][]): string {
  return `
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const rss = () => Number(/^VmRSS:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const out = [];
globalThis.gc(); out.push({ rssKb: rss(), heapKb: process.memoryUsage().heapUsed / 1024, cjs: Object.keys(require.cache).length });
for (const step of ${JSON.stringify(steps)}) {
  for (const spec of step) {
    if (spec.endsWith('#load')) (await import(spec.slice(0, -5))).loadEnvoyProtos();
    else await import(spec);
  }
  globalThis.gc(); out.push({ rssKb: rss(), heapKb: process.memoryUsage().heapUsed / 1024, cjs: Object.keys(require.cache).length });
}
console.log(JSON.stringify(out));
`;
}

function runImports(root: string, steps: string[][]): Promise<{ rssKb: number; heapKb: number; cjs: number }[]> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', importScript(steps)], { cwd: root, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`import child: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!)),
    ),
  );
}

export async function run(): Promise<void> {
  const bin = banyanBin();
  const root = path.dirname(path.dirname(bin));
  const dist = path.join(root, 'dist');
  if (!fs.existsSync(path.join(dist, 'src', 'cli', 'main.js'))) throw new Error('dist/ not built: npm run build');
  loadEnvoyProtos();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ratelimit-rss-'));
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(configDir);
  fs.writeFileSync(path.join(configDir, 'bench.yaml'), CONFIG_YAML);
  const body = writeGrpcBody(dir, 'should-rate-limit', 'envoy.service.ratelimit.v3.RateLimitRequest', REQUEST);
  const redis = await RedisServer.start();
  try {
    const flagSets: { label: string; flags: string[] }[] = [
      { label: '', flags: [] },
      { label: ' --max-semi-space-size=1 (info)', flags: ['--max-semi-space-size=1'] },
      { label: ' --max-old-space-size=64 (info)', flags: ['--max-old-space-size=64'] },
    ];
    console.log(`banyan ratelimit, fresh process each, median of ${ROUNDS}; loaded = after ${fmt(LOAD_DECISIONS)} decisions (h2load, 3 descriptors each); peak = VmHWM at the end`);
    console.log('');
    console.log('| process | idle RSS MB | RSS after load MB | peak (VmHWM) MB |');
    console.log('|---|---:|---:|---:|');
    for (const { label, flags } of flagSets) {
      const bare: Mem[] = [];
      for (let i = 0; i < ROUNDS; i++) bare.push(await bareNode(flags));
      console.log(`| bare \`node -e\`${label} | ${mb(median(bare.map((m) => m.rssKb)))} | – | ${mb(median(bare.map((m) => m.hwmKb)))} |`);
      for (const backend of ['memory', 'redis'] as const) {
        const runs: ServiceRun[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          if (backend === 'redis') await flushAll(redis);
          runs.push(await runService(configDir, body, { redisUrl: backend === 'redis' ? redis.url : undefined, nodeFlags: flags }));
        }
        console.log(
          `| banyan ratelimit, ${backend}${label} | ${mb(median(runs.map((r) => r.idle.rssKb)))} | ${mb(median(runs.map((r) => r.loaded.rssKb)))} | ${mb(median(runs.map((r) => r.loaded.hwmKb)))} |`,
        );
      }
    }
    console.log('| envoyproxy/ratelimit | reference: see bench:ratelimit | | |');
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // Where it goes.
  const gs = groups(dist);
  const alone: number[][] = gs.map(() => []);
  const aloneCjs: number[] = gs.map(() => 0);
  const cumulative: number[][] = gs.map(() => []);
  const cumulativeHeap: number[][] = gs.map(() => []);
  const cumulativeCjs: number[] = gs.map(() => 0);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < gs.length; i++) {
      // protos need protobufjs; measured alone means "with its own imports", as a process would load it
      const [before, after] = await runImports(root, [gs[i].imports]);
      alone[i].push(after.rssKb - before.rssKb);
      aloneCjs[i] = after.cjs - before.cjs;
    }
    const steps = await runImports(root, gs.map((g) => g.imports));
    for (let i = 0; i < gs.length; i++) {
      cumulative[i].push(steps[i + 1].rssKb - steps[i].rssKb);
      cumulativeHeap[i].push(steps[i + 1].heapKb - steps[i].heapKb);
      cumulativeCjs[i] = steps[i + 1].cjs - steps[i].cjs;
    }
  }
  console.log('');
  console.log(`What each import adds (VmRSS after a GC, median of ${ROUNDS}; heap = V8 heapUsed after the GC, the steadier figure, since freed heap pages are reused by later rows; "alone" = imported by itself into bare node, "in order" = on top of the rows above it, the order the command loads them):`);
  console.log('');
  console.log('| module group | alone MB | CJS modules | in order MB | in order heap MB | CJS modules |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (let i = 0; i < gs.length; i++) {
    console.log(`| ${gs[i].name} | ${mb(median(alone[i]))} | ${aloneCjs[i]} | ${mb(median(cumulative[i]))} | ${mb(median(cumulativeHeap[i]))} | ${cumulativeCjs[i]} |`);
  }
  console.log('');
  console.log('The last rows are not needed by `banyan ratelimit` without --xds: "alone" is what they would cost; "in order" near 0 with 0 modules means a row above (the CLI, run.js) already loaded them.');
}

async function flushAll(redis: RedisServer): Promise<void> {
  const c = redis.client();
  try {
    await c.flushall();
  } finally {
    c.disconnect();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  run().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
