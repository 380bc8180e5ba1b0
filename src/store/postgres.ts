/**
 * The shared store for several control-plane replicas: PostgreSQL through `pg`.
 *
 * Every mutation is one transaction that also writes its audit row and a NOTIFY; PostgreSQL delivers
 * the NOTIFY to every replica's LISTEN connection only if the transaction commits. The listening
 * connection reconnects by itself and then reports a `resync` change, since notifications sent
 * while it was down are lost. When the database is unreachable every call fails at once with
 * StoreUnavailableError and, the transaction being rolled back, nothing is half-applied. (One
 * inherent exception: if the connection drops after COMMIT is sent but before it is acknowledged,
 * the caller sees an error for a change that did commit.)
 *
 * Replica status and load samples are written without a transaction, audit row or NOTIFY: every
 * replica renews its status every second, and nothing reconciles on them (readers poll).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { BanyanError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { ActiveRolloutExistsError, RevisionConflictError } from './errors.js';
import { hashConfigContent } from './hash.js';
import { isConnectionError, unavailable } from './pg-errors.js';
import { migrate } from './pg-migrations.js';
import { Watchers } from './watchers.js';
import type {
  AuditEntry,
  AuditInput,
  ConfigVersion,
  LoadSample,
  NewConfigVersion,
  NewOverride,
  Override,
  ReplicaLease,
  ReplicaRefusal,
  ReplicaStatus,
  NewRevocation,
  Revocation,
  RevocationKind,
  Rollout,
  Store,
  StoreChange,
  StoredCa,
  WeightEffect,
} from './types.js';

const CHANNEL = 'banyan_changes';
const VERSION_LOCK = 0x62616e7a; // serialises version numbering across replicas
const ROUTE_LOCK = 0x62616e72; // with hashtext(route): serialises rollout creation per route
const ACTIVE = `state IN ('running', 'paused')`;
/** A lease this long past its end is deleted by the next put of any replica (tolerates clock skew between replicas). */
export const EXPIRED_REPLICA_RETENTION_MS = 60_000;

export interface PostgresStoreOptions {
  /** e.g. postgres://user:pass@host:5432/banyan */
  url: string;
  now?: () => number;
  logger?: Logger;
  /** How long a call may wait for a connection before failing; default 3000 ms. */
  connectTimeoutMs?: number;
  /** Client-side limit per query; default 10000 ms. */
  queryTimeoutMs?: number;
}

type Tx = pg.PoolClient;

export class PostgresStore implements Store {
  private readonly watchers = new Watchers();
  private readonly origin = randomUUID();
  private listener?: pg.Client;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 100;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresStoreOptions,
    private readonly now: () => number,
  ) {}

  /** Connects, applies pending migrations and starts listening. Throws StoreUnavailableError if the database cannot be reached. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: opts.url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
      query_timeout: opts.queryTimeoutMs ?? 10_000,
      keepAlive: true,
      max: 5,
    });
    // idle clients see the server go away; that is handled where the next query fails
    pool.on('error', (err) => opts.logger?.debug({ err }, 'idle PostgreSQL client lost'));
    const store = new PostgresStore(pool, opts, opts.now ?? Date.now);
    try {
      const client = await pool.connect().catch((err) => Promise.reject(unavailable(err, 'cannot start the store')));
      try {
        await migrate(client);
      } finally {
        client.release();
      }
      await store.listen();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw isConnectionError(err) ? unavailable(err, 'cannot start the store') : err;
    }
    return store;
  }

  // ------------------------------------------------------------------ config versions

  appendConfigVersion(input: NewConfigVersion): Promise<ConfigVersion> {
    return this.tx('config version not appended', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [VERSION_LOCK]);
      const { rows } = await c.query<{ next: number }>('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM banyan_config_versions');
      const cv: ConfigVersion = {
        version: rows[0].next,
        hash: hashConfigContent(input.content),
        content: input.content.map((f) => ({ file: f.file, text: f.text })),
        author: input.author,
        message: input.message,
        createdAt: this.now(),
      };
      await c.query(
        'INSERT INTO banyan_config_versions (version, hash, content, author, message, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [cv.version, cv.hash, JSON.stringify(cv.content), cv.author, cv.message, cv.createdAt],
      );
      const details = { hash: cv.hash, message: cv.message, ...input.details };
      await this.audit(c, { actor: input.author, action: input.action ?? 'config.apply', details }, `version ${cv.version}`);
      return { result: cv, change: { kind: 'config', target: String(cv.version) } };
    });
  }

  getConfigVersion(version: number): Promise<ConfigVersion | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_config_versions WHERE version = $1', [version]);
      return rows[0] && toVersion(rows[0]);
    });
  }

  latestConfigVersion(): Promise<ConfigVersion | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_config_versions ORDER BY version DESC LIMIT 1');
      return rows[0] && toVersion(rows[0]);
    });
  }

  listConfigVersions(opts: { limit?: number } = {}): Promise<ConfigVersion[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_config_versions ORDER BY version DESC LIMIT $1', [opts.limit ?? null]);
      return rows.map(toVersion);
    });
  }

  // ------------------------------------------------------------------ overrides

  setOverride(input: NewOverride): Promise<Override> {
    return this.tx('override not set', async (c) => {
      const override = await this.putOverride(c, input);
      await this.audit(c, { actor: input.author, action: 'override.set', details: { backends: input.backends, reason: input.reason } }, input.route);
      return { result: override, change: { kind: 'override', target: input.route } };
    });
  }

  clearOverride(route: string, actor: string, reason = ''): Promise<boolean> {
    return this.tx('override not cleared', async (c) => {
      const { rowCount } = await c.query('DELETE FROM banyan_overrides WHERE route = $1', [route]);
      if (!rowCount) return { result: false };
      await this.audit(c, { actor, action: 'override.clear', details: { reason } }, route);
      return { result: true, change: { kind: 'override', target: route } };
    });
  }

  getOverride(route: string): Promise<Override | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_overrides WHERE route = $1', [route]);
      return rows[0] && toOverride(rows[0]);
    });
  }

  listOverrides(): Promise<Override[]> {
    return this.read(async () => (await this.pool.query('SELECT * FROM banyan_overrides ORDER BY route')).rows.map(toOverride));
  }

  // ------------------------------------------------------------------ rollouts

  createRollout(rollout: Omit<Rollout, 'revision'>, audit: AuditInput, effect?: WeightEffect): Promise<Rollout> {
    return this.tx('rollout not created', async (c) => {
      const stored: Rollout = { ...rollout, revision: 1 };
      // Serialise creates per route so the check below also covers a rollout created already completed;
      // the partial unique index banyan_rollouts_one_active backs it up for running/paused ones.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ROUTE_LOCK, rollout.route]);
      const { rows } = await c.query<{ id: string }>(`SELECT id FROM banyan_rollouts WHERE route = $1 AND ${ACTIVE}`, [rollout.route]);
      if (rows[0]) throw new ActiveRolloutExistsError(rollout.route, rows[0].id);
      await c.query('INSERT INTO banyan_rollouts (id, route, state, revision, record) VALUES ($1, $2, $3, 1, $4)', [
        stored.id,
        stored.route,
        stored.state,
        JSON.stringify(stored),
      ]);
      await this.applyEffect(c, effect);
      await this.audit(c, audit, rollout.route, { rollout: rollout.id });
      return { result: stored, change: { kind: 'rollout', target: rollout.id } };
    });
  }

  updateRollout(rollout: Rollout, expectedRevision: number, audit: AuditInput, effect?: WeightEffect): Promise<Rollout> {
    return this.tx('rollout not updated', async (c) => {
      const stored: Rollout = { ...rollout, revision: expectedRevision + 1 };
      const { rowCount } = await c.query(
        'UPDATE banyan_rollouts SET state = $3, revision = $4, record = $5 WHERE id = $1 AND revision = $2 AND route = $6',
        [rollout.id, expectedRevision, stored.state, stored.revision, JSON.stringify(stored), rollout.route],
      );
      if (!rowCount) {
        const { rows } = await c.query<{ revision: number }>('SELECT revision FROM banyan_rollouts WHERE id = $1', [rollout.id]);
        throw new RevisionConflictError(rollout.id, expectedRevision, rows[0]?.revision);
      }
      await this.applyEffect(c, effect);
      await this.audit(c, audit, rollout.route, { rollout: rollout.id });
      return { result: stored, change: { kind: 'rollout', target: rollout.id } };
    });
  }

  getRollout(id: string): Promise<Rollout | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT record, revision FROM banyan_rollouts WHERE id = $1', [id]);
      return rows[0] && toRollout(rows[0]);
    });
  }

  listRollouts(opts: { limit?: number; route?: string } = {}): Promise<Rollout[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query(
        'SELECT record, revision FROM banyan_rollouts WHERE ($1::text IS NULL OR route = $1) ORDER BY seq DESC LIMIT $2',
        [opts.route ?? null, opts.limit ?? null],
      );
      return rows.map(toRollout);
    });
  }

  activeRollout(route: string): Promise<Rollout | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query(`SELECT record, revision FROM banyan_rollouts WHERE route = $1 AND ${ACTIVE}`, [route]);
      return rows[0] && toRollout(rows[0]);
    });
  }

  activeRollouts(): Promise<Rollout[]> {
    return this.read(async () => (await this.pool.query(`SELECT record, revision FROM banyan_rollouts WHERE ${ACTIVE} ORDER BY seq`)).rows.map(toRollout));
  }

  // ------------------------------------------------------------------ token revocations

  addRevocation(input: NewRevocation): Promise<Revocation> {
    return this.tx('revocation not stored', async (c) => {
      const now = this.now();
      const revocation: Revocation = { kind: input.kind, value: input.value, reason: input.reason, actor: input.actor, createdAt: now, expiresAt: input.expiresAt };
      await c.query('DELETE FROM banyan_revocations WHERE expires_at <= $1', [now]);
      await c.query(
        `INSERT INTO banyan_revocations (kind, value, reason, actor, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, value) DO UPDATE SET reason = $3, actor = $4, created_at = $5, expires_at = $6`,
        [revocation.kind, revocation.value, revocation.reason, revocation.actor, revocation.createdAt, revocation.expiresAt],
      );
      const target = `${input.kind}:${input.value}`;
      await this.audit(c, { actor: input.actor, action: 'token.revoke', details: { kind: input.kind, reason: input.reason, expiresAt: input.expiresAt } }, target);
      return { result: revocation, change: { kind: 'revocation', target } };
    });
  }

  removeRevocation(kind: RevocationKind, value: string, actor: string): Promise<boolean> {
    return this.tx('revocation not removed', async (c) => {
      const { rowCount } = await c.query('DELETE FROM banyan_revocations WHERE kind = $1 AND value = $2', [kind, value]);
      if (!rowCount) return { result: false };
      const target = `${kind}:${value}`;
      await this.audit(c, { actor, action: 'token.unrevoke', details: { kind } }, target);
      return { result: true, change: { kind: 'revocation', target } };
    });
  }

  listRevocations(now: number): Promise<Revocation[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_revocations WHERE expires_at > $1 ORDER BY created_at, kind, value', [now]);
      return rows.map((r) => ({ kind: r.kind, value: r.value, reason: r.reason, actor: r.actor, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) }));
    });
  }

  async pruneRevocations(before: number): Promise<number> {
    let pruned = 0;
    await this.write('revocations not pruned', async () => {
      pruned = (await this.pool.query('DELETE FROM banyan_revocations WHERE expires_at <= $1', [before])).rowCount ?? 0;
    });
    return pruned;
  }

  // ------------------------------------------------------------------ replica status and load samples (no NOTIFY)

  putReplicaStatus(status: ReplicaStatus): Promise<void> {
    return this.write('replica status not stored', async () => {
      // One statement: the upsert, and (in the same snapshot, never this replica's row) replicas that died
      // without removing their row, forgotten a while after their lease ended.
      await this.pool.query(
        `WITH forgotten AS (DELETE FROM banyan_replicas WHERE expires_at < $6 AND replica <> $1)
         INSERT INTO banyan_replicas (replica, served_key, reported_at, expires_at, proxies, refused) VALUES ($1, $2, $3, $4, $5, $7)
         ON CONFLICT (replica) DO UPDATE SET served_key = $2, reported_at = $3, expires_at = $4, proxies = $5, refused = $7`,
        [status.replica, status.servedKey, status.reportedAt, status.expiresAt, JSON.stringify(status.proxies), status.reportedAt - EXPIRED_REPLICA_RETENTION_MS, refusedColumn(status.refused)],
      );
    });
  }

  async renewReplicaStatus(lease: ReplicaLease): Promise<boolean> {
    let renewed = false;
    await this.write('replica status not renewed', async () => {
      // Only the small columns change (refused too, when given: a few kB at most); PostgreSQL's new row
      // version points at the same TOASTed proxies.
      const params = [lease.replica, lease.servedKey, lease.reportedAt, lease.expiresAt, lease.reportedAt - EXPIRED_REPLICA_RETENTION_MS];
      const { rowCount } = await this.pool.query(
        `WITH forgotten AS (DELETE FROM banyan_replicas WHERE expires_at < $5 AND replica <> $1)
         UPDATE banyan_replicas SET served_key = $2, reported_at = $3, expires_at = $4${lease.refused ? ', refused = $6' : ''} WHERE replica = $1`,
        lease.refused ? [...params, refusedColumn(lease.refused)] : params,
      );
      renewed = rowCount === 1;
    });
    return renewed;
  }

  listReplicaStatus(now: number): Promise<ReplicaStatus[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_replicas WHERE expires_at > $1 ORDER BY replica', [now]);
      return rows.map((r) => ({
        replica: r.replica,
        servedKey: r.served_key,
        reportedAt: Number(r.reported_at),
        expiresAt: Number(r.expires_at),
        proxies: JSON.parse(r.proxies),
        // NULL: none (or a row put by a replica older than migration 6)
        ...(r.refused && { refused: JSON.parse(r.refused) }),
      }));
    });
  }

  removeReplicaStatus(replica: string): Promise<void> {
    return this.write('replica status not removed', async () => {
      await this.pool.query('DELETE FROM banyan_replicas WHERE replica = $1', [replica]);
    });
  }

  addLoadSamples(samples: LoadSample[]): Promise<void> {
    return this.write('load samples not stored', async () => {
      if (!samples.length) return;
      // One statement, one parameter, whatever the batch size (no 65535-parameter limit).
      await this.pool.query(
        `INSERT INTO banyan_load_samples (replica, cluster, source, at, record)
         SELECT s->>'replica', s->>'cluster', s->>'source', (s->>'at')::bigint, s FROM jsonb_array_elements($1::jsonb) AS s`,
        [JSON.stringify(samples)],
      );
    });
  }

  /** Oldest first (by `at`; samples with the same `at` in the order they were added). */
  listLoadSamples(clusters: readonly string[], from: number, to: number): Promise<LoadSample[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT record FROM banyan_load_samples WHERE cluster = ANY($1) AND at > $2 AND at <= $3 ORDER BY at, id', [
        [...clusters],
        from,
        to,
      ]);
      return rows.map((r) => r.record as LoadSample);
    });
  }

  pruneLoadSamples(before: number): Promise<void> {
    return this.write('load samples not pruned', async () => {
      await this.pool.query('DELETE FROM banyan_load_samples WHERE at < $1', [before]);
    });
  }

  // ------------------------------------------------------------------ the shared CA

  getCa(): Promise<StoredCa | undefined> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT cert_pem, key_pem, created_at FROM banyan_ca');
      return rows[0] && toCa(rows[0]);
    });
  }

  async putCaIfAbsent(ca: StoredCa): Promise<StoredCa> {
    assertEncryptedCaKey(ca);
    return this.tx('CA not stored', async (c) => {
      // Of replicas inserting at once, one inserts; the others' INSERT waits for its commit and does
      // nothing, and their SELECT (a new snapshot under READ COMMITTED) then reads the winner's row.
      const { rowCount } = await c.query('INSERT INTO banyan_ca (id, cert_pem, key_pem, created_at) VALUES (true, $1, $2, $3) ON CONFLICT (id) DO NOTHING', [
        ca.certPem,
        ca.keyPem,
        ca.createdAt,
      ]);
      if (rowCount) await this.audit(c, { actor: 'banyan', action: 'ca.create' }, 'ca');
      const { rows } = await c.query('SELECT cert_pem, key_pem, created_at FROM banyan_ca');
      return { result: toCa(rows[0]) };
    });
  }

  // ------------------------------------------------------------------ audit, watch, lifecycle

  listAudit(opts: { limit?: number; since?: number } = {}): Promise<AuditEntry[]> {
    return this.read(async () => {
      const { rows } = await this.pool.query('SELECT * FROM banyan_audit WHERE ($1::bigint IS NULL OR at >= $1) ORDER BY id DESC LIMIT $2', [
        opts.since ?? null,
        opts.limit ?? null,
      ]);
      return rows.map((r) => ({ id: Number(r.id), at: Number(r.at), actor: r.actor, action: r.action, target: r.target, details: r.details }));
    });
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.watchers.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.watchers.clear();
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  // ------------------------------------------------------------------ internals

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await fn();
    } catch (err) {
      throw isConnectionError(err) ? unavailable(err, 'cannot read state') : err;
    }
  }

  /** A write outside any transaction that notifies nobody (replica status, load samples). */
  private async write(whatFailed: string, fn: () => Promise<void>): Promise<void> {
    this.assertOpen();
    try {
      await fn();
    } catch (err) {
      throw isConnectionError(err) ? unavailable(err, whatFailed) : err;
    }
  }

  /** Runs `fn` in a transaction; commits, then notifies local watchers and (via NOTIFY) other replicas. */
  private async tx<T>(whatFailed: string, fn: (c: Tx) => Promise<{ result: T; change?: StoreChange }>): Promise<T> {
    this.assertOpen();
    let client: Tx;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err, `${whatFailed}, nothing was changed`);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { result, change } = await fn(client);
      if (change) await client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ ...change, origin: this.origin })]);
      await client.query('COMMIT');
      if (change) this.watchers.emit(change);
      return result;
    } catch (err) {
      if (isConnectionError(err)) {
        broken = err as Error;
        throw unavailable(err, `${whatFailed}, nothing was changed`);
      }
      await client.query('ROLLBACK').catch((e) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }

  private async audit(c: Tx, input: AuditInput, target: string, extra: Record<string, unknown> = {}): Promise<void> {
    await c.query('INSERT INTO banyan_audit (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)', [
      this.now(),
      input.actor,
      input.action,
      target,
      JSON.stringify({ ...extra, ...input.details }),
    ]);
  }

  private async putOverride(c: Tx, input: NewOverride): Promise<Override> {
    const override: Override = { ...input, updatedAt: this.now() };
    await c.query(
      `INSERT INTO banyan_overrides (route, backends, author, reason, updated_at, base_hash) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (route) DO UPDATE SET backends = $2, author = $3, reason = $4, updated_at = $5, base_hash = $6`,
      [override.route, JSON.stringify(override.backends), override.author, override.reason, override.updatedAt, override.baseHash],
    );
    return override;
  }

  private async applyEffect(c: Tx, effect: WeightEffect | undefined): Promise<void> {
    if (!effect) return;
    if ('set' in effect) await this.putOverride(c, effect.set);
    else await c.query('DELETE FROM banyan_overrides WHERE route = $1', [effect.clear]);
  }

  /** (Re)opens the LISTEN connection; on loss, retries with backoff until closed. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 3000, keepAlive: true });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.logger?.warn({ err }, 'PostgreSQL LISTEN connection lost; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const { origin, kind, target } = JSON.parse(msg.payload);
        if (origin !== this.origin) this.watchers.emit({ kind, target });
      } catch {
        // a foreign payload on our channel: ignore it
      }
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
    this.reconnectDelay = 100;
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.listen().then(
        // notifications sent while we were away are gone: tell watchers to re-read
        () => this.watchers.emit({ kind: 'resync', target: '' }),
        () => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
          this.scheduleReconnect();
        },
      );
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }
}

/** The `refused` column: JSON, or NULL for none. */
const refusedColumn = (refused: readonly ReplicaRefusal[] | undefined): string | null => (refused?.length ? JSON.stringify(refused) : null);

function toVersion(r: Record<string, any>): ConfigVersion {
  return { version: r.version, hash: r.hash, content: r.content, author: r.author, message: r.message, createdAt: Number(r.created_at) };
}

function toOverride(r: Record<string, any>): Override {
  return { route: r.route, backends: r.backends, author: r.author, reason: r.reason, updatedAt: Number(r.updated_at), baseHash: r.base_hash };
}

function toCa(r: Record<string, any>): StoredCa {
  return { certPem: r.cert_pem, keyPem: r.key_pem, createdAt: Number(r.created_at) };
}

/** A store holds the CA key encrypted only (the same rule as the embedded store's). */
function assertEncryptedCaKey(ca: StoredCa): void {
  if (!/^-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(ca.keyPem)) {
    throw new BanyanError('bad-input', 'refusing to store a CA key that is not encrypted (an encrypted PKCS#8 PEM is required)');
  }
}

function toRollout(r: Record<string, any>): Rollout {
  return { ...r.record, revision: r.revision };
}
