/**
 * The default store: a data directory, nothing to install.
 *
 *   DIR/LOCK               pid of the owning process (one server per directory)
 *   DIR/state.json         everything but config contents: version index, overrides, rollouts, audit,
 *                          token revocations
 *   DIR/versions/N.json    content of config version N, written once
 *   DIR/ca.json            the CA (certificate and encrypted key, src/ca/source.ts), written once, 0600
 *
 * Replica status and load samples live in memory only: one process owns an embedded store, so there
 * is no other replica to share them with, and both are worthless after a restart.
 *
 * Every mutation computes the next state on a copy, writes it with writeFileAtomic (temp + fsync +
 * rename), and only then swaps it in memory. state.json is the commit point: a version file written
 * before a crash but not yet listed in state.json is an orphan that the next append overwrites.
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { BanyanError } from '../errors.js';
import { writeFileAtomic, TEMP_MARK } from './atomic.js';
import { ActiveRolloutExistsError, RevisionConflictError, StoreCorruptError } from './errors.js';
import { hashConfigContent } from './hash.js';
import { acquireDirLock } from './lockfile.js';
import { Watchers } from './watchers.js';
import {
  ACTIVE_ROLLOUT_STATES,
  type AuditEntry,
  type AuditInput,
  type ConfigVersion,
  type LoadSample,
  type NewConfigVersion,
  type NewOverride,
  type Override,
  type ReplicaLease,
  type ReplicaStatus,
  type NewRevocation,
  type Revocation,
  type RevocationKind,
  type Rollout,
  type Store,
  type StoreChange,
  type StoredCa,
  type WeightEffect,
} from './types.js';

const FORMAT = 1;
/** A store holds the CA key encrypted only (the same rule as the PostgreSQL store's). */
const ENCRYPTED_KEY = /^-----BEGIN ENCRYPTED PRIVATE KEY-----/;

interface State {
  format: number;
  versions: Omit<ConfigVersion, 'content'>[];
  overrides: Override[];
  rollouts: Rollout[];
  audit: AuditEntry[];
  /** Absent in state files written before revocations existed (read as []). */
  revocations: Revocation[];
}

/** A lease this long past its end is forgotten (the same rule as the PostgreSQL store's). */
export const EXPIRED_REPLICA_RETENTION_MS = 60_000;

export interface EmbeddedStoreOptions {
  /** Data directory; default `.banyan` under the current directory. Created if missing. */
  dir?: string;
  now?: () => number;
}

export class EmbeddedStore implements Store {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers = new Watchers();
  private closed = false;
  /**
   * In memory only (see the header): never written to state.json. Proxies are held as JSON text: a
   * copy in and a copy out, which JSON.stringify/parse make ~3× cheaper than structuredClone.
   */
  /** `lease` without `refused`; `refused` as JSON, absent for none (as PostgreSQL's NULL). */
  private readonly replicas = new Map<string, { lease: ReplicaLease; proxies: string; refused?: string }>();
  private loadSamples: LoadSample[] = [];

  private constructor(
    readonly dir: string,
    private state: State,
    private readonly release: () => void,
    private readonly now: () => number,
  ) {}

  static async open(opts: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const dir = path.resolve(opts.dir ?? '.banyan');
    await mkdir(path.join(dir, 'versions'), { recursive: true });
    const release = acquireDirLock(dir);
    try {
      await removeTempFiles(dir);
      await removeTempFiles(path.join(dir, 'versions'));
      return new EmbeddedStore(dir, await readState(dir), release, opts.now ?? Date.now);
    } catch (err) {
      release();
      throw err;
    }
  }

  // ------------------------------------------------------------------ config versions

  appendConfigVersion(input: NewConfigVersion): Promise<ConfigVersion> {
    return this.mutate(async (s) => {
      const version = (s.versions.at(-1)?.version ?? 0) + 1;
      const cv: ConfigVersion = {
        version,
        hash: hashConfigContent(input.content),
        content: input.content.map((f) => ({ file: f.file, text: f.text })),
        author: input.author,
        message: input.message,
        createdAt: this.now(),
      };
      await writeFileAtomic(this.versionFile(version), JSON.stringify(cv.content));
      const { content: _content, ...index } = cv;
      s.versions.push(index);
      this.audit(s, { actor: input.author, action: input.action ?? 'config.apply', details: { hash: cv.hash, message: cv.message, ...input.details } }, `version ${version}`);
      return { result: cv, change: { kind: 'config', target: String(version) } };
    });
  }

  async getConfigVersion(version: number): Promise<ConfigVersion | undefined> {
    const index = this.state.versions.find((v) => v.version === version);
    return index && this.withContent(index);
  }

  async latestConfigVersion(): Promise<ConfigVersion | undefined> {
    const index = this.state.versions.at(-1);
    return index && this.withContent(index);
  }

  async listConfigVersions(opts: { limit?: number } = {}): Promise<ConfigVersion[]> {
    const newest = this.state.versions.slice().reverse().slice(0, opts.limit ?? Infinity);
    return Promise.all(newest.map((v) => this.withContent(v)));
  }

  // ------------------------------------------------------------------ overrides

  setOverride(input: NewOverride): Promise<Override> {
    return this.mutate(async (s) => {
      const override: Override = { ...structuredClone(input), updatedAt: this.now() };
      putOverride(s, override);
      this.audit(s, { actor: input.author, action: 'override.set', details: { backends: override.backends, reason: override.reason } }, input.route);
      return { result: structuredClone(override), change: { kind: 'override', target: input.route } };
    });
  }

  clearOverride(route: string, actor: string, reason = ''): Promise<boolean> {
    return this.mutate(async (s) => {
      const before = s.overrides.length;
      s.overrides = s.overrides.filter((o) => o.route !== route);
      if (s.overrides.length === before) return { result: false };
      this.audit(s, { actor, action: 'override.clear', details: { reason } }, route);
      return { result: true, change: { kind: 'override', target: route } };
    });
  }

  async getOverride(route: string): Promise<Override | undefined> {
    return structuredClone(this.state.overrides.find((o) => o.route === route));
  }

  async listOverrides(): Promise<Override[]> {
    return structuredClone(this.state.overrides);
  }

  // ------------------------------------------------------------------ rollouts

  createRollout(rollout: Omit<Rollout, 'revision'>, audit: AuditInput, effect?: WeightEffect): Promise<Rollout> {
    return this.mutate(async (s) => {
      if (s.rollouts.some((r) => r.id === rollout.id)) throw new Error(`rollout ${rollout.id} already exists`);
      const active = s.rollouts.find((r) => r.route === rollout.route && ACTIVE_ROLLOUT_STATES.includes(r.state));
      if (active) throw new ActiveRolloutExistsError(rollout.route, active.id);
      const stored: Rollout = { ...structuredClone(rollout), revision: 1 };
      s.rollouts.push(stored);
      this.applyEffect(s, effect);
      this.audit(s, audit, rollout.route, { rollout: rollout.id });
      return { result: structuredClone(stored), change: { kind: 'rollout', target: rollout.id } };
    });
  }

  updateRollout(rollout: Rollout, expectedRevision: number, audit: AuditInput, effect?: WeightEffect): Promise<Rollout> {
    return this.mutate(async (s) => {
      const i = s.rollouts.findIndex((r) => r.id === rollout.id);
      const current = s.rollouts[i];
      if (!current || current.revision !== expectedRevision) {
        throw new RevisionConflictError(rollout.id, expectedRevision, current?.revision);
      }
      if (rollout.route !== current.route) throw new Error(`rollout ${rollout.id}: route cannot change`);
      const stored: Rollout = { ...structuredClone(rollout), revision: expectedRevision + 1 };
      s.rollouts[i] = stored;
      this.applyEffect(s, effect);
      this.audit(s, audit, rollout.route, { rollout: rollout.id });
      return { result: structuredClone(stored), change: { kind: 'rollout', target: rollout.id } };
    });
  }

  async getRollout(id: string): Promise<Rollout | undefined> {
    return structuredClone(this.state.rollouts.find((r) => r.id === id));
  }

  async listRollouts(opts: { limit?: number; route?: string } = {}): Promise<Rollout[]> {
    const rs = this.state.rollouts.filter((r) => opts.route === undefined || r.route === opts.route).reverse();
    return structuredClone(rs.slice(0, opts.limit ?? Infinity));
  }

  async activeRollout(route: string): Promise<Rollout | undefined> {
    return structuredClone(this.state.rollouts.find((r) => r.route === route && ACTIVE_ROLLOUT_STATES.includes(r.state)));
  }

  async activeRollouts(): Promise<Rollout[]> {
    return structuredClone(this.state.rollouts.filter((r) => ACTIVE_ROLLOUT_STATES.includes(r.state)));
  }

  // ------------------------------------------------------------------ token revocations

  addRevocation(input: NewRevocation): Promise<Revocation> {
    return this.mutate(async (s) => {
      const now = this.now();
      const revocation: Revocation = { kind: input.kind, value: input.value, reason: input.reason, actor: input.actor, createdAt: now, expiresAt: input.expiresAt };
      s.revocations = s.revocations.filter((r) => r.expiresAt > now && !(r.kind === input.kind && r.value === input.value));
      s.revocations.push(revocation);
      this.audit(s, { actor: input.actor, action: 'token.revoke', details: { kind: input.kind, reason: input.reason, expiresAt: input.expiresAt } }, `${input.kind}:${input.value}`);
      return { result: { ...revocation }, change: { kind: 'revocation', target: `${input.kind}:${input.value}` } };
    });
  }

  removeRevocation(kind: RevocationKind, value: string, actor: string): Promise<boolean> {
    return this.mutate(async (s) => {
      const before = s.revocations.length;
      s.revocations = s.revocations.filter((r) => !(r.kind === kind && r.value === value));
      if (s.revocations.length === before) return { result: false };
      this.audit(s, { actor, action: 'token.unrevoke', details: { kind } }, `${kind}:${value}`);
      return { result: true, change: { kind: 'revocation', target: `${kind}:${value}` } };
    });
  }

  async listRevocations(now: number): Promise<Revocation[]> {
    this.assertOpen();
    return structuredClone(this.state.revocations.filter((r) => r.expiresAt > now).sort(byCreation));
  }

  pruneRevocations(before: number): Promise<number> {
    return this.mutate(async (s) => {
      const kept = s.revocations.filter((r) => r.expiresAt > before);
      const pruned = s.revocations.length - kept.length;
      s.revocations = kept;
      return { result: pruned, persist: pruned > 0 };
    });
  }

  // ------------------------------------------------------------------ replica status and load samples (memory only, no watch)

  async putReplicaStatus(status: ReplicaStatus): Promise<void> {
    this.assertOpen();
    this.forgetExpired(status.reportedAt);
    const { proxies, refused, ...lease } = status;
    this.replicas.set(status.replica, { lease: { ...lease }, proxies: JSON.stringify(proxies), ...(refused?.length && { refused: JSON.stringify(refused) }) });
  }

  async renewReplicaStatus(lease: ReplicaLease): Promise<boolean> {
    this.assertOpen();
    this.forgetExpired(lease.reportedAt, lease.replica);
    const held = this.replicas.get(lease.replica);
    if (!held) return false;
    held.lease = { replica: lease.replica, servedKey: lease.servedKey, reportedAt: lease.reportedAt, expiresAt: lease.expiresAt };
    if (lease.refused) held.refused = lease.refused.length ? JSON.stringify(lease.refused) : undefined;
    return true;
  }

  async listReplicaStatus(now: number): Promise<ReplicaStatus[]> {
    this.assertOpen();
    const live = [...this.replicas.values()].filter((s) => s.lease.expiresAt > now);
    live.sort((a, b) => (a.lease.replica < b.lease.replica ? -1 : a.lease.replica > b.lease.replica ? 1 : 0));
    return live.map((s) => ({ ...s.lease, proxies: JSON.parse(s.proxies), ...(s.refused && { refused: JSON.parse(s.refused) }) }));
  }

  async removeReplicaStatus(replica: string): Promise<void> {
    this.assertOpen();
    this.replicas.delete(replica);
  }

  async addLoadSamples(samples: LoadSample[]): Promise<void> {
    this.assertOpen();
    this.loadSamples.push(...structuredClone(samples));
  }

  /** Oldest first (by `at`; samples with the same `at` in the order they were added). */
  async listLoadSamples(clusters: readonly string[], from: number, to: number): Promise<LoadSample[]> {
    this.assertOpen();
    const wanted = new Set(clusters);
    const hits = this.loadSamples.filter((s) => wanted.has(s.cluster) && s.at > from && s.at <= to);
    return structuredClone(hits.sort((a, b) => a.at - b.at));
  }

  async pruneLoadSamples(before: number): Promise<void> {
    this.assertOpen();
    this.loadSamples = this.loadSamples.filter((s) => s.at >= before);
  }

  // ------------------------------------------------------------------ the CA (ca.json, written once)

  async getCa(): Promise<StoredCa | undefined> {
    this.assertOpen();
    return this.readCa();
  }

  putCaIfAbsent(ca: StoredCa): Promise<StoredCa> {
    if (!ENCRYPTED_KEY.test(ca.keyPem)) {
      return Promise.reject(new BanyanError('bad-input', 'refusing to store a CA key that is not encrypted (an encrypted PKCS#8 PEM is required)'));
    }
    // In the mutation queue: of concurrent puts in this process the first wins (the directory lock keeps other processes out).
    return this.mutate(async (s) => {
      const held = await this.readCa();
      if (held) return { result: held };
      const stored: StoredCa = { certPem: ca.certPem, keyPem: ca.keyPem, createdAt: ca.createdAt };
      // ca.json is the commit point; the audit entry follows in state.json
      await writeFileAtomic(this.caFile(), JSON.stringify(stored));
      this.audit(s, { actor: 'banyan', action: 'ca.create' }, 'ca');
      return { result: { ...stored }, persist: true };
    });
  }

  // ------------------------------------------------------------------ audit, watch, lifecycle

  async listAudit(opts: { limit?: number; since?: number } = {}): Promise<AuditEntry[]> {
    const es = this.state.audit.filter((e) => opts.since === undefined || e.at >= opts.since).reverse();
    return structuredClone(es.slice(0, opts.limit ?? Infinity));
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.watchers.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.watchers.clear();
    this.replicas.clear();
    this.loadSamples = [];
    this.release();
  }

  // ------------------------------------------------------------------ internals

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }

  /** Replicas that died without removing their record: forgotten a while after their lease ended (`except` is the one renewing). */
  private forgetExpired(now: number, except?: string): void {
    for (const [replica, s] of this.replicas) {
      if (replica !== except && s.lease.expiresAt < now - EXPIRED_REPLICA_RETENTION_MS) this.replicas.delete(replica);
    }
  }

  /**
   * Runs one mutation at a time: `fn` edits a copy of the state; if it and the write succeed, the
   * copy becomes the state. Any throw leaves memory and disk as they were.
   */
  private mutate<T>(fn: (s: State) => Promise<{ result: T; change?: StoreChange; persist?: boolean }>): Promise<T> {
    const run = async () => {
      if (this.closed) throw new Error('store is closed');
      const next = structuredClone(this.state);
      const { result, change, persist } = await fn(next);
      if (change || persist) {
        await writeFileAtomic(path.join(this.dir, 'state.json'), JSON.stringify(next));
        this.state = next;
        if (change) this.watchers.emit(change);
      }
      return result;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private audit(s: State, input: AuditInput, target: string, extra: Record<string, unknown> = {}): void {
    s.audit.push({
      id: (s.audit.at(-1)?.id ?? 0) + 1,
      at: this.now(),
      actor: input.actor,
      action: input.action,
      target,
      details: { ...extra, ...structuredClone(input.details ?? {}) },
    });
  }

  private applyEffect(s: State, effect: WeightEffect | undefined): void {
    if (!effect) return;
    if ('set' in effect) putOverride(s, { ...structuredClone(effect.set), updatedAt: this.now() });
    else s.overrides = s.overrides.filter((o) => o.route !== effect.clear);
  }

  private caFile(): string {
    return path.join(this.dir, 'ca.json');
  }

  private async readCa(): Promise<StoredCa | undefined> {
    const file = this.caFile();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { certPem, keyPem, createdAt } = JSON.parse(text) as StoredCa;
      if (typeof certPem !== 'string' || typeof keyPem !== 'string' || typeof createdAt !== 'number') throw new Error('missing certPem, keyPem or createdAt');
      return { certPem, keyPem, createdAt };
    } catch (err) {
      throw new StoreCorruptError(`${file} is not a CA record (${(err as Error).message}); it was not written by Banyan's atomic writer`, { cause: err });
    }
  }

  private versionFile(version: number): string {
    return path.join(this.dir, 'versions', `${version}.json`);
  }

  private async withContent(index: Omit<ConfigVersion, 'content'>): Promise<ConfigVersion> {
    const file = this.versionFile(index.version);
    let content: ConfigVersion['content'];
    try {
      content = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new StoreCorruptError(`cannot read content of config version ${index.version} from ${file}: ${(err as Error).message}`, { cause: err });
    }
    return { ...structuredClone(index), content };
  }
}

/** Oldest first; ties as PostgreSQL orders them (kind, then value). */
function byCreation(a: Revocation, b: Revocation): number {
  return a.createdAt - b.createdAt || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
}

function putOverride(s: State, override: Override): void {
  const i = s.overrides.findIndex((o) => o.route === override.route);
  if (i >= 0) s.overrides[i] = override;
  else s.overrides.push(override);
}

async function readState(dir: string): Promise<State> {
  const file = path.join(dir, 'state.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { format: FORMAT, versions: [], overrides: [], rollouts: [], audit: [], revocations: [] };
    throw err;
  }
  let state: State;
  try {
    state = JSON.parse(text);
  } catch (err) {
    throw new StoreCorruptError(`${file} is not valid JSON (${(err as Error).message}); it was not written by Banyan's atomic writer`, { cause: err });
  }
  if (state.format !== FORMAT) throw new StoreCorruptError(`${file} has format ${state.format}; this Banyan reads format ${FORMAT}`);
  state.revocations ??= [];
  return state;
}

async function removeTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.includes(TEMP_MARK)) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}
