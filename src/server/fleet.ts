/**
 * Replica-wide proxy status. Every replica leases a record in the store — what it serves
 * (`servedKey`) and every proxy stream it holds, with per-type versions sent/ACKed and the last NACK —
 * renewed every `intervalMs` and leased for `ttlMs`: a replica that dies drops out of the fleet when
 * its lease runs out, one that stops cleanly removes its record at once. `fleet()` is the view the
 * admin API (`GET /api/v1/proxies`, `banyan proxies`) and rollout gates read: every proxy of every
 * live replica.
 *
 * At a thousand proxies and more the record is megabytes, so it is written only when it changed:
 * every interval the publisher compares what the xDS server reports with the proxies it last put
 * (field by field, `lastNonce` aside) and, when nothing changed, only renews the lease
 * (renewReplicaStatus, a few bytes). A change — a proxy ACKs, NACKs, connects or goes — is put in
 * full at the next interval. The record keeps subscribed names for RouteConfigurations only (rollout
 * gates read them); other types keep a `subscribedCount` (and "*" for a wildcard subscriber): EDS
 * lists run to hundreds of names per proxy, and nothing reads them from the store. `?scope=local`
 * still shows this replica's proxies in full.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { TypeUrl } from '../proto/envoy.js';
import type { ProxyRecord, ProxyTypeRecord, ReplicaLease, ReplicaStatus, Store } from '../store/types.js';

export const DEFAULT_FLEET_INTERVAL_MS = 1000;
export const DEFAULT_FLEET_TTL_MS = 10_000;
export const DEFAULT_FLEET_STOP_WAIT_MS = 2000;

const RDS = TypeUrl.RouteConfiguration;

/** Every field of T, optional ones included: a field added to T fails to compile where a record is built with this. */
type AllFields<T> = { [K in keyof Required<T>]: T[K] };
type Nack = NonNullable<ProxyTypeRecord['lastNack']>;

/**
 * A proxy as the fleet record holds it: RouteConfiguration names kept (rollout gates match them),
 * every other type's names replaced by their count (`subscribedCount`), "*" kept for a wildcard.
 * A copy that shares only strings with `p`.
 */
export function fleetProxy(p: ProxyRecord): ProxyRecord {
  const out: AllFields<ProxyRecord> = {
    streamId: p.streamId,
    nodeId: p.nodeId,
    nodeCluster: p.nodeCluster,
    group: p.group,
    kind: p.kind,
    service: p.service,
    peer: p.peer,
    connectedSince: p.connectedSince,
    userAgent: p.userAgent && { name: p.userAgent.name, version: p.userAgent.version },
    types: p.types.map(fleetType),
  };
  return out;
}

function fleetType(t: ProxyTypeRecord): ProxyTypeRecord {
  const names = t.typeUrl === RDS;
  const n = t.lastNack;
  const out: AllFields<ProxyTypeRecord> = {
    typeUrl: t.typeUrl,
    state: t.state,
    currentVersion: t.currentVersion,
    versionSent: t.versionSent,
    versionAcked: t.versionAcked,
    lastNonce: t.lastNonce,
    lastNack: n && ({ version: n.version, nonce: n.nonce, message: n.message, code: n.code, at: n.at } satisfies AllFields<Nack>),
    subscribed: names ? [...t.subscribed] : wildcard(t) ? ['*'] : [],
    subscribedCount: names ? t.subscribedCount : subscribedCount(t),
  };
  return out;
}

const wildcard = (t: ProxyTypeRecord) => t.subscribed[0] === '*' || t.subscribed.includes('*');
/** Idempotent: a record already in fleet form keeps its count. */
const subscribedCount = (t: ProxyTypeRecord) => t.subscribedCount ?? t.subscribed.length;

/**
 * How each field enters the change check: `same` compared as is, `own` by code below, `volatile`
 * not at all. A field added to the record types fails to compile until it is placed here.
 */
const PROXY_FIELDS = {
  streamId: 'same',
  nodeId: 'same',
  nodeCluster: 'same',
  group: 'same',
  kind: 'same',
  service: 'same',
  peer: 'same',
  connectedSince: 'same',
  userAgent: 'own',
  types: 'own',
} as const satisfies Record<keyof ProxyRecord, 'same' | 'own'>;
const TYPE_FIELDS = {
  typeUrl: 'same',
  state: 'same',
  currentVersion: 'same',
  versionSent: 'same',
  versionAcked: 'same',
  // a new nonce with every response sent; one that matters moves a version or the state too
  lastNonce: 'volatile',
  lastNack: 'own',
  subscribed: 'own',
  subscribedCount: 'own',
} as const satisfies Record<keyof ProxyTypeRecord, 'same' | 'own' | 'volatile'>;
const NACK_FIELDS = { version: 'same', nonce: 'same', message: 'same', code: 'same', at: 'same' } as const satisfies Record<keyof Nack, 'same'>;

const fieldsWith = <K extends string>(table: Record<K, string>, how: string) => (Object.keys(table) as K[]).filter((k) => table[k] === how);
const PROXY_SAME = fieldsWith(PROXY_FIELDS, 'same');
const TYPE_SAME = fieldsWith(TYPE_FIELDS, 'same');
const NACK_SAME = fieldsWith(NACK_FIELDS, 'same');

/**
 * Whether `reported` (as the xDS server reports them) would be stored as `stored` (fleetProxy()
 * form), `lastNonce` aside: an exact check, and cheaper than hashing since it builds nothing.
 */
export function sameProxies(reported: readonly ProxyRecord[], stored: readonly ProxyRecord[]): boolean {
  if (reported.length !== stored.length) return false;
  for (let i = 0; i < reported.length; i++) {
    const r = reported[i];
    const s = stored[i];
    for (const k of PROXY_SAME) if (r[k] !== s[k]) return false;
    if (r.userAgent?.name !== s.userAgent?.name || r.userAgent?.version !== s.userAgent?.version || !r.userAgent !== !s.userAgent) return false;
    if (r.types.length !== s.types.length) return false;
    for (let j = 0; j < r.types.length; j++) if (!sameType(r.types[j], s.types[j])) return false;
  }
  return true;
}

function sameType(r: ProxyTypeRecord, s: ProxyTypeRecord): boolean {
  for (const k of TYPE_SAME) if (r[k] !== s[k]) return false;
  if (r.lastNack !== s.lastNack) {
    if (!r.lastNack || !s.lastNack) return false;
    for (const k of NACK_SAME) if (r.lastNack[k] !== s.lastNack[k]) return false;
  }
  if (r.typeUrl !== RDS) return subscribedCount(r) === s.subscribedCount && wildcard(r) === (s.subscribed[0] === '*');
  if (r.subscribed.length !== s.subscribed.length || r.subscribedCount !== s.subscribedCount) return false;
  for (let j = 0; j < r.subscribed.length; j++) if (r.subscribed[j] !== s.subscribed[j]) return false;
  return true;
}

/** `${hostname}-${pid}-${4 random hex}` unless one is given: unique per process, readable in a table. */
export function replicaId(given?: string): string {
  return given || `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export interface FleetPublisherOptions {
  store: Store;
  /** Where this replica's proxies come from: the XdsServer (its `status()`). */
  xds: { status(): ProxyRecord[] };
  /** What this replica serves now (ControlPlane.servedKey). */
  servedKey: () => string;
  logger: Logger;
  /** Default replicaId(). */
  replica?: string;
  /** How often the record is renewed; default 1000 ms. */
  intervalMs?: number;
  /** How long a record outlives its last renewal; default 10 s. */
  ttlMs?: number;
  now?: () => number;
  /** How long stop() waits for an in-flight put, and then for the removal; default 2000 ms. */
  stopWaitMs?: number;
}

export class FleetPublisher {
  readonly replica: string;
  readonly intervalMs: number;
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<boolean>;
  private running = false;
  private failing = false;
  /** The proxies this publisher last put (fleetProxy() form), while the store is known to hold them. */
  private stored?: ProxyRecord[];

  constructor(private readonly opts: FleetPublisherOptions) {
    this.replica = replicaId(opts.replica);
    this.intervalMs = opts.intervalMs ?? DEFAULT_FLEET_INTERVAL_MS;
    this.ttlMs = opts.ttlMs ?? DEFAULT_FLEET_TTL_MS;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'fleet', replica: this.replica });
  }

  /** Publishes once (a failure is logged, not thrown) and then every `intervalMs` until stop(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stored = undefined;
    await this.publish();
  }

  /** This replica's record as it would be stored now (proxies in fleetProxy() form). */
  status(): ReplicaStatus {
    const reportedAt = this.now();
    return { replica: this.replica, servedKey: this.opts.servedKey(), reportedAt, expiresAt: reportedAt + this.ttlMs, proxies: this.opts.xds.status().map(fleetProxy) };
  }

  /**
   * Stores this replica's status now (and re-arms the timer): the whole record when its proxies
   * changed since the last put, else a renewal of the lease. Resolves true when stored, false when
   * the store refused (logged; the next interval retries). Never rejects.
   */
  publish(): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    clearTimeout(this.timer);
    this.timer = undefined;
    const run = (this.inflight ?? Promise.resolve(true)).then(() => this.putOnce());
    this.inflight = run;
    void run.finally(() => {
      if (this.inflight === run) this.inflight = undefined;
      this.arm();
    });
    return run;
  }

  /**
   * Every live replica's status at this moment, by replica id. This replica's own
   * entry is what it holds now rather than its last renewal, so its own proxies are never a second
   * behind. Rejects (StoreUnavailableError) when the store cannot be read.
   */
  async fleet(): Promise<ReplicaStatus[]> {
    const now = this.now();
    const stored = await this.opts.store.listReplicaStatus(now);
    if (!this.running) return stored;
    const others = stored.filter((r) => r.replica !== this.replica);
    return [...others, this.status()].sort((a, b) => (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
  }

  /**
   * Stops renewing and removes this replica's record. Never rejects, and waits at most about
   * 2 × stopWaitMs (a store that hangs must not hold up shutdown): the lease expires anyway.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stored = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    const wait = this.opts.stopWaitMs ?? DEFAULT_FLEET_STOP_WAIT_MS;
    // A put still in flight must land before the removal, or it would bring the record back.
    const inflight = this.inflight;
    if (inflight && !(await settlesWithin(inflight, wait))) {
      // It may still land later: remove again then, if the store is still open.
      void inflight.then((stored) => (stored ? this.opts.store.removeReplicaStatus(this.replica) : undefined)).catch(() => undefined);
    }
    const removal = this.opts.store.removeReplicaStatus(this.replica).then(
      () => true,
      (err) => {
        this.log.warn({ err }, `could not remove this replica's status; it expires within ${this.ttlMs} ms`);
        return true;
      },
    );
    if (!(await settlesWithin(removal, wait))) this.log.warn(`removing this replica's status is taking over ${wait} ms; it expires within ${this.ttlMs} ms`);
  }

  private async putOnce(): Promise<boolean> {
    if (!this.running) return false;
    try {
      const reported = this.opts.xds.status();
      const reportedAt = this.now();
      const lease: ReplicaLease = { replica: this.replica, servedKey: this.opts.servedKey(), reportedAt, expiresAt: reportedAt + this.ttlMs };
      // false: the record is gone (removed, forgotten, a new database): put it whole
      const renewed = !!this.stored && sameProxies(reported, this.stored) && (await this.opts.store.renewReplicaStatus(lease));
      if (!renewed) {
        const proxies = reported.map(fleetProxy);
        // until this put is known to have landed, the store may hold either record
        this.stored = undefined;
        await this.opts.store.putReplicaStatus({ ...lease, proxies });
        if (this.running) this.stored = proxies;
      }
      if (this.failing) this.log.info('replica status stored again');
      this.failing = false;
      return true;
    } catch (err) {
      // Once at warn, then quietly every interval until it works again.
      if (this.failing) this.log.debug({ err }, 'replica status still not stored');
      else this.log.warn({ err }, `could not store this replica's status; retrying every ${this.intervalMs} ms`);
      this.failing = true;
      return false;
    }
  }

  private arm(): void {
    if (!this.running || this.timer || this.inflight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.publish();
    }, this.intervalMs);
    this.timer.unref();
  }
}

/** Whether `p` settles within `ms` (it is never rejected here: callers pass promises that only resolve). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
