import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { fixedResetMs, type LimitCheck, type LimiterBackend, type LimitResult } from './types.js';

export interface RedisConnectOptions {
  /** redis://[user:pass@]host:port[/db] */
  url?: string;
  /** Sentinel endpoints plus the monitored master's name. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Seed nodes of a Redis Cluster. */
  cluster?: { host: string; port: number }[];
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
};

export function createRedisClient(opts: RedisConnectOptions): Redis | Cluster {
  if (opts.cluster?.length) {
    return new Cluster(opts.cluster, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      redisOptions: CLIENT_OPTIONS,
    });
  }
  if (opts.sentinels?.length) {
    return new Redis({ ...CLIENT_OPTIONS, sentinels: opts.sentinels, name: opts.sentinelName ?? 'mymaster' });
  }
  return opts.url ? new Redis(opts.url, CLIENT_OPTIONS) : new Redis(CLIENT_OPTIONS);
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

  async check(checks: LimitCheck[]): Promise<LimitResult[]> {
    return Promise.all(checks.map((c) => this.single(c)));
  }

  private async single(c: LimitCheck): Promise<LimitResult> {
    const w = c.windowSeconds * 1000;
    if (c.algorithm === 'fixed') {
      const [after] = await Promise.all([this.client.incrby(c.key, c.hits), this.client.expire(c.key, c.windowSeconds)]);
      return toResult(c, after);
    }
    const s = this.client as unknown as ScriptClient;
    const reply = c.algorithm === 'sliding' ? await s.banyanSliding(c.key, c.nowMs, w, c.limit, c.hits) : await s.banyanGcra(c.key, c.nowMs, w, c.limit, c.hits);
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
