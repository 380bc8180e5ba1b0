/**
 * What the admin API needs from the control plane, stated by the admin API. The server implements
 * it (server/admin-operations.ts); admin imports nothing from server/, so the HTTP layer can be
 * served over any implementation (tests, a console) and never learns how a change becomes live.
 *
 * Methods return domain data; the route modules shape it into responses. Failures are BanyanErrors
 * (src/errors.ts), ConfigRejectedError or ChangeHeldError (admission/errors.ts), which
 * routes/errors.ts maps to HTTP by code.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Config } from '../config/model.js';
import type { WeightsMode } from '../config/weights.js';
import type { ConfigDiff } from '../diff/config.js';
import type { XdsDiff } from '../diff/xds.js';
import type {
  AuditEntry,
  BackendWeight,
  ConfigFile,
  ConfigVersion,
  Override,
  ProxyRecord,
  Revocation,
  RevocationKind,
  Rollout,
  RolloutAnalysis,
  RolloutState,
  WebhookSpec,
} from '../store/types.js';
import type { ProxyStatus } from '../xds/status.js';

/** A stored version without its (possibly large) content. */
export type VersionInfo = Omit<ConfigVersion, 'content'>;

export type DiffLevel = 'config' | 'xds';

/** A diff at the level asked for: the typed models, or the Envoy resources they compile to. */
export type LeveledDiff = { level: 'config'; diff: ConfigDiff } | { level: 'xds'; diff: XdsDiff };

export interface ChangeMeta {
  author: string;
  message: string;
  /** Apply even when the change removes more than the allowed share (see admission/safety.ts). */
  confirmRemoval?: boolean;
}

// ------------------------------------------------------------------ what is served

export interface ServedStatus {
  config: { hash: string; files: string[]; appliedAt: string; warnings: Diagnostic[] } | null;
  lastRejected: { hash: string; at: string; diagnostics: Diagnostic[] } | null;
  lastHeld: { hash: string; at: string; diagnostics: Diagnostic[] } | null;
  groups: string[];
}

/** Proxy group → type URL → resource name → canonical JSON of the wire bytes (Envoy's config_dump form). */
export type XdsView = Record<string, Record<string, Record<string, unknown>>>;

/** One proxy stream of one replica, as the fleet's status holds it; `replica` says which replica serves it. */
export type FleetProxy = ProxyRecord & { replica: string };

/**
 * The read side: synchronous, because health probes and status must answer even while a change is
 * applied; except fleet(), which reads every replica's status from the store.
 */
export interface ServedView {
  status(): ServedStatus;
  /** The YAML as loaded (`base`) or what is served with overrides (`effective`). Throws `no-config` before the first config. */
  config(which: 'base' | 'effective'): Config;
  /** Every group, or one (`not-found` when it does not exist). Throws `no-config` before the first config. */
  xds(group?: string): XdsView;
  /** The proxies connected to this replica. */
  proxies(): ProxyStatus[];
  /** Every proxy of every live replica (this one's as it holds them now). Rejects when the store cannot be read. */
  fleet(): Promise<FleetProxy[]>;
}

// ------------------------------------------------------------------ candidate configs

export interface CandidateCheck {
  valid: boolean;
  diagnostics: Diagnostic[];
}

/** What would be served: the candidate with today's overrides, and which of those it would clear. */
export type CandidateDiff = LeveledDiff & { staleOverrides: string[] };

export interface ApplyOutcome {
  version: VersionInfo;
  unchanged: boolean;
  warnings: Diagnostic[];
  /** Overrides on routes whose YAML backends this version changed: the YAML wins, loudly. */
  clearedOverrides: string[];
  /** One line on what changed ('no changes' when nothing did). */
  summary: string;
}

export interface CandidateOperations {
  /** Load, compile and admit, storing nothing. */
  validate(files: ConfigFile[]): Promise<CandidateCheck>;
  /** Against what is live. ConfigRejectedError when the candidate is invalid. */
  diff(files: ConfigFile[], level: DiffLevel): Promise<CandidateDiff>;
  /** Stores the candidate as a new version and serves it. ConfigRejectedError, ChangeHeldError. */
  apply(files: ConfigFile[], meta: ChangeMeta): Promise<ApplyOutcome>;
}

// ------------------------------------------------------------------ history

export interface HistoryEntry extends VersionInfo {
  files: string[];
  /** The newest version, and the one being served. */
  live: boolean;
  /** What it changed from its predecessor, or why it no longer loads. */
  summary: string;
}

export type VersionDiff = { from: number; to: number } & LeveledDiff;

export interface HistoryOperations {
  /** Newest first. */
  history(limit: number): Promise<HistoryEntry[]>;
  /** `diff` against its predecessor; null when the version no longer loads. `not-found` when absent. */
  version(n: number): Promise<ConfigVersion & { diff: ConfigDiff | null }>;
  /** `not-found` for a missing version, `conflict` for one that no longer loads. */
  diffVersions(from: number, to: number, level: DiffLevel): Promise<VersionDiff>;
  /** Makes an old version live again, as a new version. */
  rollback(version: number, meta: Omit<ChangeMeta, 'confirmRemoval'>): Promise<VersionInfo>;
  /** Newest first; `since` in epoch milliseconds. */
  audit(opts: { limit: number; since?: number }): Promise<AuditEntry[]>;
}

// ------------------------------------------------------------------ route weights

export interface RouteView {
  ref: string;
  listener: string;
  host: string;
  name: string;
  /** What proxies are sent now (YAML, or the override when one applies). */
  backends: BackendWeight[];
  yamlBackends: BackendWeight[];
  override: Override | null;
}

export interface RouteState extends RouteView {
  /** The rollout that owns the route's weights, if one is running or paused. */
  rollout: { id: string; state: RolloutState; toBackend: string; percent: number } | null;
}

export interface WeightOperations {
  routes(): Promise<RouteState[]>;
  /** Percentages unless `relative`. Refused (`busy-route`) while a rollout drives the route. */
  setWeights(ref: string, backends: BackendWeight[], meta: { author: string; reason: string } & WeightsMode): Promise<Override>;
  /** The route's YAML weights apply again. Returns the canonical route and whether it had an override. */
  clearWeights(ref: string, meta: { author: string; reason: string }): Promise<{ route: string; cleared: boolean }>;
}

// ------------------------------------------------------------------ rollouts

export const ROLLOUT_COMMANDS = ['pause', 'resume', 'promote', 'abort', 'undo'] as const;
export type RolloutCommand = (typeof ROLLOUT_COMMANDS)[number];

/** Which proxies run a rollout's current weights: those that ACKed the RDS version carrying them. */
export interface RolloutProgress {
  /** False until this replica serves the rollout's weights; every proxy is pending until then. */
  weightsServed: boolean;
  /** Every replica serves the weights and every proxy serving the route, on every replica, ACKed them. */
  synced: boolean;
  accepted: string[];
  pending: { nodeId: string; replica?: string; state: string; error?: string }[];
  /** Why it is not synced when no proxy is to blame (a replica still applying the change). */
  detail?: string;
}

export interface RolloutStatus {
  rollout: Rollout;
  /** The route's weights at the rollout's current step (its starting weights once aborted, undone or rolled back). */
  weights: BackendWeight[];
  /** What this replica serves on the route now, whatever the rollout says (a YAML edit may have replaced it). */
  served: BackendWeight[];
  /** Null unless the rollout is running or paused. */
  proxies: RolloutProgress | null;
}

export interface StartRollout {
  route: string;
  to: string;
  steps: number[];
  intervalMs: number;
  author: string;
  /** Without it, a first step that lowers the target's current share is refused. */
  allowDecrease?: boolean;
  /** How long proxies have to ACK each step before the rollout holds (default 2 min). */
  ackTimeoutMs?: number;
  analysis?: RolloutAnalysis;
  webhooks?: WebhookSpec[];
}

export interface RolloutOperations {
  startRollout(req: StartRollout): Promise<RolloutStatus>;
  /** Newest first. */
  rollouts(opts: { route?: string; limit: number }): Promise<RolloutStatus[]>;
  /** `ref` is a rollout id, or a route: its active rollout, else its latest. */
  rollout(ref: string): Promise<RolloutStatus>;
  command(ref: string, command: RolloutCommand, author: string, opts?: { full?: boolean }): Promise<RolloutStatus>;
}

// ------------------------------------------------------------------ token revocations

export interface RevokeRequest {
  kind: RevocationKind;
  value: string;
  reason: string;
  /** Epoch ms; the route module has already applied the default. */
  expiresAt: number;
  author: string;
}

export interface RevocationOperations {
  /** Stored and shared: every replica's authz service denies the token(s) within about a second. */
  revoke(req: RevokeRequest): Promise<Revocation>;
  /** Live (unexpired) revocations, oldest first. */
  revocations(): Promise<Revocation[]>;
  /** False when there was no such revocation. */
  unrevoke(kind: RevocationKind, value: string, author: string): Promise<boolean>;
}

/** Everything the ops endpoints need; the read side is separate so it can be served alone. */
export interface AdminOperations extends CandidateOperations, HistoryOperations, WeightOperations, RolloutOperations, RevocationOperations {}

/** The server is busy with as many config checks as it queues: 503 with Retry-After (routes/errors.ts). */
export class OverloadedError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
  }
}
