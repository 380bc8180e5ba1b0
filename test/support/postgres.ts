/**
 * A real PostgreSQL for tests: initdb into a temp directory and pg_ctl start on a free port, as the
 * `postgres` system user when running as root (initdb refuses root). initdb is slow-ish: start one
 * server per test file and use createDatabase() for isolation between tests.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { toolPath } from './provision.js';

const run = promisify(execFile);

export interface PostgresServer {
  /** URL of the `postgres` database (superuser, trust auth). */
  url: string;
  port: number;
  /** (Re)starts a stopped server on the same port and data. */
  start(): Promise<void>;
  /** Stops at once (`-m immediate`), like a crash or a network cut from the clients' view. */
  stop(): Promise<void>;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server if running and removes its directory; call in afterAll. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresServer> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'banyan-pg-'));
  const dataDir = path.join(base, 'data');
  const asRoot = process.getuid?.() === 0;
  const pgCmd = async (cmd: string, args: string[]) => {
    const bin = toolPath(cmd);
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
    try {
      return await run(file, argv, { cwd: base });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  };
  let running = false;
  try {
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(base, Number(stdout.trim()), Number(gid.trim()));
    }
    await pgCmd('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server: PostgresServer = {
    url,
    port,
    async start() {
      // fsync off: test data need not survive a machine crash. synchronous_commit stays on: outage tests
      // stop with -m immediate, which would lose commits still in WAL buffers.
      const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off`;
      await pgCmd('pg_ctl', ['-D', dataDir, '-o', opts, '-l', path.join(base, 'postgres.log'), '-w', 'start']);
      running = true;
    },
    async stop() {
      if (!running) return;
      await pgCmd('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // FILE_COPY: with fsync off its checkpoint is cheap, and it beats WAL-logging a copy of template1
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} STRATEGY = FILE_COPY`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async destroy() {
      try {
        await server.stop();
      } finally {
        await rm(base, { recursive: true, force: true });
      }
    },
  };
  try {
    await server.start();
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  return server;
}
