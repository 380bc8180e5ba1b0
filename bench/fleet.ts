/**
 * bench:fleet — what publishing this replica's proxy status costs every second, and what reading the
 * fleet (listReplicaStatus, every rollout poll) costs, at 1,000 and 3,000 synthetic proxies, on a
 * real PostgreSQL (test/support/postgres.ts) and on the embedded store.
 *
 *   (a) as it was (6502f65): every interval, putReplicaStatus() of the whole record with every proxy
 *       exactly as the xDS server reports it (FleetPublisher.putOnce), into the stores as they were:
 *       jsonb column and two statements on PostgreSQL, structuredClone on the embedded store (copied
 *       here verbatim, LegacyPostgresStatus / LegacyEmbeddedStatus);
 *   (b) now: FleetPublisher compares what the xDS server reports with its last put and only renews
 *       the lease when nothing changed; a put carries proxies in fleetProxy() form (non-RDS names →
 *       subscribedCount), into banyan_replicas as migration 3 leaves it (lz4 text).
 *
 * Each is measured "steady" (nothing changed since the last publish: the usual second) and
 * "changing" (one proxy changed state since the last publish: every second of a rollout step).
 * Costs are CPU-seconds per operation: this process (process.cpuUsage, all threads) and PostgreSQL
 * (utime+stime from /proc of the postmaster and all its children: backends, WAL writer, checkpointer,
 * autovacuum), plus WAL bytes per operation (pg_current_wal_lsn() before and after) and the JSON
 * bytes of the proxies sent. Same-run baseline: the synthetic xDS status() alone, which every
 * publish calls and neither variant can avoid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import pino from 'pino';
import { TypeUrl } from '../src/proto/envoy.js';
import { FleetPublisher, fleetProxy } from '../src/server/fleet.js';
import { EmbeddedStore } from '../src/store/embedded.js';
import { MIGRATIONS } from '../src/store/pg-migrations.js';
import { PostgresStore } from '../src/store/postgres.js';
import type { ProxyRecord, ProxyTypeRecord, ReplicaStatus, Store } from '../src/store/types.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres.js';
import { fmt } from './support/format.js';
import { CLK_TCK, parseStat, type ProcStat } from './support/proc-tree.js';

const SIZES = (process.env.BENCH_FLEET_SIZES ?? '1000,3000').split(',').map(Number);
/** Publishes per measurement of a full write; renewals are a thousand times cheaper and run RENEWS times. */
const WRITES = Number(process.env.BENCH_FLEET_WRITES ?? 20);
const RENEWS = Number(process.env.BENCH_FLEET_RENEWS ?? 1000);
const LISTS = Number(process.env.BENCH_FLEET_LISTS ?? 40);
/** The status() baseline is subtracted from renewals: measured as long as them, roughly. */
const BASELINE_OPS = Number(process.env.BENCH_FLEET_BASELINE ?? 200);
const WARMUP = 3;
/** One proxy in EDS_EVERY subscribes to EDS_BIG endpoint names (a service mesh sidecar); the others to EDS_SMALL. */
const EDS_EVERY = 4;
const EDS_BIG = 500;
const EDS_SMALL = 20;
/** Leases outlive every measurement (a slow list must not find the record expired); the timer never fires, publishes are driven here. */
const LEASE_MS = 3_600_000;

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS } = TypeUrl;

// ------------------------------------------------------------------ a synthetic fleet

const version = (seed: number) => Buffer.from(`v${seed}`.padEnd(12, '#')).toString('base64url').slice(0, 16);

function syntheticProxy(i: number): ProxyRecord {
  const eds = Array.from({ length: i % EDS_EVERY === 0 ? EDS_BIG : EDS_SMALL }, (_, k) => `outbound|8080||svc-${(i * 7 + k) % 1000}.mesh.svc.cluster.local`);
  const nacked = i % 100 === 42;
  const type = (typeUrl: string, seed: number, subscribed: string[]): ProxyTypeRecord => ({
    typeUrl,
    state: 'SYNCED',
    currentVersion: version(seed),
    versionSent: version(seed),
    versionAcked: version(seed),
    lastNonce: String(seed * 3 + i),
    subscribed,
  });
  const rds = type(RDS, 4, [`edge-${i % 10}`, 'internal']);
  if (nacked) Object.assign(rds, { state: 'NACKED', versionSent: version(5), lastNack: { version: version(5), nonce: '99', message: 'route edge: unsupported field', code: 3, at: '2026-01-01T00:00:01.000Z' } });
  return {
    streamId: `${1000 + i}`,
    nodeId: `sidecar~10.${(i >> 8) & 255}.${i & 255}.7~app-${i}.default~default.svc.cluster.local`,
    nodeCluster: `app-${i % 50}`,
    group: i % 3 === 0 ? 'edge' : 'default',
    kind: i % 2 ? 'ads-sotw' : 'ads-delta',
    service: 'envoy.service.discovery.v3.AggregatedDiscoveryService',
    peer: `ipv4:10.${(i >> 8) & 255}.${i & 255}.7:${30000 + (i % 30000)}`,
    connectedSince: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    userAgent: { name: 'envoy', version: '1.32.4' },
    types: [type(CDS, 1, ['*']), type(EDS, 2, eds), type(LDS, 3, ['*']), rds],
  };
}

/** Stands in for XdsServer: status() builds fresh objects and fresh name arrays every call, as the real one does. */
class SyntheticXds {
  private readonly proxies: ProxyRecord[];
  private tick = 0;
  constructor(n: number) {
    this.proxies = Array.from({ length: n }, (_, i) => syntheticProxy(i));
  }
  status(): ProxyRecord[] {
    return this.proxies.map((p) => ({ ...p, userAgent: p.userAgent && { ...p.userAgent }, types: p.types.map((t) => ({ ...t, subscribed: [...t.subscribed] })) }));
  }
  /** One proxy's RouteConfiguration moves on (sent, or ACKed): what a rollout step does, a proxy at a time. */
  change(): void {
    const p = this.proxies[(this.tick++ * 37) % this.proxies.length];
    const rds = p.types[3];
    if (rds.state === 'SYNCED') Object.assign(rds, { state: 'STALE', currentVersion: version(100 + this.tick), versionSent: version(100 + this.tick), lastNonce: String(1e6 + this.tick) });
    else Object.assign(rds, { state: 'SYNCED', versionAcked: rds.versionSent, lastNack: undefined });
  }
}

// ------------------------------------------------------------------ measuring

/** CPU ticks of the PostgreSQL server by pid: every live child, and the postmaster with its reaped children. */
function pgTicks(postmaster: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: ProcStat;
    try {
      stat = parseStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
    } catch {
      continue; // gone meanwhile
    }
    // the postmaster's reaped children (autovacuum workers, backends) are in its cutime+cstime
    if (stat.pid === postmaster) out.set(stat.pid, stat.ticks);
    else if (stat.ppid === postmaster) out.set(stat.pid, stat.ownTicks);
  }
  return out;
}

interface Pg {
  monitor: pg.Client;
  postmaster: number;
}

interface Cost {
  ops: number;
  /** CPU-seconds per op. */
  nodeCpu: number;
  pgCpu?: number;
  walBytes?: number;
  /** Children that exited during the measurement: counted from start to exit in the postmaster's cutime, less what they had used before it. */
  lost?: number;
}

async function measure(ops: number, db: Pg | undefined, op: (i: number) => Promise<unknown>): Promise<Cost> {
  for (let i = 0; i < WARMUP; i++) await op(-1 - i);
  const lsn0 = db && (await db.monitor.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l;
  const ticks0 = db && pgTicks(db.postmaster);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ops; i++) await op(i);
  const cpu = process.cpuUsage(cpu0);
  const cost: Cost = { ops, nodeCpu: (cpu.user + cpu.system) / 1e6 / ops };
  if (db) {
    const ticks1 = pgTicks(db.postmaster);
    let ticks = 0;
    for (const [pid, t] of ticks1) ticks += t - (ticks0!.get(pid) ?? 0);
    // a child that exited meanwhile is in the postmaster's cutime with all its CPU: take off what it had before
    for (const [pid, t] of ticks0!) if (!ticks1.has(pid)) ticks -= t;
    const wal = await db.monitor.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS b', [lsn0]);
    Object.assign(cost, { pgCpu: ticks / CLK_TCK / ops, walBytes: Number(wal.rows[0].b) / ops, lost: [...ticks0!.keys()].filter((p) => !ticks1.has(p)).length });
  }
  return cost;
}

// ------------------------------------------------------------------ (a): the replica-status code as it was (6502f65), verbatim

/** What (a) and (b) each need of a store: the replica-status calls. */
type StatusStore = Pick<Store, 'putReplicaStatus' | 'listReplicaStatus' | 'removeReplicaStatus'>;

const EXPIRED_REPLICA_RETENTION_MS = 60_000;

/** EmbeddedStore's replica status before this change: structuredClone in, structuredClone out. */
class LegacyEmbeddedStatus implements StatusStore {
  private readonly replicas = new Map<string, ReplicaStatus>();
  async putReplicaStatus(status: ReplicaStatus): Promise<void> {
    for (const [replica, s] of this.replicas) {
      if (s.expiresAt < status.reportedAt - EXPIRED_REPLICA_RETENTION_MS) this.replicas.delete(replica);
    }
    this.replicas.set(status.replica, structuredClone(status));
  }
  async listReplicaStatus(now: number): Promise<ReplicaStatus[]> {
    const live = [...this.replicas.values()].filter((s) => s.expiresAt > now);
    return structuredClone(live.sort((a, b) => (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0)));
  }
  async removeReplicaStatus(replica: string): Promise<void> {
    this.replicas.delete(replica);
  }
}

/** PostgresStore's replica status before this change: banyan_replicas as migration 2 made it (proxies jsonb), the same statements. */
class LegacyPostgresStatus implements StatusStore {
  private constructor(private readonly pool: pg.Pool) {}
  static async open(url: string): Promise<LegacyPostgresStatus> {
    const pool = new pg.Pool({ connectionString: url, max: 5 });
    for (const m of MIGRATIONS.filter((m) => m.id <= 2)) await pool.query(m.sql);
    return new LegacyPostgresStatus(pool);
  }
  async putReplicaStatus(status: ReplicaStatus): Promise<void> {
    await this.pool.query(
      `INSERT INTO banyan_replicas (replica, served_key, reported_at, expires_at, proxies) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (replica) DO UPDATE SET served_key = $2, reported_at = $3, expires_at = $4, proxies = $5`,
      [status.replica, status.servedKey, status.reportedAt, status.expiresAt, JSON.stringify(status.proxies)],
    );
    await this.pool.query('DELETE FROM banyan_replicas WHERE expires_at < $1', [status.reportedAt - EXPIRED_REPLICA_RETENTION_MS]);
  }
  async listReplicaStatus(now: number): Promise<ReplicaStatus[]> {
    const { rows } = await this.pool.query('SELECT * FROM banyan_replicas WHERE expires_at > $1 ORDER BY replica', [now]);
    return rows.map((r) => ({ replica: r.replica, servedKey: r.served_key, reportedAt: Number(r.reported_at), expiresAt: Number(r.expires_at), proxies: r.proxies }));
  }
  async removeReplicaStatus(replica: string): Promise<void> {
    await this.pool.query('DELETE FROM banyan_replicas WHERE replica = $1', [replica]);
  }
  close(): Promise<void> {
    return this.pool.end();
  }
}

// ------------------------------------------------------------------ one store kind at one size

interface Rows {
  store: string;
  proxies: number;
  status: Cost;
  recordBytes: { a: number; b: number };
  aSteady: Cost;
  aChanging: Cost;
  bSteady: Cost;
  bChanging: Cost;
  listA: Cost;
  listB: Cost;
  /** Heap the (b) publisher keeps between publishes: its last put, in fleet form. */
  retainedBytes: number;
}

/** Counts what reaches a real store. */
function counting(inner: Store): { store: Store; counts: { puts: number; renews: number } } {
  const counts = { puts: 0, renews: 0 };
  const store: Store = Object.create(inner);
  store.putReplicaStatus = (s) => (counts.puts++, inner.putReplicaStatus(s));
  store.renewReplicaStatus = (l) => (counts.renews++, inner.renewReplicaStatus(l));
  return { store, counts };
}

interface Opened {
  legacy: StatusStore;
  store: Store;
  db?: Pg;
  close: () => Promise<void>;
}

async function benchStore(name: string, n: number, open: () => Promise<Opened>): Promise<Rows> {
  const { legacy, store: inner, db, close } = await open();
  try {
    const xds = new SyntheticXds(n);
    const status = await measure(BASELINE_OPS, undefined, async () => xds.status());

    // (a) FleetPublisher.putOnce before this change, verbatim: the whole record, every proxy as reported, every interval
    const putA = async () => {
      const reportedAt = Date.now();
      await legacy.putReplicaStatus({ replica: 'replica-a', servedKey: 'served-key', reportedAt, expiresAt: reportedAt + LEASE_MS, proxies: xds.status() });
    };
    const aSteady = await measure(WRITES, db, putA);
    const aChanging = await measure(WRITES, db, async () => (xds.change(), putA()));
    const listA = await measure(LISTS, db, async () => expectOne(await legacy.listReplicaStatus(Date.now()), n));
    const [recA] = (await legacy.listReplicaStatus(Date.now())).map((r) => JSON.stringify(r.proxies).length);
    await legacy.removeReplicaStatus('replica-a');

    // (b) FleetPublisher now
    const { store, counts } = counting(inner);
    const fleet = new FleetPublisher({ store, xds, servedKey: () => 'served-key', logger: pino({ level: 'silent' }), replica: 'replica-b', intervalMs: LEASE_MS, ttlMs: LEASE_MS });
    await fleet.start();
    const publish = async () => {
      if (!(await fleet.publish())) throw new Error('publish failed');
    };
    const bChanging = await measure(WRITES, db, async () => (xds.change(), publish()));
    const before = { ...counts };
    const bSteady = await measure(RENEWS, db, publish);
    if (counts.puts !== before.puts || counts.renews !== before.renews + RENEWS + WARMUP) throw new Error(`steady publishes: ${counts.puts - before.puts} puts, ${counts.renews - before.renews} renewals; expected renewals only`);
    const listB = await measure(LISTS, db, async () => expectOne(await inner.listReplicaStatus(Date.now()), n));
    const [recB] = (await inner.listReplicaStatus(Date.now())).map((r) => JSON.stringify(r.proxies).length);
    await fleet.stop();
    return { store: name, proxies: n, status, recordBytes: { a: recA, b: recB }, aSteady, aChanging, bSteady, bChanging, listA, listB, retainedBytes: retained(xds) };
  } finally {
    await close();
  }
}

function expectOne(listed: ReplicaStatus[], proxies: number): void {
  if (listed.length !== 1 || listed[0].proxies.length !== proxies) throw new Error(`listed ${listed.length} records (${listed[0]?.proxies.length} proxies); expected 1 of ${proxies}`);
}

/** Heap held by the fleet form of every proxy: what FleetPublisher keeps of its last put. */
function retained(xds: SyntheticXds): number {
  const gc = gcFunction();
  const reported = xds.status();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = reported.map(fleetProxy);
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (kept.length !== reported.length) throw new Error('unreachable');
  return bytes;
}

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

// ------------------------------------------------------------------ output

const ms = (s: number | undefined) => (s === undefined ? 'n/a' : fmt(s * 1000, 3));
const kb = (b: number | undefined) => (b === undefined ? 'n/a' : fmt(b / 1024, 1));
const ratio = (b: number | undefined, a: number | undefined) => (a === undefined || b === undefined ? 'n/a' : a === 0 ? (b === 0 ? '1' : '∞') : fmt(b / a, 4));

function print(rows: Rows[]): void {
  console.log(`synthetic proxies: CDS and LDS wildcard, RDS 2 names, EDS ${EDS_BIG} names on 1 in ${EDS_EVERY} and ${EDS_SMALL} on the others; 1 in 100 NACKs its RDS`);
  console.log(`ops per measurement: ${WRITES} full writes, ${RENEWS} renewals, ${LISTS} lists, ${BASELINE_OPS} status() calls (after ${WARMUP} warm-up ops); CPU in ms (CPU-seconds × 1000) per op`);
  console.log('steady: nothing changed since the last publish. changing: one proxy changed since the last publish.');
  console.log('node ms includes xds.status(), the same-run baseline, which every publish pays; node − baseline is the publisher and store alone (a difference of two measurements).\n');
  console.log('| store | proxies | what | node CPU ms/op | node − baseline | PostgreSQL CPU ms/op | WAL KB/op | node (b)/(a) | PostgreSQL (b)/(a) | WAL (b)/(a) |');
  console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const line = (what: string, c: Cost, vs?: Cost, publish = true) =>
      console.log(
        `| ${r.store} | ${fmt(r.proxies)} | ${what} | ${ms(c.nodeCpu)} | ${publish ? ms(c.nodeCpu - r.status.nodeCpu) : ''} | ${ms(c.pgCpu)} | ${kb(c.walBytes)} | ${vs ? ratio(c.nodeCpu, vs.nodeCpu) : ''} | ${vs ? ratio(c.pgCpu, vs.pgCpu) : ''} | ${vs ? ratio(c.walBytes, vs.walBytes) : ''} |`,
      );
    line('baseline: xds.status() alone', r.status, undefined, false);
    line('(a) publish, steady', r.aSteady);
    line('(b) publish, steady (renew)', r.bSteady, r.aSteady);
    line('(a) publish, changing', r.aChanging);
    line('(b) publish, changing (put)', r.bChanging, r.aChanging);
    line('(a) listReplicaStatus', r.listA, undefined, false);
    line('(b) listReplicaStatus', r.listB, r.listA, false);
  }
  console.log('\n| store | proxies | proxies JSON KB sent per full write (a) | (b) | (b)/(a) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.store} | ${fmt(r.proxies)} | ${kb(r.recordBytes.a)} | ${kb(r.recordBytes.b)} | ${ratio(r.recordBytes.b, r.recordBytes.a)} |`);
  console.log('\n| proxies | heap the (b) publisher keeps between publishes (its last put, fleet form) MB | bytes/proxy |');
  console.log('|---:|---:|---:|');
  for (const r of rows.filter((x) => x.store === 'postgres')) console.log(`| ${fmt(r.proxies)} | ${fmt(r.retainedBytes / 1e6, 2)} | ${fmt(r.retainedBytes / r.proxies)} |`);
  const lost = rows.flatMap((r) => [r.aSteady, r.aChanging, r.bSteady, r.bChanging, r.listA, r.listB]).reduce((s, c) => s + (c.lost ?? 0), 0);
  if (lost) console.log(`\nnote: ${lost} PostgreSQL child processes (autovacuum workers) exited mid-measurement; counted through the postmaster's cutime`);
}

export async function run(): Promise<void> {
  let server: PostgresServer | undefined;
  const rows: Rows[] = [];
  try {
    server = await startPostgres();
    const pgServer = server;
    for (const n of SIZES) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-bench-fleet-'));
      rows.push(
        await benchStore('embedded', n, async () => {
          const store = await EmbeddedStore.open({ dir });
          return { legacy: new LegacyEmbeddedStatus(), store, close: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
        }),
      );
      rows.push(
        await benchStore('postgres', n, async () => {
          const legacy = await LegacyPostgresStatus.open(await pgServer.createDatabase(`bench_fleet_a_${n}`));
          const url = await pgServer.createDatabase(`bench_fleet_b_${n}`);
          const store = await PostgresStore.open({ url });
          const monitor = new pg.Client({ connectionString: url });
          await monitor.connect();
          const { rows: r } = await monitor.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          const postmaster = parseStat(readFileSync(`/proc/${r[0].pid}/stat`, 'utf8')).ppid;
          return { legacy, store, db: { monitor, postmaster }, close: async () => (await monitor.end(), await store.close(), await legacy.close()) };
        }),
      );
    }
  } finally {
    await server?.destroy();
  }
  print(rows);
}
