/**
 * bench:xds — config change → every simulated proxy ACKed, at 100 and 1,000 SotW and 1,000 delta ADS streams opened from
 * a separate process (bench/xds-clients.ts), on 1,000 routes and 500 clusters built by the real
 * loader and compiler. Baseline (same run): loading + compiling + encoding the whole snapshot once.
 * Each row runs in its own forked `node --expose-gc` server process, so memory figures are per row.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { ResourceAdmission } from '../src/admission/resources.js';
import { grpcCapabilityDiagnostics } from '../src/admission/grpc.js';
import { compile } from '../src/compile/index.js';
import type { CompiledSnapshot } from '../src/compile/types.js';
import { loadConfigFromString } from '../src/config/load.js';
import { createRegistry } from '../src/telemetry/metrics.js';
import { SnapshotCache } from '../src/xds/cache.js';
import { XdsServer } from '../src/xds/server.js';
import { runSideBySide } from './support/xds-side.js';
import { median } from './support/format.js';

const LISTENERS = 10;
const ROUTES_PER_LISTENER = 100;
const CLUSTERS = 500;
const CHANGES = 10;
type Mode = 'sotw' | 'delta';
const ROWS: { proxies: number; mode: Mode }[] = [
  { proxies: 100, mode: 'sotw' },
  { proxies: 1000, mode: 'sotw' },
  { proxies: 1000, mode: 'delta' },
];
/** argv[2] of a forked row process. */
const ROW_ARG = '--bench-xds-row';

/** The config after `change` edits: each edit shifts one route's weights and moves one cluster's endpoint. */
function configYaml(change: number): string {
  const out: string[] = ['listeners:'];
  for (let l = 0; l < LISTENERS; l++) {
    out.push(`  - name: edge-${l}`, `    port: ${10000 + l}`, '    hosts:', '      - domains: ["*"]', '        routes:');
    for (let r = 0; r < ROUTES_PER_LISTENER; r++) {
      const i = l * ROUTES_PER_LISTENER + r;
      const shifted = change > 0 && i === (change * 97) % (LISTENERS * ROUTES_PER_LISTENER);
      const w = shifted ? 90 - change : 90;
      out.push(
        `          - name: route-${i}`,
        `            match: { prefix: /svc-${i}/ }`,
        `            to: [{ cluster: c-${i % CLUSTERS}, weight: ${w} }, { cluster: c-${(i + 1) % CLUSTERS}, weight: ${100 - w} }]`,
      );
    }
  }
  out.push('clusters:');
  for (let c = 0; c < CLUSTERS; c++) {
    const moved = change > 0 && c === (change * 31) % CLUSTERS;
    out.push(`  - name: c-${c}`, `    endpoints: [10.${(c >> 8) & 255}.${c & 255}.${moved ? 100 + change : 1}:8080]`);
  }
  return out.join('\n') + '\n';
}

export function build(change: number): CompiledSnapshot {
  const loaded = loadConfigFromString(configYaml(change), 'bench.yaml');
  if (!loaded.config) throw new Error(`bench config invalid: ${loaded.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('; ')}`);
  return compile(loaded.config);
}

/** Resources whose content differs between two snapshots: the ground truth for "encodes per change". */
function changedResources(a: CompiledSnapshot, b: CompiledSnapshot): number {
  const seen = new Set<string>();
  let n = 0;
  for (const [group, set] of b.groups) {
    for (const [type, resources] of set) {
      for (const [name, r] of resources) {
        const key = `${type}\0${name}\0${JSON.stringify(r)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const before = a.groups.get(group)?.get(type)?.get(name);
        if (JSON.stringify(before) !== JSON.stringify(r)) n++;
      }
    }
  }
  return n;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function bytesSent(registry: ReturnType<typeof createRegistry>): Promise<number> {
  const m = await registry.getSingleMetric('banyan_xds_bytes_sent_total')!.get();
  return m.values.reduce((s, v) => s + v.value, 0);
}

interface Row {
  proxies: number;
  mode: Mode;
  p50: number;
  p99: number;
  max: number;
  connectMs: number;
  mbPerChange: number;
  /** After gc(), snapshot set, before any proxy connects. */
  rssIdleMb: number;
  /** Highest RSS sampled every SAMPLE_MS from the first proxy connecting to the last change ACKed. */
  rssPeakMb: number;
  /** The kernel's high-water mark for the whole row process (includes start-up and compiles). */
  rssHwmMb: number;
  /** Right after the last change was ACKed everywhere and gc(). */
  rssEndMb: number;
  /** SETTLE_MS later, gc() again, proxies still connected: the steady state between changes. */
  rssSteadyMb: number;
  heapIdleMb: number;
  heapSteadyMb: number;
  encodes: number;
}

const SAMPLE_MS = 10;
const SETTLE_MS = 2000;
const gc = () => {
  if (!global.gc) throw new Error('bench:xds rows need --expose-gc (they are forked with it)');
  global.gc();
};
const mb = (bytes: number) => bytes / 1e6;

/** One row, in a fresh process: nothing left over from another row inflates its memory. */
async function runAt(proxies: number, mode: Mode): Promise<Row> {
  const registry = createRegistry();
  const logger = pino({ level: 'silent' });
  const cache = new SnapshotCache({ logger, registry });
  const xds = new XdsServer({ cache, logger, registry });
  const server = new grpc.Server();
  xds.addToServer(server);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const first = build(0);
  cache.setSnapshot(first);

  let acks = 0;
  let nacks = 0;
  xds.on('ack', () => acks++);
  xds.on('nack', () => nacks++);
  const waitFor = (cond: () => boolean, what: string, timeoutMs = 120_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const tick = () => {
        if (nacks) return reject(new Error(`${nacks} NACKs while waiting for ${what}`));
        if (cond()) return resolve();
        if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
        setImmediate(tick);
      };
      tick();
    });

  const group = [...first.groups.keys()][0];
  const set = first.groups.get(group)!;
  const subs = {
    eds: [...set.get('type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment')!.keys()],
    rds: [...set.get('type.googleapis.com/envoy.config.route.v3.RouteConfiguration')!.keys()],
  };
  const script = fileURLToPath(new URL('./xds-clients.js', import.meta.url));
  gc();
  const idle = process.memoryUsage();
  let peak = idle.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), SAMPLE_MS);
  const child: ChildProcess = spawn(process.execPath, [script, `127.0.0.1:${port}`, String(proxies), mode], { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin!.end(JSON.stringify(subs));
  try {
    const t0 = performance.now();
    await waitFor(() => acks >= proxies * 4, `initial ACKs from ${proxies} proxies`);
    const connectMs = performance.now() - t0;

    const times: number[] = [];
    let bytes = 0;
    let encodes = 0;
    for (let k = 1; k <= CHANGES; k++) {
      const bytesBefore = await bytesSent(registry);
      const start = performance.now();
      const change = cache.setSnapshot(build(k));
      const types = change.changed.get(group)?.size ?? 0;
      const target = acks + proxies * types;
      await waitFor(() => acks >= target, `ACKs of change ${k}`);
      times.push(performance.now() - start);
      bytes += (await bytesSent(registry)) - bytesBefore;
      encodes += change.encoded;
    }
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    gc();
    const end = process.memoryUsage();
    // V8 and the allocator hand freed pages back over the next moments, as they do between changes.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    gc();
    const steady = process.memoryUsage();
    if (xds.streamCount !== proxies) throw new Error(`${xds.streamCount} streams open at the end, expected ${proxies}`);
    return {
      proxies,
      mode,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      max: Math.max(...times),
      connectMs,
      mbPerChange: bytes / CHANGES / 1e6,
      rssIdleMb: mb(idle.rss),
      rssPeakMb: mb(peak),
      rssHwmMb: mb(process.resourceUsage().maxRSS * 1024),
      rssEndMb: mb(end.rss),
      rssSteadyMb: mb(steady.rss),
      heapIdleMb: mb(idle.heapUsed),
      heapSteadyMb: mb(steady.heapUsed),
      encodes: encodes / CHANGES,
    };
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    xds.close();
    server.forceShutdown();
  }
}

/** Runs runAt() in a forked `node --expose-gc` of this module and returns its row. */
function forkRow(proxies: number, mode: Mode): Promise<Row> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [ROW_ARG, String(proxies), mode], { execArgv: ['--expose-gc'], stdio: 'inherit' });
    let row: Row | undefined;
    child.on('message', (m) => (row = m as Row));
    child.on('error', reject);
    child.on('exit', (code, signal) => (row ? resolve(row) : reject(new Error(`bench:xds row ${proxies} exited (${signal ?? code}) without a result`))));
  });
}

function baselineMs(): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    new SnapshotCache().setSnapshot(build(0));
    runs.push(performance.now() - start);
  }
  return percentile(runs, 50);
}

/** Ground truth for "encodes per change", computed here rather than in the measured server process. */
function changedPerChange(): number {
  let n = 0;
  let prev = build(0);
  for (let k = 1; k <= CHANGES; k++) {
    const next = build(k);
    n += changedResources(prev, next);
    prev = next;
  }
  return n / CHANGES;
}

/**
 * Admission's cost next to compile's, on the same config in the same process (CPU ms, median of 5).
 * Admission encodes every changed resource for its wire round-trip and hands the bytes to the xDS
 * cache, which then encodes nothing itself; so what admission adds is (admission + cache given the
 * bytes) − (cache encoding alone, as before admission existed). cold = first load, every resource;
 * change = one edit after the previous snapshot was admitted (only changed resources are checked).
 */
export function admissionCost(): { compileMs: number; cold: Cost; change: Cost } {
  const loaded = [0, 1, 2, 3, 4, 5].map((k) => loadConfigFromString(configYaml(k), 'bench.yaml').config!);
  const cpuMs = (fn: () => void): number => {
    const start = process.cpuUsage();
    fn();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000;
  };
  const fallback = { file: 'bench.yaml', line: 1, col: 1 };
  const runs = { compile: [] as number[], coldAdmit: [] as number[], coldCacheWith: [] as number[], coldCacheAlone: [] as number[], admit: [] as number[], cacheWith: [] as number[], cacheAlone: [] as number[] };
  for (let i = 0; i < 5; i++) {
    let snap!: CompiledSnapshot;
    runs.compile.push(cpuMs(() => (snap = compile(loaded[0]))));
    const next = compile(loaded[i + 1]);
    // Before admission: the cache encodes what changed itself.
    const alone = new SnapshotCache();
    runs.coldCacheAlone.push(cpuMs(() => alone.setSnapshot(snap)));
    runs.cacheAlone.push(cpuMs(() => alone.setSnapshot(next)));
    // Now: admission checks and encodes, the cache takes its bytes.
    const admission = new ResourceAdmission();
    const cache = new SnapshotCache();
    let wire!: ReturnType<ResourceAdmission['check']>['wire'];
    runs.coldAdmit.push(cpuMs(() => (grpcCapabilityDiagnostics(loaded[0]), (wire = admission.check(loaded[0], snap, fallback).wire))));
    runs.coldCacheWith.push(cpuMs(() => cache.setSnapshot(snap, wire)));
    runs.admit.push(cpuMs(() => (grpcCapabilityDiagnostics(loaded[i + 1]), (wire = admission.check(loaded[i + 1], next, fallback).wire))));
    runs.cacheWith.push(cpuMs(() => cache.setSnapshot(next, wire)));
  }
  const cost = (admit: number[], withWire: number[], alone: number[]): Cost => ({
    admitMs: median(admit),
    addedMs: median(admit) + median(withWire) - median(alone),
  });
  return { compileMs: median(runs.compile), cold: cost(runs.coldAdmit, runs.coldCacheWith, runs.coldCacheAlone), change: cost(runs.admit, runs.cacheWith, runs.cacheAlone) };
}

interface Cost {
  /** Admission's own CPU. */
  admitMs: number;
  /** What admission adds to the whole publish (admission + cache with its bytes − cache alone). */
  addedMs: number;
}

/** Banyan alone: the rows above (forked row processes, memory and encodes in detail). */
async function banyanRows(): Promise<void> {
  const adm = admissionCost();
  const base = baselineMs();
  const changed = changedPerChange();
  const rows: Row[] = [];
  for (const r of ROWS) rows.push(await forkRow(r.proxies, r.mode));
  const f = (x: number, d = 1) => x.toFixed(d);
  console.log(`config: ${LISTENERS} listeners, ${LISTENERS * ROUTES_PER_LISTENER} routes, ${CLUSTERS} clusters; ${CHANGES} changes per row; one fresh server process per row`);
  console.log(`baseline: load + compile + encode the whole snapshot once = ${f(base)} ms`);
  console.log(
    `admission (CPU ms, median of 5; compile = ${f(adm.compileMs)}): first load: admission ${f(adm.cold.admitMs)}, adds ${f(adm.cold.addedMs)} to publishing (${f(adm.cold.addedMs / adm.compileMs, 2)}x compile); one change: admission ${f(adm.change.admitMs)}, adds ${f(adm.change.addedMs)} (${f(adm.change.addedMs / adm.compileMs, 2)}x compile; target <= 0.3x)`,
  );
  console.log(`RSS idle: after gc(), snapshot set, no proxies. peak: sampled every ${SAMPLE_MS} ms while proxies connect and changes run (kernel high-water mark of the row process in brackets). end: right after the last change was ACKed, gc(). steady: ${SETTLE_MS} ms later, gc() again, proxies still connected.\n`);
  console.log('| proxies | all connected+ACKed ms | change→all ACKs p50 ms | p99 ms | max ms | p99 / baseline | MB sent/change | RSS MB idle | RSS MB peak (HWM) | RSS MB end | RSS MB steady | RSS KB/stream (steady−idle) | heap MB idle → steady | encodes/change | changed resources/change |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.proxies} ${r.mode} | ${f(r.connectMs, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.p99 / base, 2)}x | ${f(r.mbPerChange, 2)} | ${f(r.rssIdleMb, 0)} | ${f(r.rssPeakMb, 0)} (${f(r.rssHwmMb, 0)}) | ${f(r.rssEndMb, 0)} | ${f(r.rssSteadyMb, 0)} | ${f(((r.rssSteadyMb - r.rssIdleMb) * 1000) / r.proxies, 0)} | ${f(r.heapIdleMb, 0)} → ${f(r.heapSteadyMb, 0)} | ${f(r.encodes)} | ${f(changed)} |`,
    );
  }
}

/**
 * `bench:xds [--quick] [--side-only] [--churn]`: Banyan's own rows, then Banyan and go-control-plane side by side
 * (bench/support/xds-side.ts; --quick: 100 and 1,000 streams, no 3,000; --side-only: skip Banyan's rows;
 * --churn: Banyan's churn rows too, bench/xds-churn.ts).
 */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  if (!argv.includes('--side-only')) await banyanRows();
  // Banyan's churn rows (bench/xds-churn.ts: bytes, /healthz, RSS under churn; fan-out sliced or not)
  if (argv.includes('--churn')) await (await import('./xds-churn.js')).churnRows();
  await runSideBySide({
    quick: argv.includes('--quick'),
    build,
    configNote: `Config: ${LISTENERS} listeners, ${LISTENERS * ROUTES_PER_LISTENER} routes, ${CLUSTERS} clusters (the rows above); each change shifts one route's weights and moves one cluster's endpoint`,
  });
}

if (process.argv[2] === ROW_ARG) {
  runAt(Number(process.argv[3]), process.argv[4] as Mode).then(
    // Run by hand (not forked), the row is printed.
    (row) => (process.send ? process.send(row, () => process.exit(0)) : (console.log(row), process.exit(0))),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
