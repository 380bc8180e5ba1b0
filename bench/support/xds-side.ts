/**
 * bench:xds side by side: Banyan's xDS server and go-control-plane v0.14's SnapshotCache + server
 * (bench/go/gcp-server, built here from the Go module proxy), each alone in its own process pinned to
 * one core, serving the same resources (the Any bytes Banyan encodes for the bench config, with
 * Banyan's per-type versions, so both push exactly the types whose content changed), driven one after
 * the other by the same client process (bench/xds-clients.ts, pinned to another core), which says when
 * every stream has ACKed a version. CPU and RSS are read from /proc/<server pid>.
 *
 * Rows: 100, 1,000 and 3,000 streams (--quick: 100 and 1,000), one fresh server and client per row,
 * SINGLE_CHANGES changes each waited for; at 1,000 streams also a churn of CHURN_CHANGES changes
 * CHURN_GAP_MS apart, on an idle core and with a CPU hog pinned to the server's core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { SnapshotCache } from '../../src/xds/cache.js';
import { fmt } from './format.js';
import { benchGoBinary } from './go.js';
import { processCpuSeconds, processMemoryMb } from './proc-tree.js';

/** Changes per single-change row (fewer at 3,000 streams, where go-control-plane takes seconds each). */
const SINGLE_CHANGES = 10;
const singleChanges = (streams: number) => (streams >= 3000 ? 5 : SINGLE_CHANGES);
const CHURN_CHANGES = 20;
const CHURN_GAP_MS = 250;
const CHURN_STREAMS = 1000;
const SETTLE_MS = 2000;
const WAIT_TIMEOUT_MS = 300_000;
const RSS_SAMPLE_MS = 25;
/** The types each simulated proxy subscribes to (and whose ACKs are waited for). */
const SUBSCRIBED = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration] as string[];

type ServerName = 'banyan' | 'gcp';
const LABEL: Record<ServerName, string> = { banyan: 'Banyan', gcp: 'go-control-plane' };

// ---------------------------------------------------------------- /proc

// ---------------------------------------------------------------- processes

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages from a child, taken by kind in arrival order. */
class Mailbox<T extends { op: string }> {
  private waiting: { op: string; resolve: (m: T) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private early: T[] = [];
  private failed?: Error;
  push(m: T): void {
    const i = this.waiting.findIndex((w) => w.op === m.op);
    if (i < 0) return void this.early.push(m);
    const [w] = this.waiting.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(m);
  }
  fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
  next(op: string, what: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<T> {
    const i = this.early.findIndex((m) => m.op === op);
    if (i >= 0) return Promise.resolve(this.early.splice(i, 1)[0]);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w.timer !== timer);
        reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`));
      }, timeoutMs);
      this.waiting.push({ op, resolve, reject, timer });
    });
  }
}

function exited(child: ChildProcess, what: string, box: { fail(e: Error): void }): void {
  child.on('error', (e) => box.fail(new Error(`${what}: ${e.message}`)));
  child.on('exit', (code, signal) => box.fail(new Error(`${what} exited (${signal ?? code})`)));
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface ServerProc {
  name: ServerName;
  pid: number;
  port: number;
  prepare(ks: number[]): Promise<void>;
  /** Sends the change at once; resolves when the server says it is set. */
  apply(k: number): Promise<void>;
  stop(): Promise<void>;
}

type ServerMsg = { op: 'port'; port: number } | { op: 'prepared' } | { op: 'applied'; k: number; versions?: Record<string, string> };

function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return ['taskset', ['-c', String(core), cmd, ...args]];
}

async function startBanyan(core: number, targets: Map<number, Record<string, string>>): Promise<ServerProc> {
  const script = fileURLToPath(new URL('./xds-banyan-server.js', import.meta.url));
  const [cmd, args] = pinned(core, process.execPath, ['--expose-gc', script]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const box = new Mailbox<ServerMsg>();
  child.on('message', (m: ServerMsg) => box.push(m));
  exited(child, 'Banyan server', box);
  const { port } = (await box.next('port', 'Banyan server to listen', 60_000)) as { port: number };
  return {
    name: 'banyan',
    pid: child.pid!,
    port,
    prepare: async (ks) => {
      child.send({ op: 'prepare', ks });
      await box.next('prepared', `Banyan to build changes ${ks[0]}…`);
    },
    apply: async (k) => {
      child.send({ op: 'apply', k });
      const m = (await box.next('applied', `Banyan to set change ${k}`)) as { versions: Record<string, string> };
      // The resources handed to go-control-plane were encoded in the parent: same versions, same bytes.
      for (const t of SUBSCRIBED) if (m.versions[t] !== targets.get(k)![t]) throw new Error(`Banyan server's ${t} version ${m.versions[t]} for change ${k} is not the bench's ${targets.get(k)![t]}`);
    },
    stop: () => stopChild(child),
  };
}

async function startGcp(core: number, binary: string, dir: string): Promise<ServerProc> {
  const [cmd, args] = pinned(core, binary, ['-dir', dir]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const box = new Mailbox<ServerMsg>();
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const [op, arg] = line.trim().split(/\s+/);
    if (op === 'port') box.push({ op, port: Number(arg) });
    else if (op === 'prepared') box.push({ op });
    else if (op === 'applied') box.push({ op, k: Number(arg) });
  });
  exited(child, 'go-control-plane server', box);
  const { port } = (await box.next('port', 'go-control-plane server to listen', 60_000)) as { port: number };
  return {
    name: 'gcp',
    pid: child.pid!,
    port,
    prepare: async (ks) => {
      child.stdin!.write(`prepare ${ks.join(' ')}\n`);
      await box.next('prepared', `go-control-plane to decode changes ${ks[0]}…`);
    },
    apply: async (k) => {
      child.stdin!.write(`apply ${k}\n`);
      await box.next('applied', `go-control-plane to set change ${k}`);
    },
    stop: async () => {
      child.stdin!.end();
      await stopChild(child);
    },
  };
}

interface ClientStats {
  bytes: number;
  responses: Record<string, number>;
}

interface ClientProc {
  pid: number;
  /** Resolves with performance.now() when the client reported every stream at these versions. */
  wait(versions: Record<string, string>, what: string): Promise<number>;
  stats(): Promise<ClientStats>;
  stop(): Promise<void>;
}

function startClient(core: number, port: number, streams: number, subs: { eds: string[]; rds: string[] }): ClientProc {
  const script = fileURLToPath(new URL('../xds-clients.js', import.meta.url));
  const [cmd, args] = pinned(core, process.execPath, [script, `127.0.0.1:${port}`, String(streams), 'sotw']);
  const child = spawn(cmd, args, { stdio: ['pipe', 'inherit', 'inherit', 'ipc'] });
  child.stdin!.end(JSON.stringify(subs));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed ??= e;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    pending.clear();
  };
  child.on('message', (m: { op: string; id: number; message?: string }) => {
    if (m.op === 'error') return fail(new Error(`xds-clients: ${m.message}`));
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    p.resolve(m.op === 'done' ? performance.now() : m);
  });
  exited(child, 'xds-clients', { fail });
  const request = <T>(msg: object, what: string): Promise<T> => {
    if (failed) return Promise.reject(failed);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`timed out after ${WAIT_TIMEOUT_MS / 1000} s waiting for ${what}`));
      }, WAIT_TIMEOUT_MS);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ ...msg, id });
    });
  };
  return {
    pid: child.pid!,
    wait: (versions, what) => request<number>({ op: 'wait', versions }, what),
    stats: () => request<ClientStats>({ op: 'stats' }, 'client stats'),
    stop: () => stopChild(child),
  };
}

/** A busy loop pinned to `core`: the "busy process on the server's core". */
function startHog(core: number): ChildProcess {
  const [cmd, args] = pinned(core, process.execPath, ['-e', 'for (;;);']);
  return spawn(cmd, args, { stdio: 'ignore' });
}

// ---------------------------------------------------------------- rows

interface SingleRow {
  server: ServerName;
  streams: number;
  connectS: number;
  p50: number;
  p99: number;
  cpuPerChange: number;
  /** The client process's CPU over the same windows: near 1 s per second of latency means the client, not the server, was the limit. */
  clientCpuPerChange: number;
  mbPerChange: number;
  /** Snapshot set, before any stream. */
  rssIdle: number;
  /** Highest VmRSS sampled every RSS_SAMPLE_MS from the first stream to the last single change. */
  rssPeak: number;
  /** SETTLE_MS after the last single change, streams connected. */
  rssSteady: number;
}

interface ChurnRow {
  server: ServerName;
  busy: boolean;
  streams: number;
  /** Last change sent → every stream ACKed it. */
  convergeMs: number;
  mb: number;
  /** RDS and EDS responses per stream and type during the churn: the versions a stream actually received. */
  versions: number;
  /** 1.2 × the single-change MB × versions. */
  boundMb: number;
  cpuS: number;
  /** Highest VmRSS over the churn (both servers then hold the churn's changes, prepared beforehand). */
  rssPeak: number;
}

interface Bench {
  subs: { eds: string[]; rds: string[] };
  /** Change → the versions of the subscribed types. */
  targets: Map<number, Record<string, string>>;
  dir: string;
  gcpBinary: string;
  serverCore: number;
  clientCore: number;
}

const sum = (r: Record<string, number>, types: string[]) => types.reduce((s, t) => s + (r[t] ?? 0), 0);
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

async function runRow(b: Bench, name: ServerName, streams: number, churnKs: number[][]): Promise<{ single: SingleRow; churn: ChurnRow[] }> {
  const server = name === 'banyan' ? await startBanyan(b.serverCore, b.targets) : await startGcp(b.serverCore, b.gcpBinary, b.dir);
  let client: ClientProc | undefined;
  let hog: ChildProcess | undefined;
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, processMemoryMb(server.pid).rss);
    } catch {
      // exited: the mailbox reports it
    }
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  try {
    await server.prepare([0]);
    await server.apply(0);
    const rssIdle = processMemoryMb(server.pid).rss;
    const t0 = performance.now();
    client = startClient(b.clientCore, server.port, streams, b.subs);
    const connectedAt = await client.wait(b.targets.get(0)!, `${LABEL[name]}: initial ACKs of ${streams} streams`);
    const connectS = (connectedAt - t0) / 1000;

    const times: number[] = [];
    let cpu = 0;
    let clientCpu = 0;
    let bytes = 0;
    const changes = singleChanges(streams);
    for (let k = 1; k <= changes; k++) {
      await server.prepare([k]);
      const before = await client.stats();
      const cpu0 = processCpuSeconds(server.pid);
      const clientCpu0 = processCpuSeconds(client.pid);
      const start = performance.now();
      const done = client.wait(b.targets.get(k)!, `${LABEL[name]}: ACKs of change ${k} from ${streams} streams`);
      const applied = server.apply(k);
      const at = await done;
      cpu += processCpuSeconds(server.pid) - cpu0;
      clientCpu += processCpuSeconds(client.pid) - clientCpu0;
      times.push(at - start);
      await applied;
      bytes += (await client.stats()).bytes - before.bytes;
    }
    await sleep(SETTLE_MS);
    const rssSteady = processMemoryMb(server.pid).rss;
    sample();
    const single: SingleRow = {
      server: name,
      streams,
      connectS,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      cpuPerChange: cpu / changes,
      clientCpuPerChange: clientCpu / changes,
      mbPerChange: bytes / changes / 1e6,
      rssIdle,
      rssPeak: peak,
      rssSteady,
    };

    const churn: ChurnRow[] = [];
    for (const [i, ks] of churnKs.entries()) {
      const busy = i === 1;
      await server.prepare(ks);
      peak = 0;
      sample();
      if (busy) {
        hog = startHog(b.serverCore);
        await sleep(500);
      }
      const before = await client.stats();
      const cpu0 = processCpuSeconds(server.pid);
      const last = ks[ks.length - 1];
      const done = client.wait(b.targets.get(last)!, `${LABEL[name]}: ACKs of the last churn change from ${streams} streams`);
      const applied: Promise<void>[] = [];
      const start = performance.now();
      let lastSent = start;
      for (const [j, k] of ks.entries()) {
        const due = start + j * CHURN_GAP_MS;
        if (due > performance.now()) await sleep(due - performance.now());
        lastSent = performance.now();
        applied.push(server.apply(k));
      }
      const at = await done;
      const cpuS = processCpuSeconds(server.pid) - cpu0;
      await Promise.all(applied);
      if (hog) {
        await stopChild(hog);
        hog = undefined;
      }
      const after = await client.stats();
      const mb = (after.bytes - before.bytes) / 1e6;
      const types = [TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration] as string[];
      const versions = (sum(after.responses, types) - sum(before.responses, types)) / (types.length * streams);
      sample();
      churn.push({ server: name, busy, streams, convergeMs: at - lastSent, mb, versions, boundMb: 1.2 * single.mbPerChange * versions, cpuS, rssPeak: peak });
    }
    return { single, churn };
  } finally {
    clearInterval(sampler);
    if (hog) await stopChild(hog);
    await client?.stop();
    await server.stop();
  }
}

/** Encodes changes 0..last once, in this process, as Banyan's cache does, and writes them for the Go server. */
function prepareChanges(build: (k: number) => CompiledSnapshot, last: number, dir: string): Pick<Bench, 'subs' | 'targets'> {
  const cache = new SnapshotCache();
  const targets = new Map<number, Record<string, string>>();
  let subs: Bench['subs'] | undefined;
  for (let k = 0; k <= last; k++) {
    const snap = build(k);
    cache.setSnapshot(snap);
    const groups = [...snap.groups.keys()];
    if (groups.length !== 1) throw new Error(`bench config has ${groups.length} groups, expected 1`);
    const types: { typeUrl: string; version: string; resources: string[] }[] = [];
    const versions: Record<string, string> = {};
    for (const typeUrl of snap.groups.get(groups[0])!.keys()) {
      const set = cache.get(groups[0], typeUrl);
      types.push({ typeUrl, version: set.version, resources: [...set.resources.values()].map((r) => Buffer.from(r.any).toString('base64')) });
      if (SUBSCRIBED.includes(typeUrl)) versions[typeUrl] = set.version;
    }
    for (const t of SUBSCRIBED) if (!(t in versions)) throw new Error(`bench config has no ${t}`);
    targets.set(k, versions);
    subs ??= {
      eds: [...cache.get(groups[0], TypeUrl.ClusterLoadAssignment).resources.keys()],
      rds: [...cache.get(groups[0], TypeUrl.RouteConfiguration).resources.keys()],
    };
    fs.writeFileSync(path.join(dir, `${k}.json`), JSON.stringify({ types }));
  }
  return { subs: subs!, targets };
}

// ---------------------------------------------------------------- table

const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? `${fmt(a / b, 2)}×` : 'n/a');

function printTables(singles: SingleRow[], churns: ChurnRow[], counts: number[]): void {
  console.log('| streams | server | connected + ACKed s | change → all ACKed p50 ms | p99 ms | server CPU-s / change | client CPU-s / change | MB sent / change | RSS MB idle | RSS MB peak | RSS MB after changes |');
  console.log('|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of counts) {
    const a = singles.find((r) => r.streams === n && r.server === 'banyan');
    const g = singles.find((r) => r.streams === n && r.server === 'gcp');
    for (const r of [a, g]) {
      if (!r) continue;
      console.log(`| ${fmt(n)} | ${LABEL[r.server]} | ${fmt(r.connectS, 1)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.cpuPerChange, 3)} | ${fmt(r.clientCpuPerChange, 3)} | ${fmt(r.mbPerChange, 1)} | ${fmt(r.rssIdle)} | ${fmt(r.rssPeak)} | ${fmt(r.rssSteady)} |`);
    }
    if (a && g) {
      console.log(`| ${fmt(n)} | **Banyan ÷ go-control-plane** | ${ratio(a.connectS, g.connectS)} | ${ratio(a.p50, g.p50)} | ${ratio(a.p99, g.p99)} | ${ratio(a.cpuPerChange, g.cpuPerChange)} | | ${ratio(a.mbPerChange, g.mbPerChange)} | ${ratio(a.rssIdle, g.rssIdle)} | ${ratio(a.rssPeak, g.rssPeak)} | ${ratio(a.rssSteady, g.rssSteady)} |`);
    }
  }
  if (!churns.length) return;
  console.log(`\nChurn: ${CHURN_CHANGES} changes ${CHURN_GAP_MS} ms apart at ${fmt(CHURN_STREAMS)} streams (same server processes as the ${fmt(CHURN_STREAMS)} row); busy core: a busy loop pinned to the server's core.\n`);
  console.log('| churn | server | converged after last change ms | MB sent | versions received / stream | bound MB (1.2 × single-change MB × versions) | server CPU-s | RSS MB peak |');
  console.log('|:---|:---|---:|---:|---:|---:|---:|---:|');
  for (const busy of [false, true]) {
    const a = churns.find((r) => r.busy === busy && r.server === 'banyan');
    const g = churns.find((r) => r.busy === busy && r.server === 'gcp');
    const row = busy ? 'busy core' : 'idle core';
    for (const r of [a, g]) {
      if (!r) continue;
      console.log(`| ${row} | ${LABEL[r.server]} | ${fmt(r.convergeMs)} | ${fmt(r.mb, 1)} | ${fmt(r.versions, 1)} | ${fmt(r.boundMb, 1)} | ${fmt(r.cpuS, 2)} | ${fmt(r.rssPeak)} |`);
    }
    if (a && g) console.log(`| ${row} | **Banyan ÷ go-control-plane** | ${ratio(a.convergeMs, g.convergeMs)} | ${ratio(a.mb, g.mb)} | ${ratio(a.versions, g.versions)} | | ${ratio(a.cpuS, g.cpuS)} | ${ratio(a.rssPeak, g.rssPeak)} |`);
  }
}

function printVerdicts(singles: SingleRow[], churns: ChurnRow[]): void {
  const lines: string[] = [];
  const ok = (met: boolean) => (met ? 'met' : '**NOT met**');
  for (const n of [1000, 3000]) {
    const a = singles.find((r) => r.streams === n && r.server === 'banyan');
    const g = singles.find((r) => r.streams === n && r.server === 'gcp');
    if (!a || !g) continue;
    lines.push(`- ${fmt(n)} streams: Banyan ≥ 5× on all-ACKed p99 (${fmt(g.p99 / a.p99, 1)}×): ${ok(g.p99 >= 5 * a.p99)}; on CPU-s per change (${fmt(g.cpuPerChange / a.cpuPerChange, 1)}×): ${ok(g.cpuPerChange >= 5 * a.cpuPerChange)}`);
  }
  const a1000 = singles.find((r) => r.streams === 1000 && r.server === 'banyan');
  if (a1000) lines.push(`- Banyan RSS at 1,000 streams: after changes ${fmt(a1000.rssSteady)} MB (budget 200): ${ok(a1000.rssSteady < 200)}; peak ${fmt(a1000.rssPeak)} MB (budget 250): ${ok(a1000.rssPeak < 250)}`);
  for (const busy of [false, true]) {
    const a = churns.find((r) => r.busy === busy && r.server === 'banyan');
    const g = churns.find((r) => r.busy === busy && r.server === 'gcp');
    if (!a) continue;
    const limit = busy ? 2000 : 1000;
    const parts = [`converged ${fmt(a.convergeMs)} ms after the last change (≤ ${fmt(limit)}): ${ok(a.convergeMs <= limit)}`, `bytes ${fmt(a.mb, 1)} MB ≤ bound ${fmt(a.boundMb, 1)} MB: ${ok(a.mb <= a.boundMb)}`];
    if (g) parts.push(`ahead of go-control-plane (convergence and bytes): ${ok(a.convergeMs < g.convergeMs && a.mb < g.mb)}`);
    lines.push(`- churn, ${busy ? 'busy' : 'idle'} core: ${parts.join('; ')}`);
  }
  if (lines.length) console.log(`\nIssue 13 acceptance (bench half):\n${lines.join('\n')}`);
}

// ---------------------------------------------------------------- entry

export async function runSideBySide(opts: { quick: boolean; build: (k: number) => CompiledSnapshot; configNote: string }): Promise<void> {
  const counts = opts.quick ? [100, 1000] : [100, 1000, 3000];
  const cpus = os.availableParallelism();
  if (cpus < 2) throw new Error('bench:xds side by side needs 2 cores (server pinned to one, client to another)');
  const serverCore = cpus - 1;
  const clientCore = 0;
  const gcpBinary = await benchGoBinary('gcp-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-xds-gcp-'));
  try {
    const churnKs = [0, 1].map((i) => Array.from({ length: CHURN_CHANGES }, (_, j) => SINGLE_CHANGES + 1 + i * CHURN_CHANGES + j));
    const b: Bench = { ...prepareChanges(opts.build, SINGLE_CHANGES + 2 * CHURN_CHANGES, dir), dir, gcpBinary, serverCore, clientCore };
    const singles: SingleRow[] = [];
    const churns: ChurnRow[] = [];
    const failures: string[] = [];
    for (const n of counts) {
      for (const name of ['banyan', 'gcp'] as ServerName[]) {
        try {
          const { single, churn } = await runRow(b, name, n, n === CHURN_STREAMS ? churnKs : []);
          singles.push(single);
          churns.push(...churn);
        } catch (err) {
          failures.push(`${LABEL[name]} at ${fmt(n)} streams: ${(err as Error).message}`);
        }
      }
    }
    console.log(`\n### Banyan and go-control-plane side by side\n`);
    console.log(
      `${opts.configNote}. go-control-plane v0.14.0 (SnapshotCache, one snapshot for all nodes, + server; bench/go/gcp-server) is handed the Any bytes Banyan encodes and Banyan's per-type versions. ` +
        `Each server runs alone in a fresh process pinned to core ${serverCore} (taskset), with the change already built or decoded (and collected) before the clock starts; ` +
        `the same client process (bench/xds-clients.ts, SotW ADS, pinned to core ${clientCore}) times change → every stream ACKed. ` +
        `${SINGLE_CHANGES} changes per row (${singleChanges(3000)} at 3,000 streams; p50/p99 over them); CPU-s = utime + stime of the server process from /proc/<pid>/stat over change → all ACKed; MB = DiscoveryResponse bytes the client received; RSS = VmRSS from /proc/<pid>/status (idle: snapshot set, no streams; peak: sampled every ${RSS_SAMPLE_MS} ms from the first stream to the last change; after changes: ${SETTLE_MS / 1000} s after the last one).\n`,
    );
    printTables(singles, churns, counts);
    printVerdicts(singles, churns);
    for (const f of failures) console.log(`\nFAILED: ${f}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
