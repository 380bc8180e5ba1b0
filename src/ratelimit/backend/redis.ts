import { Redis, Cluster, ReplyError, type RedisOptions } from 'ioredis';
import { fixedResetMs, type LimitCheck, type LimiterBackend, type LimitResult } from './types.js';

export interface RedisConnectOptions {
  /**
   * One of:
   * - `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS): one Redis;
   * - `redis+cluster://[user:pass@]host:port,host:port,...`: Redis Cluster, from these seed nodes;
   * - `redis+sentinel://[user:pass@]host:port,host:port,.../mastername[/db]`: the master that these
   *   Sentinels name (credentials are the data nodes'; the Sentinels themselves are asked unauthenticated).
   */
  url?: string;
  /** Sentinel endpoints plus the monitored master's name. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Seed nodes of a Redis Cluster. */
  cluster?: { host: string; port: number }[];
  username?: string;
  password?: string;
  db?: number;
}

export const REDIS_URL_HINT = 'redis://host:port[/db], rediss://..., redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername';

/**
 * Reads the three URL shapes of RedisConnectOptions.url into connect options (a plain redis:// URL is
 * kept as it is, for ioredis to read). Throws on a malformed cluster or sentinel URL.
 */
export function parseRedisUrl(url: string): RedisConnectOptions {
  const m = /^redis\+(cluster|sentinel):\/\/(?:([^@/]*)@)?([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) {
    if (/^rediss?:\/\//.test(url)) return { url };
    throw new Error(`"${url}" is not a Redis URL (${REDIS_URL_HINT})`);
  }
  const [, kind, auth, hosts, path = ''] = m;
  const nodes = hosts.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const port = Number(hp.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`"${hp}" in "${url}" is not host:port`);
    return { host: hp.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
  });
  const creds: Pick<RedisConnectOptions, 'username' | 'password'> = {};
  if (auth) {
    const c = auth.indexOf(':');
    const user = decodeURIComponent(c < 0 ? '' : auth.slice(0, c));
    const pass = decodeURIComponent(c < 0 ? auth : auth.slice(c + 1));
    if (user) creds.username = user;
    if (pass) creds.password = pass;
  }
  if (kind === 'cluster') {
    if (path !== '') throw new Error(`"${url}": a Redis Cluster URL takes no path (Cluster has only db 0)`);
    return { cluster: nodes, ...creds };
  }
  const [name, db, ...rest] = path.split('/');
  if (!name || rest.length > 0 || (db !== undefined && !/^\d+$/.test(db))) throw new Error(`"${url}": a Sentinel URL ends with /mastername[/db]`);
  return { sentinels: nodes, sentinelName: decodeURIComponent(name), ...creds, ...(db !== undefined ? { db: Number(db) } : {}) };
}

/**
 * Commands fail fast while disconnected (no offline queue) so a down Redis costs an error, not a
 * wait; reconnection is automatic and unbounded, so the service recovers without a restart.
 */
const CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(50 * times, 1000),
  // Commands issued in the same tick (by concurrent requests) go out in one write and come back in one
  // read: under load, far fewer syscalls than one pipeline per request, still one round trip each.
  enableAutoPipelining: true,
  // A master demoted under us (a failover) answers writes with READONLY: reconnect, which asks the
  // Sentinels for the master again. The failed command is not resent (its call has its failure mode).
  reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
};

export function createRedisClient(given: RedisConnectOptions): Redis | Cluster {
  const opts = given.url && !given.cluster?.length && !given.sentinels?.length ? { ...parseRedisUrl(given.url), ...withoutUrl(given) } : given;
  const creds: RedisOptions = { ...(opts.username ? { username: opts.username } : {}), ...(opts.password ? { password: opts.password } : {}) };
  if (opts.cluster?.length) {
    return new Cluster(opts.cluster, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      redisOptions: { ...CLIENT_OPTIONS, ...creds },
    });
  }
  if (opts.sentinels?.length) {
    return new Redis({
      ...CLIENT_OPTIONS,
      ...creds,
      ...(opts.db !== undefined ? { db: opts.db } : {}),
      sentinels: opts.sentinels,
      name: opts.sentinelName ?? 'mymaster',
      // Sentinel's +switch-master moves the connection to the new master at once, not at the next error.
      failoverDetector: true,
      sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  }
  return opts.url ? new Redis(opts.url, CLIENT_OPTIONS) : new Redis({ ...CLIENT_OPTIONS, ...creds });
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

type ScriptClient = {
  banyanSliding(key: string, now: number, w: number, limit: number, hits: number): Promise<[number, number]>;
  banyanGcra(key: string, now: number, w: number, limit: number, hits: number): Promise<[number, number]>;
};

/**
 * Counters in Redis, compatible with envoyproxy/ratelimit for fixed windows: same key
 * (prefix + domain_key_value_..._windowStart), INCRBY then EXPIRE by the window length, so a
 * deployment can move between the two services on one Redis. One round trip per request: every
 * command is auto-pipelined (one batch per tick, per node under Cluster).
 */
export class RedisBackend implements LimiterBackend {
  readonly name = 'redis';

  constructor(readonly client: Redis | Cluster) {
    client.defineCommand('banyanSliding', { numberOfKeys: 1, lua: SLIDING_LUA });
    client.defineCommand('banyanGcra', { numberOfKeys: 1, lua: GCRA_LUA });
    // Connection errors surface per call (as backend errors); without a listener ioredis logs each one.
    client.on('error', () => {});
  }

  /** Resolves once connected (callers that must not fail open on their first request wait for it). */
  ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.client.once('ready', () => resolve()));
  }

  private answeredAt = -Infinity;

  async check(checks: LimitCheck[]): Promise<LimitResult[]> {
    return Promise.all(checks.map((c) => this.single(c)));
  }

  lastAnswerAt(): number {
    return this.answeredAt;
  }

  private async single(c: LimitCheck): Promise<LimitResult> {
    try {
      return await this.command(c);
    } catch (err) {
      // An error reply is an answer (Redis is alive); a connection error is not.
      if (err instanceof ReplyError) this.answeredAt = performance.now();
      throw err;
    }
  }

  private async command(c: LimitCheck): Promise<LimitResult> {
    const w = c.windowSeconds * 1000;
    if (c.algorithm === 'fixed') {
      const [after] = await Promise.all([this.client.incrby(c.key, c.hits), this.client.expire(c.key, c.windowSeconds)]);
      this.answeredAt = performance.now();
      return toResult(c, after);
    }
    const s = this.client as unknown as ScriptClient;
    const reply = c.algorithm === 'sliding' ? await s.banyanSliding(c.key, c.nowMs, w, c.limit, c.hits) : await s.banyanGcra(c.key, c.nowMs, w, c.limit, c.hits);
    this.answeredAt = performance.now();
    return toResult(c, reply);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

function toResult(c: LimitCheck, reply: unknown): LimitResult {
  if (c.algorithm === 'fixed') return { after: Number(reply), resetMs: fixedResetMs(c.windowSeconds, c.nowMs) };
  const [after, resetMs] = reply as [number, number];
  return { after: Number(after), resetMs: Number(resetMs) };
}
