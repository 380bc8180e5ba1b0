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
 *
 * The record also holds the latest proxies this replica refused for their certificate identity
 * (`refused`, at most MAX_FLEET_REFUSALS, each naming the replica; README "Proxy identity"), so any
 * replica lists the fleet's (fleetRefusals()). They change seldom and are small, so they ride on the
 * renewal: compared with those last stored (sameRefusals()) every interval, and when they changed
 * while the proxies did not, the renewal carries them (renewReplicaStatus with `refused`) and the
 * megabyte proxies are not rewritten. They go with the lease, as the proxies do. A record without
 * `refused` (none, or put by an older replica during an upgrade) has none.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { TypeUrl } from '../proto/envoy.js';
import type { ProxyRecord, ProxyTypeRecord, ReplicaLease, ReplicaRefusal, ReplicaStatus, Store } from '../store/types.js';
import type { RefusalRecord } from '../xds/status.js';

export const DEFAULT_FLEET_INTERVAL_MS = 1000;
export const DEFAULT_FLEET_TTL_MS = 10_000;
export const DEFAULT_FLEET_STOP_WAIT_MS = 2000;
/** How many refusals a replica's record holds (the latest); IdentityAdmission keeps as many. */
export const MAX_FLEET_REFUSALS = 100;

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

/** A refusal as the fleet record holds it: a copy naming `replica`. */
export function fleetRefusal(r: RefusalRecord, replica: string): ReplicaRefusal {
  const out: AllFields<ReplicaRefusal> = {
    replica,
    nodeId: r.nodeId,
    nodeCluster: r.nodeCluster,
    identities: [...r.identities],
    group: r.group,
    allowed: [...r.allowed],
    reason: r.reason,
    peer: r.peer,
    when: r.when,
    at: r.at,
  };
  return out;
}

/** How each refusal field enters the change check; a field added to RefusalRecord fails to compile until placed here. */
const REFUSAL_FIELDS = {
  nodeId: 'same',
  nodeCluster: 'same',
  identities: 'own',
  group: 'same',
  allowed: 'own',
  reason: 'same',
  peer: 'same',
  when: 'same',
  at: 'same',
} as const satisfies Record<keyof RefusalRecord, 'same' | 'own'>;
const REFUSAL_SAME = fieldsWith(REFUSAL_FIELDS, 'same');

/** The latest MAX_FLEET_REFUSALS of `refused` (oldest first): what a record holds. */
const latestRefusals = <T>(refused: readonly T[]): readonly T[] => (refused.length > MAX_FLEET_REFUSALS ? refused.slice(-MAX_FLEET_REFUSALS) : refused);

/** Whether `reported` (as the xDS server reports them) would be stored as `stored` (fleetRefusal() form, latest only). */
export function sameRefusals(reported: readonly RefusalRecord[], stored: readonly ReplicaRefusal[]): boolean {
  const latest = latestRefusals(reported);
  if (latest.length !== stored.length) return false;
  const sameList = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  for (let i = 0; i < latest.length; i++) {
    const r = latest[i];
    const s = stored[i];
    for (const k of REFUSAL_SAME) if (r[k] !== s[k]) return false;
    if (!sameList(r.identities, s.identities) || !sameList(r.allowed, s.allowed)) return false;
  }
  return true;
}

/** Every proxy of `replicas` (a fleet() read), each naming its replica. */
export function fleetProxies(replicas: readonly ReplicaStatus[]): (ProxyRecord & { replica: string })[] {
  return replicas.flatMap((r) => r.proxies.map((p) => ({ ...p, replica: r.replica })));
}

/**
 * The refusals of `replicas` (a fleet() read), oldest first (by time, then replica; each replica's
 * own order kept): a record without `refused` has none. Each names its replica — the record's, whatever
 * an entry says.
 */
export function fleetRefusals(replicas: readonly ReplicaStatus[]): ReplicaRefusal[] {
  const all = replicas.flatMap((r) => (r.refused ?? []).map((x) => ({ ...x, replica: r.replica })));
  // Array.prototype.sort is stable: equal times of one replica keep the order it refused them in
  return all.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
}

/** `${hostname}-${pid}-${4 random hex}` unless one is given: unique per process, readable in a table. */
export function replicaId(given?: string): string {
  return given || `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export interface FleetPublisherOptions {
  store: Store;
  /**
   * Where this replica's proxies come from: the XdsServer (its `status()`), and the proxies it refused
   * for their identity (its `refused()`, oldest first; without it, the record holds none).
   */
  xds: { status(): ProxyRecord[]; refused?(): RefusalRecord[] };
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
  /** The refusals this publisher last stored (fleetRefusal() form), while the store is known to hold them. */
  private storedRefused?: ReplicaRefusal[];

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
    this.storedRefused = undefined;
    await this.publish();
  }

  /** This replica's record as it would be stored now (proxies in fleetProxy() form, refusals in fleetRefusal() form, absent when none). */
  status(): ReplicaStatus {
    const reportedAt = this.now();
    const refused = this.refusedNow();
    return {
      replica: this.replica,
      servedKey: this.opts.servedKey(),
      reportedAt,
      expiresAt: reportedAt + this.ttlMs,
      proxies: this.opts.xds.status().map(fleetProxy),
      ...(refused.length && { refused }),
    };
  }

  /** This replica's latest refusals as its record holds them. */
  private refusedNow(reported = this.reportedRefusals()): ReplicaRefusal[] {
    return latestRefusals(reported).map((r) => fleetRefusal(r, this.replica));
  }

  private reportedRefusals(): RefusalRecord[] {
    return this.opts.xds.refused?.() ?? [];
  }

  /**
   * Stores this replica's status now (and re-arms the timer): the whole record when its proxies
   * changed since the last put, else a renewal of the lease (carrying the refusals when only they
   * changed). Resolves true when stored, false when
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
    this.storedRefused = undefined;
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
      const reportedRefused = this.reportedRefusals();
      const reportedAt = this.now();
      const lease: ReplicaLease = { replica: this.replica, servedKey: this.opts.servedKey(), reportedAt, expiresAt: reportedAt + this.ttlMs };
      let renewed = false;
      if (this.stored && sameProxies(reported, this.stored)) {
        // refusals changed (or are not known to be stored): the renewal carries them, a few kB at most
        const refused = this.storedRefused && sameRefusals(reportedRefused, this.storedRefused) ? undefined : this.refusedNow(reportedRefused);
        if (refused) this.storedRefused = undefined;
        // false: the record is gone (removed, forgotten, a new database): put it whole
        renewed = await this.opts.store.renewReplicaStatus(refused ? { ...lease, refused } : lease);
        if (renewed && refused && this.running) this.storedRefused = refused;
      }
      if (!renewed) {
        const proxies = reported.map(fleetProxy);
        const refused = this.refusedNow(reportedRefused);
        // until this put is known to have landed, the store may hold either record
        this.stored = undefined;
        this.storedRefused = undefined;
        await this.opts.store.putReplicaStatus({ ...lease, proxies, ...(refused.length && { refused }) });
        if (this.running) {
          this.stored = proxies;
          this.storedRefused = refused;
        }
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
