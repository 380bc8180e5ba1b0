/**
 * What the rollout end-to-end tests (test/e2e/rollout-*.test.ts) share: the YAML of one route split
 * between a baseline and a canary, admin API calls with a bearer token, a rollout and its audit read
 * back from the store, the weights a scripted proxy received, two `banyan serve` replicas on one real
 * PostgreSQL, and a teardown that runs every step whatever fails.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBanyan, type RunningBanyan, type ServeOptions } from '../../src/server/banyan.js';
import { loopbackServe } from './banyan.js';
import type { AuditEntry, Rollout, Store } from '../../src/store/types.js';
import type { Resp } from '../conformance/harness.js';
import { startPostgres, type PostgresServer } from './postgres.js';

/**
 * One edge listener (port 10000) with one route `route` (prefix `/<route>`) that sends everything to
 * `baseline` (10.0.0.1:8080) and nothing to `canary` (10.0.0.2:8080): where a rollout starts.
 */
export function canaryRouteYaml(route: string, baseline: string, canary: string): string {
  return `listeners:
  - name: edge
    port: 10000
    hosts:
      - domains: ["*"]
        routes:
          - name: ${route}
            match: { prefix: /${route} }
            to:
              - { cluster: ${baseline}, weight: 100 }
              - { cluster: ${canary}, weight: 0 }
clusters:
  - name: ${baseline}
    endpoints: [10.0.0.1:8080]
  - name: ${canary}
    endpoints: [10.0.0.2:8080]
`;
}

export interface AdminAnswer {
  status: number;
  /** The answer's JSON, undefined when it has no body. */
  body: any;
}

/** `method p` on the admin API at 127.0.0.1:`port`, as `Bearer <token>`, with `body` (if any) as JSON. */
export async function adminCall(port: number, token: string, method: string, p: string, body?: unknown): Promise<AdminAnswer> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The stored rollout `id`; throws if there is none. */
export async function storedRollout(store: Store, id: string): Promise<Rollout> {
  const r = await store.getRollout(id);
  if (!r) throw new Error(`rollout ${id} not stored`);
  return r;
}

/**
 * The audit entries of rollout `id` among the newest `limit` the store lists, newest first (as the
 * store lists them); with `action` and `target`, only that action on that route.
 */
export async function rolloutAudit(store: Store, id: string, opts: { limit: number; action?: string; target?: string }): Promise<AuditEntry[]> {
  return (await store.listAudit({ limit: opts.limit })).filter(
    (e) => (opts.action === undefined || e.action === opts.action) && (opts.target === undefined || e.target === opts.target) && e.details.rollout === id,
  );
}

type RouteConfig = { virtual_hosts: { routes: { name: string; route?: { cluster?: string; weighted_clusters?: { clusters: { name: string; weight: number | { value: number } }[] } } }[] }[] };

/** `cluster=weight,…` of `route` in the (first) RouteConfiguration of an RDS response a proxy received. */
export function routeWeightsIn(r: Resp, route: string): string {
  const rc = r.resources[0] as unknown as RouteConfig;
  const found = rc.virtual_hosts.flatMap((vh) => vh.routes).find((x) => x.name === route);
  if (!found?.route) throw new Error(`no route ${route} in the RouteConfiguration`);
  if (found.route.cluster) return `${found.route.cluster}=100`;
  return found.route.weighted_clusters!.clusters.map((c) => `${c.name}=${typeof c.weight === 'number' ? c.weight : c.weight.value}`).join(',');
}

/**
 * Runs every step in order, each whether or not an earlier one failed (nothing outlives the file),
 * and returns how each went; throwFirstRejection() then fails the hook.
 */
export async function settleInOrder(steps: (() => Promise<unknown> | unknown)[]): Promise<PromiseSettledResult<unknown>[]> {
  const results: PromiseSettledResult<unknown>[] = [];
  for (const s of steps) results.push(...(await Promise.allSettled([Promise.resolve().then(s)])));
  return results;
}

/** Throws the first failure among settled results (settleInOrder()'s or Promise.allSettled's), if any. */
export function throwFirstRejection(results: PromiseSettledResult<unknown>[]): void {
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * `banyan serve` in this process as replica `name` of the store at `postgresUrl`, serving `config`
 * (or, without, following the store alone): loopback, free ports, debounce 20 ms, not watching, logs
 * at BANYAN_LOG_LEVEL; `serve` adds or replaces options (admin token, poll and fleet intervals, …).
 */
export function startReplica(name: string, postgresUrl: string, config: string | undefined, serve: Partial<ServeOptions> = {}): Promise<RunningBanyan> {
  return startBanyan(loopbackServe(name, {
    config,
    postgresUrl,
    replica: name,
    ...serve,
  }));
}

export interface ReplicaPairOptions {
  /** The database created for the pair on its own PostgreSQL server. */
  database: string;
  /** Prefix of the temp dir holding routes.yaml. */
  tmpPrefix: string;
  /** What replica-a brings into the store. */
  yaml: string;
  /** Options of both replicas on top of startReplica()'s: the admin token, poll and fleet intervals, and so on. */
  serve: Partial<ServeOptions>;
}

/**
 * Two `banyan serve` replicas in this process on one real PostgreSQL: replica-a brings the YAML into
 * the store, replica-b follows the store alone. Make it in the describe and start() it in beforeAll,
 * so that afterAll can stop (stopSteps()) whatever started, even when start() failed half way.
 */
export class PostgresReplicaPair {
  pg: PostgresServer | undefined;
  dir: string | undefined;
  /** Those started so far: replica-a, then replica-b. */
  readonly replicas: RunningBanyan[] = [];

  /** Starts PostgreSQL, then replica-a, then replica-b, and returns the replicas. */
  async start(opts: ReplicaPairOptions): Promise<[RunningBanyan, RunningBanyan]> {
    this.pg = await startPostgres();
    const url = await this.pg.createDatabase(opts.database);
    this.dir = await mkdtemp(path.join(os.tmpdir(), opts.tmpPrefix));
    const config = path.join(this.dir, 'routes.yaml');
    fs.writeFileSync(config, opts.yaml);
    // A brings the YAML into the store; B follows the store alone
    this.replicas.push(await startReplica('replica-a', url, config, opts.serve));
    this.replicas.push(await startReplica('replica-b', url, undefined, opts.serve));
    return [this.replicas[0], this.replicas[1]];
  }

  /** Teardown steps for settleInOrder(): the replicas (the last started first), PostgreSQL, the temp dir. */
  stopSteps(): (() => Promise<unknown> | unknown)[] {
    return [...[...this.replicas].reverse().map((r) => () => r.stop()), () => this.pg?.destroy(), () => this.dir && rm(this.dir, { recursive: true, force: true })];
  }
}
