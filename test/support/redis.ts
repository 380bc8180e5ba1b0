import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import { toolPath } from './provision.js';

/**
 * A real redis-server for a test file: no persistence, on a free port, ready when it answers PING.
 * stop() kills it; start() again brings it back on the same port (to test recovery).
 */
export class RedisServer {
  private proc?: ChildProcess;

  /** `args` come after the defaults (so they win); `configFile` goes first (a Sentinel's, which it rewrites). */
  private constructor(
    readonly port: number,
    private readonly args: string[] = [],
    private readonly configFile?: string,
  ) {}

  static async start(opts: { port?: number; args?: string[]; configFile?: string } = {}): Promise<RedisServer> {
    const server = new RedisServer(opts.port ?? (await freePort()), opts.args, opts.configFile);
    await server.start();
    return server;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = [...(this.configFile ? [this.configFile] : []), '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.args];
    const proc = spawn(toolPath('redis-server'), args, { stdio: 'ignore' });
    this.proc = proc;
    // 'error' too: a spawn that fails never emits 'exit', and waiting for PING would only time out.
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`redis-server could not start: ${err.message}`)));
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    exited.catch(() => {});
    await Promise.race([exited, eventually(() => this.ping(), 10_000, 50)]);
  }

  /** A short-lived client to this server (the caller disconnects it). */
  client(): Redis {
    const c = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    c.on('error', () => {});
    return c;
  }

  private async ping(): Promise<void> {
    const client = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) !== 'PONG') throw new Error('no PONG');
    } finally {
      client.disconnect();
    }
  }

  /** SIGSTOP/SIGCONT: the server keeps its sockets but stops answering (a slow Redis). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await gone;
  }
}

const run = promisify(execFile);

/** A free port P whose cluster bus port P+10000 is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 10000 <= 65535 && (await portFree(p + 10000))) return p;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A real Redis Cluster on loopback: `masters` redis-server processes with --cluster-enabled yes (no
 * replicas), joined by `redis-cli --cluster create ... --cluster-yes`, ready when every node says
 * cluster_state:ok and knows every slot.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'banyan-redis-cluster-'));
    const nodes: RedisServer[] = [];
    const cluster = new RedisCluster(nodes, dir);
    try {
      for (let i = 0; i < masters; i++) {
        const port = await clusterPort();
        nodes.push(await RedisServer.start({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000', '--dir', dir] }));
      }
      await run(toolPath('redis-cli'), ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
      await eventually(async () => {
        for (const n of nodes) {
          const c = n.client();
          try {
            const info = String(await c.call('CLUSTER', 'INFO'));
            if (!/cluster_state:ok/.test(info) || !/cluster_slots_assigned:16384/.test(info) || !new RegExp(`cluster_known_nodes:${masters}\\b`).test(info)) throw new Error(`node ${n.port} not ready:\n${info}`);
          } finally {
            c.disconnect();
          }
        }
      }, 30_000, 100);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** The URL Banyan takes for a cluster (seed nodes). */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A real Sentinel setup on loopback: one master, one replica of it, and three Sentinels (redis-server
 * --sentinel, each with its own writable config) monitoring it as `name` with quorum 2. Ready when
 * every Sentinel names the master, knows the replica in sync and the two other Sentinels.
 */
export class RedisSentinels {
  private constructor(
    readonly servers: RedisServer[],
    readonly sentinels: RedisServer[],
    readonly name: string,
    private readonly dir: string,
  ) {}

  static async start(name = 'mymaster'): Promise<RedisSentinels> {
    const dir = mkdtempSync(path.join(tmpdir(), 'banyan-redis-sentinel-'));
    const servers: RedisServer[] = [];
    const sentinels: RedisServer[] = [];
    const group = new RedisSentinels(servers, sentinels, name, dir);
    try {
      // --dir: a replica's full sync writes the master's RDB to its working directory.
      const [mdir, rdir] = ['master', 'replica'].map((d) => mkdirSync(path.join(dir, d), { recursive: true }) ?? path.join(dir, d));
      const master = await RedisServer.start({ args: ['--dir', mdir] });
      servers.push(master);
      servers.push(await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port), '--dir', rdir] }));
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = path.join(dir, `sentinel-${port}.conf`);
        writeFileSync(
          conf,
          [
            `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${name} 1000`,
            `sentinel failover-timeout ${name} 10000`,
            `sentinel parallel-syncs ${name} 1`,
            'sentinel announce-ip 127.0.0.1',
            '',
          ].join('\n'),
        );
        sentinels.push(await RedisServer.start({ port, configFile: conf, args: ['--sentinel', '--dir', dir] }));
      }
      await eventually(() => group.settled(master.port), 30_000, 100);
      return group;
    } catch (err) {
      await group.stop();
      throw err;
    }
  }

  /** Every Sentinel names `masterPort` as master, sees a replica in sync and two other Sentinels. */
  async settled(masterPort: number): Promise<void> {
    for (const s of this.sentinels) {
      const c = s.client();
      try {
        const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', this.name)) as string[] | null;
        if (Number(addr?.[1]) !== masterPort) throw new Error(`sentinel ${s.port} names ${addr?.join(':')} as master, not ${masterPort}`);
        const replicas = (await c.call('SENTINEL', 'replicas', this.name)) as string[][];
        const ok = replicas.some((r) => {
          const f = fields(r);
          return f.flags === 'slave' && f['master-link-status'] === 'ok';
        });
        if (!ok) throw new Error(`sentinel ${s.port} sees no replica in sync`);
        const peers = (await c.call('SENTINEL', 'sentinels', this.name)) as string[][];
        if (peers.length < 2) throw new Error(`sentinel ${s.port} knows ${peers.length} other sentinels`);
      } finally {
        c.disconnect();
      }
    }
  }

  /** The port the first Sentinel names as master now. */
  async masterPort(): Promise<number> {
    const c = this.sentinels[0].client();
    try {
      const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', this.name)) as string[];
      return Number(addr[1]);
    } finally {
      c.disconnect();
    }
  }

  /** SENTINEL FAILOVER: the replica is promoted, the old master reconfigured as its replica. */
  async failover(): Promise<void> {
    const c = this.sentinels[0].client();
    try {
      await c.call('SENTINEL', 'FAILOVER', this.name);
    } finally {
      c.disconnect();
    }
  }

  server(port: number): RedisServer {
    const s = this.servers.find((x) => x.port === port);
    if (!s) throw new Error(`no Redis server on ${port}`);
    return s;
  }

  /** The URL Banyan takes for it. */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${this.name}`;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((s) => s.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Sentinel's flat [name, value, name, value, ...] reply as a record. */
function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
