import { createClient, createCluster, defineScript, ErrorReply, type CommandParser, type RedisClientOptions } from '@redis/client';
import { parseRedisUrl, type RedisConnectOptions } from './redis-url.js';
import { fixedResetMs, type LimitCheck, type LimiterBackend, type LimitResult } from './types.js';

/**
 * What RedisBackend needs of a Redis deployment (one node, a Cluster, or the master Sentinel names),
 * on @redis/client. Every kind fails fast while disconnected (no offline queue: a call while Redis is
 * down is an error at once, not a wait) and reconnects by itself, with backoff and without limit, so
 * the service recovers without a restart. Commands issued in the same tick go out in one write (the
 * client writes in a setImmediate) and come back in one read, one batch per node.
 */
export interface RedisConnection {
  readonly kind: 'node' | 'cluster' | 'sentinel';
  /** Connected: commands are sent (otherwise they fail at once). */
  readonly isReady: boolean;
  /**
   * envoyproxy/ratelimit's fixed window on each key — INCRBY by its hits, then EXPIRE by its window —
   * as one command on one node (the keys of one slot under Cluster); the counts after, in key order.
   * `args` holds hits and window seconds per key, in turn.
   */
  fixed(keys: string[], args: string[]): Promise<number[]>;
  /** One of the Lua scripts below (EVALSHA, EVAL on NOSCRIPT), on the node holding `key`. */
  script(name: ScriptName, key: string, args: string[]): Promise<unknown>;
  /** Resolves once connected. */
  ready(): Promise<void>;
  /** Closes every connection at once (commands in flight fail), so it never waits on a stalled Redis. */
  close(): Promise<void>;
}

type ScriptName = 'banyanSliding' | 'banyanGcra';

/** A @redis/client client or cluster with the scripts below, typed as far as this module uses it. */
interface Commands {
  banyanFixed(keys: string[], args: string[]): Promise<number[]>;
  banyanSliding(key: string, ...args: string[]): Promise<unknown>;
  banyanGcra(key: string, ...args: string[]): Promise<unknown>;
}
interface NodeClient extends Commands {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
}
interface ClusterClient extends Commands {
  readonly isOpen: boolean;
  readonly masters: unknown[];
  nodeClient(node: unknown): Promise<Pick<NodeClient, 'sendCommand'>>;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

const CONNECT_TIMEOUT_MS = 2000;
/** Reconnection delays (@redis/client counts retries from 0). */
const nodeBackoff = (retries: number) => Math.min(50 * (retries + 1), 1000);
const clusterBackoff = (retries: number) => Math.min(100 * (retries + 1), 2000);
const sentinelBackoff = (retries: number) => Math.min(100 * (retries + 1), 1000);

/** Connection errors surface per call (as backend errors); a client without a listener would throw them. */
const ignore = () => {};

type Creds = Pick<RedisClientOptions, 'username' | 'password'>;

function nodeClient(options: RedisClientOptions, reconnect: (retries: number) => number | false = nodeBackoff): NodeClient {
  const client = createClient({
    ...options,
    disableOfflineQueue: true,
    scripts: SCRIPTS,
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, ...options.socket, reconnectStrategy: reconnect },
  } as RedisClientOptions) as unknown as NodeClient;
  client.on('error', ignore);
  return client;
}

function destroy(client: { isOpen: boolean; destroy(): unknown } | undefined): void {
  // destroy() throws when the client is already closed.
  if (client?.isOpen) client.destroy();
}

class OfflineError extends Error {}

class NodeConnection implements RedisConnection {
  readonly kind = 'node';
  private readonly connected: Promise<void>;
  private readonly loaded: Promise<void>;

  constructor(private readonly client: NodeClient) {
    let loaded!: () => void;
    this.loaded = new Promise((resolve) => (loaded = resolve));
    // On every (re)connection: a restarted Redis has an empty script cache.
    client.on('ready', () => void loadScripts(client).then(loaded));
    // With a reconnect strategy that never gives up, connect() settles once connected (or closed).
    this.connected = client.connect().then(ignore, ignore);
  }

  get isReady(): boolean {
    return this.client.isReady;
  }
  fixed(keys: string[], args: string[]): Promise<number[]> {
    return this.client.banyanFixed(keys, args);
  }
  script(name: ScriptName, key: string, args: string[]): Promise<unknown> {
    return this.client[name](key, ...args);
  }
  ready(): Promise<void> {
    return this.loaded;
  }
  async close(): Promise<void> {
    destroy(this.client);
    await this.connected;
  }
}

/** A retry's pause, which close() cuts short. */
class Pause {
  private wakeUp?: () => void;

  for(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

/**
 * Redis Cluster from seed nodes. @redis/client discovers the slots once per connect() and gives up
 * when no seed answers, so discovery is retried here with backoff until it succeeds; after that it
 * follows MOVED/ASK itself, and each node's client reconnects on its own.
 */
class ClusterConnection implements RedisConnection {
  readonly kind = 'cluster';
  private up = false;
  private closed = false;
  private readonly pause = new Pause();
  private readonly connected: Promise<void>;

  constructor(private readonly cluster: ClusterClient) {
    cluster.on('error', ignore);
    this.connected = this.connect();
  }

  private async connect(): Promise<void> {
    for (let retries = 0; !this.closed; retries++) {
      try {
        await this.cluster.connect();
        if (this.closed) return destroy(this.cluster);
        await Promise.all(this.cluster.masters.map((m) => this.cluster.nodeClient(m).then(loadScripts, ignore)));
        this.up = true;
        return;
      } catch {
        if (this.closed) return;
        await this.pause.for(clusterBackoff(retries));
      }
    }
  }

  get isReady(): boolean {
    return this.up && this.cluster.isOpen;
  }
  private get live(): Commands {
    if (!this.up) throw new OfflineError('Redis Cluster: slots not discovered yet (no seed node answered)');
    return this.cluster;
  }
  async fixed(keys: string[], args: string[]): Promise<number[]> {
    const live = this.live;
    if (keys.length === 1) return live.banyanFixed(keys, args);
    // A script may only touch keys of one slot: one call per key (each still one command, not two).
    const counts = await Promise.all(keys.map((k, i) => live.banyanFixed([k], [args[2 * i], args[2 * i + 1]])));
    return counts.map((c) => c[0]);
  }
  async script(name: ScriptName, key: string, args: string[]): Promise<unknown> {
    return this.live[name](key, ...args);
  }
  ready(): Promise<void> {
    return this.connected;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.pause.wake();
    await this.connected;
    if (this.up) destroy(this.cluster);
    this.up = false;
  }
}

/**
 * The master that Sentinels name, followed across failovers (as ioredis's sentinel mode with its
 * failover detector did): a client subscribed to +switch-master on every Sentinel re-resolves the
 * master at once; a READONLY reply (a master demoted under us, before the Sentinels told us) and a
 * lost connection do too. Resolving asks the Sentinels in turn (SENTINEL get-master-addr-by-name) and
 * checks with ROLE that the node named really is a master, retrying with backoff until one is. The
 * data node's client fails fast while it is not connected; the failed command is not resent (its
 * call has its failure mode).
 */
class SentinelConnection implements RedisConnection {
  readonly kind = 'sentinel';
  private master?: NodeClient;
  private masterAddr = '';
  private closed = false;
  private resolving?: Promise<void>;
  private again = false;
  private readonly pause = new Pause();
  private readonly watchers: NodeClient[];
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly sentinels: { host: string; port: number }[],
    private readonly name: string,
    private readonly node: RedisClientOptions,
  ) {
    // Sentinels are asked unauthenticated, and with the offline queue on (SUBSCRIBE waits for the connection).
    this.watchers = sentinels.map((s) => {
      const w = createClient({ socket: { host: s.host, port: s.port, connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: sentinelBackoff } }) as unknown as NodeClient;
      w.on('error', ignore);
      w.connect().catch(ignore);
      w.subscribe('+switch-master', (message) => {
        if (message.split(' ')[0] === name) this.resolve();
      }).catch(ignore);
      return w;
    });
    this.resolve();
  }

  get isReady(): boolean {
    return !!this.master?.isReady;
  }

  /** Finds the master now (coalesced: a request during a pass makes one more pass). */
  private resolve(): void {
    if (this.closed) return;
    if (this.resolving) {
      this.again = true;
      return;
    }
    this.resolving = this.follow().finally(() => {
      this.resolving = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        this.resolve();
      }
    });
  }

  private async follow(): Promise<void> {
    for (let retries = 0; !this.closed; retries++) {
      this.again = false;
      try {
        const addr = await this.ask();
        if (addr && addr !== this.masterAddr) await this.open(addr);
        if (addr && this.master && (await this.isMaster(this.master))) {
          if (!this.again) return;
          continue;
        }
      } catch {
        // a Sentinel or the node named did not answer: again after the backoff
      }
      if (this.closed) return;
      await this.pause.for(sentinelBackoff(retries));
    }
  }

  /** host:port of the master, from the first Sentinel that names one. */
  private async ask(): Promise<string | undefined> {
    for (const s of this.sentinels) {
      if (this.closed) return undefined;
      const c = createClient({ socket: { host: s.host, port: s.port, connectTimeout: 1000, reconnectStrategy: false } }) as unknown as NodeClient;
      c.on('error', ignore);
      try {
        await c.connect();
        const reply = (await c.sendCommand(['SENTINEL', 'get-master-addr-by-name', this.name])) as [string, string] | null;
        if (reply) return `${reply[0]}:${reply[1]}`;
      } catch {
        // the next Sentinel
      } finally {
        destroy(c);
      }
    }
    return undefined;
  }

  private async isMaster(client: NodeClient): Promise<boolean> {
    const role = (await client.sendCommand(['ROLE'])) as unknown[];
    return role[0] === 'master';
  }

  private async open(addr: string): Promise<void> {
    const i = addr.lastIndexOf(':');
    let connected = false;
    // The first connection is this pass's to make (it fails over to the Sentinels on error); once
    // connected, the client reconnects to the same node by itself, and a lost connection also asks
    // the Sentinels whether the master moved.
    const client = nodeClient({ ...this.node, socket: { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) } }, (retries) => (connected ? nodeBackoff(retries) : false));
    client.on('error', () => {
      if (connected && !this.closed && this.master === client) this.resolve();
    });
    client.on('ready', () => {
      // A reconnection (the first is awaited below, before the client serves).
      if (connected) void loadScripts(client);
      if (this.master === client) this.notify();
    });
    try {
      await client.connect();
      await loadScripts(client);
    } catch (err) {
      destroy(client);
      throw err;
    }
    connected = true;
    if (this.closed) return destroy(client);
    const old = this.master;
    this.master = client;
    this.masterAddr = addr;
    destroy(old);
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** A reply from the node we took for the master that says it no longer is. */
  private check<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (err instanceof ErrorReply && err.message.startsWith('READONLY')) this.resolve();
      throw err;
    });
  }

  private get live(): NodeClient {
    if (!this.master) throw new OfflineError(`Redis Sentinel: no master for "${this.name}" connected yet`);
    return this.master;
  }
  async fixed(keys: string[], args: string[]): Promise<number[]> {
    return this.check(this.live.banyanFixed(keys, args));
  }
  async script(name: ScriptName, key: string, args: string[]): Promise<unknown> {
    return this.check(this.live[name](key, ...args));
  }
  ready(): Promise<void> {
    if (this.master?.isReady) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async close(): Promise<void> {
    this.closed = true;
    this.pause.wake();
    for (const w of this.watchers) destroy(w);
    await this.resolving;
    destroy(this.master);
    this.master = undefined;
  }
}

export function createRedisClient(given: RedisConnectOptions): RedisConnection {
  const opts = given.url && !given.cluster?.length && !given.sentinels?.length ? { ...parseRedisUrl(given.url), ...withoutUrl(given) } : given;
  const creds: Creds = { ...(opts.username ? { username: opts.username } : {}), ...(opts.password ? { password: opts.password } : {}) };
  if (opts.cluster?.length) {
    const cluster = createCluster({
      rootNodes: opts.cluster.map((n) => ({ socket: { host: n.host, port: n.port } })),
      defaults: { ...creds, disableOfflineQueue: true, socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: nodeBackoff } },
      scripts: SCRIPTS,
    }) as unknown as ClusterClient;
    return new ClusterConnection(cluster);
  }
  if (opts.sentinels?.length) {
    return new SentinelConnection(opts.sentinels, opts.sentinelName ?? 'mymaster', { ...creds, ...(opts.db !== undefined ? { database: opts.db } : {}) });
  }
  return new NodeConnection(nodeClient(opts.url ? { url: opts.url } : { ...creds }));
}

function withoutUrl(o: RedisConnectOptions): RedisConnectOptions {
  const { url: _url, ...rest } = o;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}

// Sliding window in one hash per counter (fields = window starts), so one key serves both windows and
// the script stays single-slot under Redis Cluster. Over-limit requests are not counted.
const SLIDING_LUA = `
local now, w, limit, hits = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = math.floor(now / w) * w
local cur = tonumber(redis.call('HGET', KEYS[1], tostring(start)) or '0')
local prev = tonumber(redis.call('HGET', KEYS[1], tostring(start - w)) or '0')
local after = math.ceil(prev * (1 - (now - start) / w) + cur + hits - 1e-6)
if after <= limit and hits > 0 then
  redis.call('HINCRBY', KEYS[1], tostring(start), hits)
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(f) < start - w then redis.call('HDEL', KEYS[1], f) end
  end
  redis.call('PEXPIRE', KEYS[1], 2 * w)
end
return {after, start + w - now}
`;

// GCRA (token bucket): the key holds the theoretical arrival time in ms; a request fits when the
// debt it would leave is at most one window's worth.
const GCRA_LUA = `
local now, w, limit, hits = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if limit == 0 then return {hits, w} end
local interval = w / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = math.ceil((tat - now) / interval + hits - 1e-6)
if after <= limit and hits > 0 then
  tat = tat + hits * interval
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
end
return {after, math.ceil(tat - now)}
`;

// The reference's two commands per counter (INCRBY, then EXPIRE by the window), for every counter of a
// request in one script: one command per request instead of two per descriptor, and the same keys,
// counts and TTLs, so Banyan and envoyproxy/ratelimit can still share one Redis.
const FIXED_LUA = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('INCRBY', key, ARGV[2 * i - 1])
  redis.call('EXPIRE', key, ARGV[2 * i])
end
return out
`;

const fixedScript = defineScript({
  SCRIPT: FIXED_LUA,
  parseCommand(parser: CommandParser, keys: string[], args: string[]) {
    parser.pushKeysLength(keys);
    parser.push(...args);
  },
  transformReply: (reply: unknown) => reply,
} as unknown as Parameters<typeof defineScript>[0]);

/**
 * Puts the scripts in a node's cache, so that a request's first EVALSHA finds them: otherwise every
 * call of the first batch on a fresh or restarted Redis pays a NOSCRIPT reply and a second round trip
 * with the whole script, enough to cross a 50 ms budget and fail open. Best effort: a node that
 * refuses still answers EVAL on NOSCRIPT.
 */
function loadScripts(client: Pick<NodeClient, 'sendCommand'>): Promise<void> {
  return Promise.all([FIXED_LUA, SLIDING_LUA, GCRA_LUA].map((lua) => client.sendCommand(['SCRIPT', 'LOAD', lua]))).then(ignore, ignore);
}

/** Both scripts: KEYS[1] = the counter, ARGV = now ms, window ms, limit, hits; the reply as Redis gives it. */
const script = (lua: string) =>
  defineScript({
    SCRIPT: lua,
    NUMBER_OF_KEYS: 1,
    parseCommand(parser: CommandParser, key: string, ...args: string[]) {
      parser.pushKey(key);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => reply,
  } as unknown as Parameters<typeof defineScript>[0]);
const SCRIPTS = { banyanFixed: fixedScript, banyanSliding: script(SLIDING_LUA), banyanGcra: script(GCRA_LUA) };

/**
 * Counters in Redis, compatible with envoyproxy/ratelimit for fixed windows: same key
 * (prefix + domain_key_value_..._windowStart), INCRBY then EXPIRE by the window length, so a
 * deployment can move between the two services on one Redis. One command per request for its fixed
 * windows (a script running the reference's commands), one per sliding or GCRA counter, and the
 * commands of a tick written together (one batch per tick, per node under Cluster).
 */
export class RedisBackend implements LimiterBackend {
  readonly name = 'redis';

  constructor(readonly client: RedisConnection) {}

  /** Resolves once connected (callers that must not fail open on their first request wait for it). */
  ready(): Promise<void> {
    return this.client.ready();
  }

  private answeredAt = -Infinity;

  async check(checks: LimitCheck[]): Promise<LimitResult[]> {
    const keys: string[] = [];
    const args: string[] = [];
    let others = false;
    for (const c of checks) {
      if (c.algorithm !== 'fixed') {
        others = true;
        continue;
      }
      keys.push(c.key);
      args.push(String(c.hits), String(c.windowSeconds));
    }
    // Awaited together, so that a failure of one never leaves the other's rejection unhandled.
    const [counts, scripted] = await Promise.all([
      keys.length > 0 ? this.client.fixed(keys, args).then(this.answered, this.failed) : [],
      others ? Promise.all(checks.map((c) => (c.algorithm === 'fixed' ? undefined : this.scripted(c)))) : undefined,
    ]);
    let f = 0;
    return checks.map((c, i) => scripted?.[i] ?? { after: Number(counts[f++]), resetMs: fixedResetMs(c.windowSeconds, c.nowMs) });
  }

  lastAnswerAt(): number {
    return this.answeredAt;
  }

  private readonly answered = <T>(reply: T): T => {
    this.answeredAt = performance.now();
    return reply;
  };

  private scripted(c: LimitCheck): Promise<LimitResult> {
    const args = [String(c.nowMs), String(c.windowSeconds * 1000), String(c.limit), String(c.hits)];
    return this.client.script(c.algorithm === 'sliding' ? 'banyanSliding' : 'banyanGcra', c.key, args).then((reply) => {
      this.answeredAt = performance.now();
      const [after, resetMs] = reply as [number, number];
      return { after: Number(after), resetMs: Number(resetMs) };
    }, this.failed);
  }

  private readonly failed = (err: unknown): never => {
    // An error reply is an answer (Redis is alive); a connection error is not.
    if (err instanceof ErrorReply) this.answeredAt = performance.now();
    throw err;
  };

  async close(): Promise<void> {
    await this.client.close();
  }
}
