/**
 * The durable state of a Banyan control plane: applied config versions, runtime weight overrides,
 * rollouts and the audit log. One interface, two implementations (embedded.ts, postgres.ts), one
 * contract test suite (test/store/contract.ts).
 *
 * All times are epoch milliseconds (numbers), so records are JSON-ready and rollout logic can run
 * on an injected clock. Every method returns copies: mutating a result never changes the store.
 */
import type { AnalysisCheck, AnalysisMetric, RolloutAnalysis, WebhookEvent, WebhookSpec } from '../config/model.js';
import type { BackendWeight } from '../config/overrides.js';
import type { SourceFile } from '../config/source.js';
import type { StoredCa } from '../ca/source.js';

export type { StoredCa };
export type { AnalysisCheck, AnalysisMetric, BackendWeight, RolloutAnalysis, WebhookEvent, WebhookSpec };

/** One YAML file of a config version, as read from disk (config/source.ts). */
export type ConfigFile = SourceFile;

export interface ConfigVersion {
  /** 1, 2, 3, ...: assigned by the store, never reused. */
  version: number;
  /** sha256 (hex) of the content, see hashConfigContent(). */
  hash: string;
  content: ConfigFile[];
  author: string;
  message: string;
  createdAt: number;
}

export interface NewConfigVersion {
  content: ConfigFile[];
  author: string;
  message: string;
  /** Audit action; default `config.apply` (a rollback passes `config.rollback`). */
  action?: string;
  details?: Record<string, unknown>;
}

export interface Override {
  /** Route reference as accepted by resolveRoute() in config/overrides.ts. */
  route: string;
  backends: BackendWeight[];
  author: string;
  reason: string;
  updatedAt: number;
  /** routeBackendsHash() of the route's YAML backends when the override was set (stale detection). */
  baseHash: string;
}

export type NewOverride = Omit<Override, 'updatedAt'>;

/** `rolled-back`: analysis failed and the rollout put back its starting weights by itself. */
export type RolloutState = 'running' | 'paused' | 'completed' | 'aborted' | 'undone' | 'rolled-back';

export const ACTIVE_ROLLOUT_STATES: readonly RolloutState[] = ['running', 'paused'];

export interface Rollout {
  id: string;
  route: string;
  /** Effective weights when the rollout started: abort and undo return to exactly these. */
  fromBackends: BackendWeight[];
  /** The override in force at start (restored by abort/undo), or null when the YAML weights were. */
  startOverride: Override | null;
  /** routeBackendsHash() of the route's YAML backends at start; stamped on overrides the rollout writes. */
  baseHash: string;
  toBackend: string;
  /** Target percentages, strictly increasing, each in 1..100. */
  steps: number[];
  intervalMs: number;
  /** Index into steps of the step in force. */
  currentStep: number;
  /** The target backend's share now (steps[currentStep], or 100 after `promote --full`). */
  percent: number;
  state: RolloutState;
  /** When the next step is due; null unless running with steps left. */
  nextStepAt: number | null;
  /** Time left to the next step when paused; resume restarts the countdown from here. */
  pausedRemainingMs: number | null;
  startedBy: string;
  createdAt: number;
  updatedAt: number;
  /** Optimistic concurrency: bumped by the store on every update. */
  revision: number;

  // ---- added with gated, analysed rollouts; absent on records stored by older Banyans (see rollout/defaults.ts)

  /** Who owns the rollout: a CLI/admin start, or a `rollouts:` entry in the YAML (its name). */
  owner?: { kind: 'cli' } | { kind: 'file'; spec: string; specHash: string };
  /** How long every proxy serving the route has to ACK a step before the rollout holds. */
  ackTimeoutMs?: number;
  analysis?: RolloutAnalysis;
  webhooks?: WebhookSpec[];
  /** Where the current step is: waiting for proxies, baking (analysis), or waiting on a gate. */
  phase?: RolloutPhase;
  /** Why a paused rollout is paused; `auto` holds lift by themselves (the proxies ACK, the gate opens). */
  hold?: RolloutHold | null;
  /** Consecutive failed analysis runs in the current step. */
  failures?: number;
  /** While syncing: when the proxies' time to ACK runs out. */
  syncDeadline?: number | null;
  /** While baking: when the next analysis run is due. */
  nextAnalysisAt?: number | null;
  /** One record per step applied, in order: the live step list. */
  log?: StepRecord[];
  /** Why a rollout ended other than by completing (YAML edit, analysis, operator). */
  endReason?: string;
  /** Notifications decided by a transition, delivered after it was stored (outbox: exactly once per event). */
  outbox?: WebhookDelivery[];
}

export type RolloutPhase = 'syncing' | 'baking' | 'gating';

export interface RolloutHold {
  kind: 'operator' | 'nack' | 'sync-timeout' | 'analysis' | 'gate';
  message: string;
  since: number;
  /** Lifts by itself when its cause goes (nack, sync-timeout, gate); operator and analysis holds need `resume`. */
  auto: boolean;
}

export interface CheckResult {
  check: string;
  /** null: not enough data to decide (e.g. fewer requests than a min-requests check needs). */
  passed: boolean | null;
  value: number | null;
  baseline?: number | null;
  threshold: string;
  /** Requests (or samples) the value is computed from. */
  samples: number;
  detail?: string;
}

export interface AnalysisRun {
  at: number;
  from: number;
  to: number;
  passed: boolean | null;
  results: CheckResult[];
}

export interface StepRecord {
  step: number;
  percent: number;
  appliedAt: number;
  /** When every proxy serving the route, on every replica, had ACKed this step's weights. */
  syncedAt?: number;
  /** The latest analysis runs of this step (bounded). */
  analysis: AnalysisRun[];
  outcome?: 'passed' | 'failed' | 'paused' | 'aborted';
}

export interface WebhookDelivery {
  /** Stable across retries and replicas: receivers deduplicate on it (X-Banyan-Delivery). */
  id: string;
  webhook: string;
  event: WebhookEvent;
  payload: Record<string, unknown>;
  /** Claimed by a replica (it is delivering it) until this time; another replica may take it after. */
  claimedBy?: string;
  claimedUntil?: number;
}

// ------------------------------------------------------------------ replica-wide status and load

/** One xDS type of one proxy stream, as xds/status.ts reports it (structurally the same). */
export interface ProxyTypeRecord {
  typeUrl: string;
  state: 'SYNCED' | 'STALE' | 'NACKED';
  currentVersion?: string;
  versionSent?: string;
  versionAcked?: string;
  lastNonce?: string;
  lastNack?: { version: string; nonce: string; message: string; code?: number; at: string };
  subscribed: string[];
  /**
   * Set when `subscribed` was cut short: the fleet view (FleetPublisher, server/fleet.ts) keeps the
   * names of RouteConfigurations only, since a proxy's EDS/CDS names can run to thousands and nothing
   * reads them from the store. `subscribed` then holds only "*" (a wildcard subscriber) or nothing,
   * and this is how many entries the proxy's full list has.
   */
  subscribedCount?: number;
}

export interface ProxyRecord {
  streamId: string;
  nodeId: string;
  nodeCluster: string;
  group?: string;
  kind: string;
  service: string;
  peer: string;
  connectedSince: string;
  /** From Node.user_agent_name / user_agent_version (or user_agent_build_version). */
  userAgent?: { name: string; version: string };
  types: ProxyTypeRecord[];
}

/** A proxy refused because its client certificate's identity may not join the group its node lands in (xds/status.ts reports these). */
export interface RefusalRecord {
  nodeId: string;
  nodeCluster: string;
  /** The certificate's identities (URI SANs as given, DNS SANs as `dns:<name>`); empty without a certificate. */
  identities: string[];
  group: string;
  /** What the group allows. */
  allowed: string[];
  reason: string;
  peer: string;
  /** `first-request`: refused on connecting; `regrouped`: after a config change (a new group, or new identities for its group) the node may no longer join. */
  when: 'first-request' | 'regrouped';
  /** ISO time of the refusal. */
  at: string;
}

/** A refusal as the fleet record holds it (README "Proxy identity"): with the replica that refused it. */
export interface ReplicaRefusal extends RefusalRecord {
  /** The replica that refused it. */
  replica: string;
}

/** What one replica serves and to whom, leased: a replica that stops renewing drops out of the fleet. */
export interface ReplicaStatus {
  replica: string;
  /** Identifies what the replica serves (config hash and overrides); equal on replicas serving the same. */
  servedKey: string;
  reportedAt: number;
  expiresAt: number;
  proxies: ProxyRecord[];
  /**
   * The latest proxies this replica refused for their identity (at most 100), oldest first. Absent:
   * none — stores leave it out when there are none, and a record put by a replica older than this
   * field (during an upgrade) reads without it.
   */
  refused?: ReplicaRefusal[];
}

/**
 * A replica's record without its proxies: what renewReplicaStatus() updates. `refused`, when given,
 * replaces the stored refusals (`[]` clears them); absent, they are kept.
 */
export type ReplicaLease = Omit<ReplicaStatus, 'proxies'>;

/** Load of one cluster over one reporting interval, as one replica received it (LRS or the metrics service). */
export interface LoadSample {
  replica: string;
  cluster: string;
  source: 'lrs' | 'metrics';
  /**
   * When the sample was written to the store (loadstats/writer.ts stamps it, ≤ a batch interval after
   * it arrived): analysis windows follow on from one another over it, so each sample counts once.
   */
  at: number;
  intervalMs: number;
  /** Proxy (node id) the sample came from. */
  node: string;
  successes: number;
  errors: number;
  issued: number;
  dropped: number;
  /**
   * Upstream request time: bucket upper bounds in ms (ascending) and per-bucket (not cumulative)
   * counts for the interval; `counts` has one more entry than `bounds`, the count above the last bound.
   */
  latency?: { bounds: number[]; counts: number[] };
}

/** A rollout update may change the route's override in the same transaction. */
export type WeightEffect = { set: NewOverride } | { clear: string };

export interface AuditEntry {
  /** Monotonic sequence number. */
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export interface AuditInput {
  actor: string;
  action: string;
  details?: Record<string, unknown>;
}

/** What a watch listener hears. `resync`: changes may have been missed (e.g. after a reconnect); re-read everything. */
export interface StoreChange {
  kind: 'config' | 'override' | 'rollout' | 'revocation' | 'resync';
  target: string;
}

// ------------------------------------------------------------------ token revocations (authz)

export const REVOCATION_KINDS = ['jti', 'sub', 'sid'] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

/**
 * A revoked token id (`jti`), subject (`sub`) or session (`sid`), honoured by every replica's authz
 * service. `jti`: that token. `sid`: every token of that session, whenever issued. `sub`: the
 * subject's tokens issued at or before `createdAt` (iat ≤ createdAt; a token without iat counts as
 * older), so the user can log in again. Kept until `expiresAt`, which should be no earlier than the
 * last exp of the tokens it denies; expired entries are no longer listed and are pruned.
 */
export interface Revocation {
  kind: RevocationKind;
  value: string;
  reason: string;
  actor: string;
  createdAt: number;
  expiresAt: number;
}

export type NewRevocation = Omit<Revocation, 'createdAt'>;

export interface Store {
  appendConfigVersion(input: NewConfigVersion): Promise<ConfigVersion>;
  getConfigVersion(version: number): Promise<ConfigVersion | undefined>;
  latestConfigVersion(): Promise<ConfigVersion | undefined>;
  /** Newest first. */
  listConfigVersions(opts?: { limit?: number }): Promise<ConfigVersion[]>;

  setOverride(input: NewOverride): Promise<Override>;
  /** Returns false (and writes nothing) when the route has no override. */
  clearOverride(route: string, actor: string, reason?: string): Promise<boolean>;
  getOverride(route: string): Promise<Override | undefined>;
  listOverrides(): Promise<Override[]>;

  /**
   * Stores a new rollout at revision 1. Throws ActiveRolloutExistsError when the route already has a
   * running or paused rollout, whatever the new one's state (a one-step rollout is created completed
   * and must not overwrite a running one's weights). Checked atomically: of concurrent creates on one
   * route, exactly one wins.
   */
  createRollout(rollout: Omit<Rollout, 'revision'>, audit: AuditInput, effect?: WeightEffect): Promise<Rollout>;
  /** Replaces the rollout if its stored revision is `expectedRevision`, else RevisionConflictError. */
  updateRollout(rollout: Rollout, expectedRevision: number, audit: AuditInput, effect?: WeightEffect): Promise<Rollout>;
  getRollout(id: string): Promise<Rollout | undefined>;
  /** Newest first. */
  listRollouts(opts?: { limit?: number; route?: string }): Promise<Rollout[]>;
  activeRollout(route: string): Promise<Rollout | undefined>;
  /** Every running or paused rollout. */
  activeRollouts(): Promise<Rollout[]>;

  /** Newest first; `since` keeps entries at or after that time. */
  listAudit(opts?: { limit?: number; since?: number }): Promise<AuditEntry[]>;

  /** Replaces this replica's status (all its proxies, and its refusals: none when `refused` is absent), leased until `status.expiresAt`. */
  putReplicaStatus(status: ReplicaStatus): Promise<void>;
  /**
   * Extends this replica's lease and updates its servedKey and reportedAt, keeping the proxies of its
   * last put: the cheap renewal when they have not changed. With `lease.refused`, replaces the stored
   * refusals in the same write (a few kB), else keeps them. Returns false, and writes nothing, when
   * the store holds no record for the replica (never put, removed, or forgotten after expiring): the
   * caller then puts the whole record. Forgets long-expired leases as putReplicaStatus() does.
   */
  renewReplicaStatus(lease: ReplicaLease): Promise<boolean>;
  /** Every replica whose lease has not expired at `now`. */
  listReplicaStatus(now: number): Promise<ReplicaStatus[]>;
  /** A replica shutting down leaves the fleet at once. */
  removeReplicaStatus(replica: string): Promise<void>;

  addLoadSamples(samples: LoadSample[]): Promise<void>;
  /** Samples of `clusters` whose `at` lies in (from, to]. */
  listLoadSamples(clusters: readonly string[], from: number, to: number): Promise<LoadSample[]>;
  /** Forgets samples with `at` before `before` (retention). */
  pruneLoadSamples(before: number): Promise<void>;

  /**
   * Stores a revocation (audited, notified as a `revocation` change), replacing one of the same kind
   * and value: createdAt becomes now. Entries expired at now are pruned in the same write.
   */
  addRevocation(input: NewRevocation): Promise<Revocation>;
  /** Returns false (and writes nothing) when there is no such revocation. */
  removeRevocation(kind: RevocationKind, value: string, actor: string): Promise<boolean>;
  /** Revocations with expiresAt after `now`, oldest first. */
  listRevocations(now: number): Promise<Revocation[]>;
  /** Forgets revocations with expiresAt at or before `before`; returns how many. Not notified. */
  pruneRevocations(before: number): Promise<number>;

  /**
   * The CA shared by every replica (src/ca/source.ts), or undefined when none is stored yet.
   */
  getCa(): Promise<StoredCa | undefined>;
  /**
   * Stores `ca` unless a CA is stored already, and returns whichever CA is stored after the call:
   * `ca`, or the one another writer (replica) stored first. Audited (`ca.create`) only when it stores;
   * not notified. Refuses (bad-input) a key that is not an encrypted PKCS#8 PEM.
   */
  putCaIfAbsent(ca: StoredCa): Promise<StoredCa>;

  /** Calls `listener` after every committed change (from this or, for PostgreSQL, any replica). Returns unsubscribe. */
  watch(listener: (change: StoreChange) => void): () => void;
  close(): Promise<void>;
}
