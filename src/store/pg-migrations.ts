import type pg from 'pg';

/**
 * Schema migrations, applied in order at start. Append new ones; never edit an applied one. Each runs
 * in its own transaction together with its row in banyan_migrations, so a crash mid-migration leaves
 * it unapplied rather than half-applied.
 */
export const MIGRATIONS: { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE banyan_config_versions (
        version integer PRIMARY KEY,
        hash text NOT NULL,
        content jsonb NOT NULL,
        author text NOT NULL,
        message text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE banyan_overrides (
        route text PRIMARY KEY,
        backends jsonb NOT NULL,
        author text NOT NULL,
        reason text NOT NULL,
        updated_at bigint NOT NULL,
        base_hash text NOT NULL
      );
      CREATE TABLE banyan_rollouts (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        route text NOT NULL,
        state text NOT NULL,
        revision integer NOT NULL,
        record jsonb NOT NULL
      );
      -- one active rollout per route, enforced by the database even across replicas
      CREATE UNIQUE INDEX banyan_rollouts_one_active ON banyan_rollouts (route) WHERE state IN ('running', 'paused');
      CREATE TABLE banyan_audit (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        details jsonb NOT NULL
      );
      CREATE INDEX banyan_audit_at ON banyan_audit (at);
    `,
  },
  {
    id: 2,
    name: 'replica status and load samples',
    sql: `
      -- one row per replica, leased: a replica renews it every second and removes it on shutdown
      CREATE TABLE banyan_replicas (
        replica text PRIMARY KEY,
        served_key text NOT NULL,
        reported_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        proxies jsonb NOT NULL
      );
      CREATE TABLE banyan_load_samples (
        id bigserial PRIMARY KEY,
        replica text NOT NULL,
        cluster text NOT NULL,
        source text NOT NULL,
        at bigint NOT NULL,
        record jsonb NOT NULL
      );
      CREATE INDEX banyan_load_samples_cluster_at ON banyan_load_samples (cluster, at);
      CREATE INDEX banyan_load_samples_at ON banyan_load_samples (at);
    `,
  },
  {
    id: 3,
    name: 'replica status proxies as text',
    sql: `
      -- Written only by Banyan's JSON.stringify and read back with JSON.parse: as jsonb every put parsed
      -- megabytes into jsonb and every read printed them back out. Measured on PostgreSQL 15 with 3,000
      -- proxies (3.9 MB): a put took 87 ms of server CPU as jsonb, 18 as lz4 text; a read 21 ms, 4.5.
      -- Compressed with lz4 where the server has it (PostgreSQL 14+ built with lz4), pglz otherwise.
      ALTER TABLE banyan_replicas ALTER COLUMN proxies TYPE text USING proxies::text;
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
          EXECUTE 'ALTER TABLE banyan_replicas ALTER COLUMN proxies SET COMPRESSION lz4';
        END IF;
      END
      $$;
    `,
  },
  {
    id: 4,
    name: 'token revocations',
    sql: `
      -- one row per revoked jti, sub or sid; read whole by every authz service on each change (NOTIFY)
      CREATE TABLE banyan_revocations (
        kind text NOT NULL CHECK (kind IN ('jti', 'sub', 'sid')),
        value text NOT NULL,
        reason text NOT NULL,
        actor text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (kind, value)
      );
      CREATE INDEX banyan_revocations_expires_at ON banyan_revocations (expires_at);
    `,
  },
  {
    id: 5,
    name: 'shared CA',
    sql: `
      -- at most one row: the CA every replica issues workload certificates with (first writer wins);
      -- the key is an encrypted PKCS#8 PEM, useless without the replicas' passphrase
      CREATE TABLE banyan_ca (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        cert_pem text NOT NULL,
        key_pem text NOT NULL CHECK (key_pem LIKE '-----BEGIN ENCRYPTED PRIVATE KEY-----%'),
        created_at bigint NOT NULL
      );
    `,
  },
  {
    id: 6,
    name: 'replica status refusals',
    sql: `
      -- the latest proxies each replica refused for their certificate identity (JSON, at most 100), so
      -- every replica lists the fleet's; NULL: none. Nullable, so replicas older than this column keep
      -- putting their rows during an upgrade (theirs read as none). Written only when they change.
      ALTER TABLE banyan_replicas ADD COLUMN refused text;
    `,
  },
];

/** Arbitrary constant: the advisory lock key under which replicas take turns migrating. */
const MIGRATION_LOCK = 0x62616e79; // "bany"

/** Applies pending migrations; safe when several replicas start at once (they serialise on an advisory lock). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS banyan_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ id: number }>('SELECT id FROM banyan_migrations');
    const done = new Set(rows.map((r) => r.id));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO banyan_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${m.id} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.id);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
  return applied;
}
