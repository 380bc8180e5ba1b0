/**
 * bench:xds churn rows (issue 13, items 2 and 6): Banyan alone, N SotW ADS streams from a separate
 * process (bench/xds-clients.ts), 20 changes 250 ms apart, each loaded and compiled from YAML as a real
 * reload is. Measured in a forked `node --expose-gc` server process per row:
 *   - convergence: last change set → every stream ACKed the final version of every type;
 *   - bytes sent during the churn against 1 × single-change bytes × the versions a stream received;
 *   - /healthz latency from another process (a probe every 10 ms) while the churn runs;
 *   - RSS: idle (nothing connected), steady (N streams, between changes), peak (sampled every 10 ms);
 *   - with `busy`: a CPU hog pinned to the server's core (both pinned with taskset).
 * `node dist/bench/xds-churn.js [proxies...]` runs it alone; bench:xds runs it after its rows.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { TypeUrl } from '../src/proto/envoy.js';
import { createRegistry } from '../src/telemetry/metrics.js';
import { SnapshotCache } from '../src/xds/cache.js';
import { XdsServer } from '../src/xds/server.js';
import { build } from './xds.js';

const CHURN_CHANGES = 20;
const CHURN_GAP_MS = 250;
const SAMPLE_MS = 10;
const ROW_ARG = '--bench-xds-churn-row';

export interface ChurnSpec {
  proxies: number;
  /** A CPU hog on the server's core. */
  busy: boolean;
  /** flush.ts slice; Infinity: the whole fan-out in one turn of the event loop. */
  sliceMs: number;
  /**
   * The churn's snapshots compiled before the streams connect (xDS work only: what /healthz waits on
   * is then push work, not YAML parsing); otherwise each is loaded and compiled at its change, as a
   * reload is (RSS then includes the reload's garbage).
   */
  prebuilt: boolean;
}

export interface ChurnRow extends ChurnSpec {
  connectMs: number;
  /** One change on its own, every stream: MB sent and ms to all ACKed. */
  singleMb: number;
  singleMs: number;
  /** Last change set → every stream has ACKed the final version of every type. */
  convergedMs: number;
  churnMb: number;
  /** Responses per stream per changed type during the churn (≤ 20: coalesced). */
  versionsPerStream: number;
  /** churnMb / (singleMb × versionsPerStream): 1.0 = each response no bigger than a single change's. */
  bytesRatio: number;
  healthzP50: number;
  healthzP99: number;
  healthzMax: number;
  healthzN: number;
  rssIdleMb: number;
  rssSteadyMb: number;
  rssPeakMb: number;
  heapIdleMb: number;
  heapSteadyMb: number;
}

const mb = (b: number) => b / 1e6;
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const gc = () => global.gc?.();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A /healthz prober in its own process: GET every 10 ms, latencies returned on request over IPC. */
const PROBE = `
const http = require('node:http');
const url = process.argv[1];
const lat = [];
let on = false;
process.on('message', (m) => {
  if (m === 'start') { lat.length = 0; on = true; }
  else if (m === 'stop') { on = false; process.send(lat.slice()); }
  else if (m === 'exit') process.exit(0);
});
function tick() {
  const t = performance.now();
  http.get(url, { agent: false }, (res) => {
    res.resume();
    res.on('end', () => { if (on) lat.push(performance.now() - t); setTimeout(tick, 10); });
  }).on('error', () => setTimeout(tick, 10));
}
tick();
`;

async function total(registry: ReturnType<typeof createRegistry>, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((s, v) => s + v.value, 0);
}
const bytesSent = (registry: ReturnType<typeof createRegistry>) => total(registry, 'banyan_xds_bytes_sent_total');
const pushes = (registry: ReturnType<typeof createRegistry>) => total(registry, 'banyan_xds_pushes_total');

async function churnAt(spec: ChurnSpec): Promise<ChurnRow> {
  const { proxies, busy, sliceMs, prebuilt } = spec;
  const hog = busy ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : undefined;
  if (busy) {
    // the server and the hog share core 0; the clients run on the other
    spawn('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
    spawn('taskset', ['-cp', '0', String(hog!.pid)], { stdio: 'ignore' });
  }
  const registry = createRegistry();
  const logger = pino({ level: 'silent' });
  const cache = new SnapshotCache({ logger, registry });
  const xds = new XdsServer({ cache, logger, registry, flushSliceMs: sliceMs });
  const server = new grpc.Server();
  xds.addToServer(server);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const health = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const healthPort = (health.address() as { port: number }).port;
  const probe = spawn(process.execPath, ['-e', PROBE, `http://127.0.0.1:${healthPort}/healthz`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (busy) spawn('taskset', ['-cp', '1', String(probe.pid)], { stdio: 'ignore' });

  let snap = build(0);
  cache.setSnapshot(snap);
  const group = [...snap.groups.keys()][0];
  const types = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
  // stream → type → last version ACKed
  const acked = new Map<string, Map<string, string>>();
  xds.on('ack', (a) => {
    let m = acked.get(a.streamId);
    if (!m) acked.set(a.streamId, (m = new Map()));
    m.set(a.typeUrl, a.version);
  });
  const converged = () => {
    const want = types.map((t) => [t, cache.get(group, t).version] as const);
    if (acked.size < proxies) return false;
    for (const m of acked.values()) for (const [t, v] of want) if (m.get(t) !== v) return false;
    return true;
  };
  const waitFor = (cond: () => boolean, what: string, timeoutMs = 180_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const tick = () => (cond() ? resolve() : Date.now() > deadline ? reject(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 1));
      tick();
    });

  const set = snap.groups.get(group)!;
  const ahead = prebuilt ? Array.from({ length: CHURN_CHANGES }, (_, i) => build(2 + i)) : [];
  const subs = { eds: [...set.get(TypeUrl.ClusterLoadAssignment)!.keys()], rds: [...set.get(TypeUrl.RouteConfiguration)!.keys()] };
  gc();
  const idle = process.memoryUsage();
  let peak = idle.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), SAMPLE_MS);
  const script = fileURLToPath(new URL('./xds-clients.js', import.meta.url));
  const clients: ChildProcess = spawn(process.execPath, [script, `127.0.0.1:${port}`, String(proxies), 'sotw'], { stdio: ['pipe', 'inherit', 'inherit'] });
  if (busy) spawn('taskset', ['-cp', '1', String(clients.pid)], { stdio: 'ignore' });
  clients.stdin!.end(JSON.stringify(subs));
  try {
    const t0 = performance.now();
    await waitFor(converged, `initial ACKs from ${proxies} proxies`);
    const connectMs = performance.now() - t0;

    // one change on its own: the unit the churn is compared with
    let b0 = await bytesSent(registry);
    let start = performance.now();
    snap = build(1);
    const perChange = cache.setSnapshot(snap).changed.get(group)?.size ?? 0;
    await waitFor(converged, 'the single change');
    const singleMs = performance.now() - start;
    const singleBytes = (await bytesSent(registry)) - b0;

    await sleep(1000);
    gc();
    const steady = process.memoryUsage();

    probe.send('start');
    b0 = await bytesSent(registry);
    const pushes0 = await pushes(registry);
    let lastSet = 0;
    for (let k = 2; k < 2 + CHURN_CHANGES; k++) {
      const due = performance.now() + CHURN_GAP_MS;
      snap = prebuilt ? ahead[k - 2] : build(k);
      cache.setSnapshot(snap);
      lastSet = performance.now();
      if (k < 1 + CHURN_CHANGES) await sleep(Math.max(0, due - performance.now()));
    }
    await waitFor(converged, 'convergence after the churn');
    const convergedMs = performance.now() - lastSet;
    const churnBytes = (await bytesSent(registry)) - b0;
    const healthz = await new Promise<number[]>((r) => {
      probe.once('message', (m) => r(m as number[]));
      probe.send('stop');
    });
    clearInterval(sampler);
    // responses per stream per type a change changes (EDS and RDS here)
    const versionsPerStream = ((await pushes(registry)) - pushes0) / proxies / perChange;
    return {
      ...spec,
      connectMs,
      singleMb: mb(singleBytes),
      singleMs,
      convergedMs,
      churnMb: mb(churnBytes),
      versionsPerStream,
      bytesRatio: churnBytes / (singleBytes * versionsPerStream),
      healthzP50: percentile(healthz, 50),
      healthzP99: percentile(healthz, 99),
      healthzMax: Math.max(...healthz),
      healthzN: healthz.length,
      rssIdleMb: mb(idle.rss),
      rssSteadyMb: mb(steady.rss),
      rssPeakMb: mb(peak),
      heapIdleMb: mb(idle.heapUsed),
      heapSteadyMb: mb(steady.heapUsed),
    };
  } finally {
    clearInterval(sampler);
    clients.kill('SIGTERM');
    probe.send('exit');
    hog?.kill('SIGKILL');
    health.close();
    xds.close();
    server.forceShutdown();
  }
}

function forkChurn(spec: ChurnSpec): Promise<ChurnRow> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [ROW_ARG, JSON.stringify({ ...spec, sliceMs: Number.isFinite(spec.sliceMs) ? spec.sliceMs : 'Infinity' })], {
      execArgv: ['--expose-gc'],
      stdio: 'inherit',
    });
    let row: ChurnRow | undefined;
    child.on('message', (m) => (row = m as ChurnRow));
    child.on('error', reject);
    child.on('exit', (code, signal) => (row ? resolve(row) : reject(new Error(`churn row ${JSON.stringify(spec)} exited (${signal ?? code}) without a result`))));
  });
}

export const CHURN_ROWS: ChurnSpec[] = [
  { proxies: 1000, busy: false, sliceMs: 4, prebuilt: false },
  { proxies: 1000, busy: true, sliceMs: 4, prebuilt: false },
  { proxies: 1000, busy: false, sliceMs: 4, prebuilt: true },
  { proxies: 1000, busy: false, sliceMs: Infinity, prebuilt: true },
  { proxies: 3000, busy: false, sliceMs: 4, prebuilt: true },
];

export async function churnRows(specs: ChurnSpec[] = CHURN_ROWS): Promise<ChurnRow[]> {
  const rows: ChurnRow[] = [];
  for (const s of specs) rows.push(await forkChurn(s));
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
  console.log(
    `\nchurn: ${CHURN_CHANGES} changes ${CHURN_GAP_MS} ms apart, SotW ADS (snapshots: reload = each loaded and compiled from YAML at its change, prebuilt = compiled before connecting); bytes ratio = churn bytes / (single-change bytes × responses per stream per changed type); /healthz probed every 10 ms from another process; RSS idle = nothing connected, steady = connected between changes, peak = sampled every ${SAMPLE_MS} ms from connect to converged\n`,
  );
  console.log('| proxies | core | snapshots | fan-out slice | single change MB / ms | churn MB | responses/stream/type | bytes ratio | converged after last change ms | /healthz p50 / p99 / max ms (n) | RSS MB idle / steady / peak | KB/stream (steady−idle) | heap MB idle → steady |');
  console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.proxies} | ${r.busy ? 'busy' : 'idle'} | ${r.prebuilt ? 'prebuilt' : 'reload'} | ${Number.isFinite(r.sliceMs) ? `${r.sliceMs} ms` : 'none'} | ${f(r.singleMb, 2)} / ${f(r.singleMs, 0)} | ${f(r.churnMb, 1)} | ${f(r.versionsPerStream, 1)} | ${f(r.bytesRatio, 2)} | ${f(r.convergedMs, 0)} | ${f(r.healthzP50)} / ${f(r.healthzP99)} / ${f(r.healthzMax)} (${r.healthzN}) | ${f(r.rssIdleMb, 0)} / ${f(r.rssSteadyMb, 0)} / ${f(r.rssPeakMb, 0)} | ${f(((r.rssSteadyMb - r.rssIdleMb) * 1000) / r.proxies, 0)} | ${f(r.heapIdleMb, 0)} → ${f(r.heapSteadyMb, 0)} |`,
    );
  }
  return rows;
}

if (process.argv[2] === ROW_ARG) {
  const spec = JSON.parse(process.argv[3]) as Omit<ChurnSpec, 'sliceMs'> & { sliceMs: number | 'Infinity' };
  churnAt({ ...spec, sliceMs: spec.sliceMs === 'Infinity' ? Infinity : spec.sliceMs }).then(
    (row) => (process.send ? process.send(row, () => process.exit(0)) : (console.log(row), process.exit(0))),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // run by hand: `node dist/bench/xds-churn.js [proxies[:busy][:noslice][:prebuilt]] ...`
  const args = process.argv.slice(2);
  const specs = args.length
    ? args.map((a) => {
        const [n, ...flags] = a.split(':');
        return { proxies: Number(n), busy: flags.includes('busy'), sliceMs: flags.includes('noslice') ? Infinity : 4, prebuilt: flags.includes('prebuilt') };
      })
    : CHURN_ROWS;
  churnRows(specs).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
