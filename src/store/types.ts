/**
 * The durable state of a Banyan control plane: applied config versions, runtime weight overrides,
 * rollouts and the audit log. One interface, two implementations (embedded.ts, postgres.ts), one
 * contract test suite (test/store/contract.ts).
 *
 * All times are epoch milliseconds (numbers), so records are JSON-ready and rollout logic can run
 * on an injected clock. Every method returns copies: mutating a result never changes the store.
 */
import type { BackendWeight } from '../config/overrides.js';
import type { SourceFile } from '../config/source.js';

export type { BackendWeight };

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

export type RolloutState = 'running' | 'paused' | 'completed' | 'aborted' | 'undone';

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
  kind: 'config' | 'override' | 'rollout' | 'resync';
  target: string;
}

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

  /** Calls `listener` after every committed change (from this or, for PostgreSQL, any replica). Returns unsubscribe. */
  watch(listener: (change: StoreChange) => void): () => void;
  close(): Promise<void>;
}
