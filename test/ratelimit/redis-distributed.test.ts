/**
 * The Redis backend against real multi-node Redis on loopback (issue 12 item 6): a 3-master Redis
 * Cluster (redis-cli --cluster create) and Sentinel (1 master, 1 replica, 3 Sentinels) with a
 * failover during load. Both are reached through the URLs Banyan takes (redis+cluster://,
 * redis+sentinel://), never a mock.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { createRedisClient, RedisBackend } from '../../src/ratelimit/backend/redis.js';
import { parseRedisUrl } from '../../src/ratelimit/backend/redis-url.js';
import { createRateLimitServer, type RateLimitServer } from '../../src/ratelimit/server.js';
import type { RateLimitServiceOptions } from '../../src/ratelimit/service.js';
import { eventually } from '../support/eventually.js';
import { RedisCluster, RedisSentinels } from '../support/redis.js';
import { req, rlsClient } from './helpers.js';

const CONFIG = parseRateLimitYaml(
  `domain: edge
descriptors:
  - key: spread
    rate_limit: { unit: hour, requests_per_unit: 30 }
  - key: hot
    rate_limit: { unit: hour, requests_per_unit: 400 }
  - key: bucket
    rate_limit: { unit: hour, requests_per_unit: 100, algorithm: gcra }
  - key: slide
    rate_limit: { unit: hour, requests_per_unit: 100, algorithm: sliding }
`,
  'edge.yaml',
).domains;

const windowStart = () => Math.floor(Date.now() / 1000 / 3600) * 3600;

async function replica(url: string, servers: RateLimitServer[], opts: RateLimitServiceOptions = {}): Promise<ReturnType<typeof rlsClient> & { server: RateLimitServer }> {
  const backend = new RedisBackend(createRedisClient({ url }));
  const server = createRateLimitServer({ backend, domains: CONFIG, ...opts });
  servers.push(server);
  await backend.ready();
  const port = await server.start(0, '127.0.0.1');
  return Object.assign(rlsClient(port), { server });
}

describe('Redis URLs', () => {
  it('redis+cluster:// and redis+sentinel:// name the nodes; redis:// is kept for ioredis', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual({ cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }] });
    expect(parseRedisUrl('redis+sentinel://:s3cret@a:26379,b:26379/mymaster/2')).toEqual({ sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26379 }], sentinelName: 'mymaster', password: 's3cret', db: 2 });
    expect(parseRedisUrl('redis://u:p@h:6379/1')).toEqual({ url: 'redis://u:p@h:6379/1' });
    expect(() => parseRedisUrl('redis+sentinel://a:26379')).toThrow(/mastername/);
    expect(() => parseRedisUrl('redis+cluster://a')).toThrow(/host:port/);
    expect(() => parseRedisUrl('http://a:1')).toThrow(/not a Redis URL/);
  });
});

describe('Redis Cluster (3 masters on loopback)', () => {
  let cluster: RedisCluster;
  const servers: RateLimitServer[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await cluster?.stop();
  });

  it('two replicas, 40 keys spread over every master, 2,400 concurrent calls: exactly requests_per_unit OK per key', async () => {
    const opts = { timeoutMs: 10_000, failureMode: 'deny' as const };
    const a = await replica(cluster.url, servers, opts);
    const b = await replica(cluster.url, servers, opts);
    const run = `c${Date.now()}`;
    const values = spreadValues(run, 40);
    const calls = values.flatMap((v, i) => Array.from({ length: 60 }, (_, j) => ((i + j) % 2 ? a : b).call(req('edge', [['spread', v]]), 30_000).then((r) => [v, r.overall_code] as const)));
    const results = await Promise.all(calls);
    for (const v of values) {
      expect(results.filter(([x, c]) => x === v && c === 'OK'), v).toHaveLength(30);
      expect(results.filter(([x, c]) => x === v && c === 'OVER_LIMIT'), v).toHaveLength(30);
    }
    // The reference's keys, on every master (the slots of 40 keys cover all three).
    const direct = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
    try {
      expect(await direct.get(`edge_spread_${values[0]}_${windowStart()}`)).toBe('60');
      for (const node of cluster.nodes) {
        const c = node.client();
        try {
          const keys = await c.keys(`edge_spread_${run}-*`);
          expect(keys.length, `master ${node.port}`).toBeGreaterThan(0);
        } finally {
          c.disconnect();
        }
      }
    } finally {
      direct.disconnect();
    }
  });

  it('one request whose descriptors live on different masters is counted on each', async () => {
    const a = await replica(cluster.url, servers, { timeoutMs: 10_000, failureMode: 'deny' });
    const run = `m${Date.now()}`;
    const values = spreadValues(run, 6);
    const res = await a.call(req('edge', ...values.map((v) => [['spread', v]] as [string, string][])));
    expect(res.statuses.map((s) => s.limit_remaining)).toEqual(values.map(() => 29));
    // Six keys, two in each master's slot range (redis-cli's even split): held by all three.
    const holders = new Set<number>();
    for (const v of values) holders.add(await holderOf(cluster, `edge_spread_${v}_${windowStart()}`));
    expect(holders.size).toBe(3);
  });

  it('GCRA and sliding window (Lua, one key each) stay exact under concurrency on the cluster', async () => {
    const a = await replica(cluster.url, servers, { timeoutMs: 10_000, failureMode: 'deny' });
    for (const key of ['bucket', 'slide']) {
      const value = `${key}-${Date.now()}`;
      const results = await Promise.all(Array.from({ length: 600 }, () => a.call(req('edge', [[key, value]]), 30_000)));
      expect(results.filter((r) => r.overall_code === 'OK')).toHaveLength(100);
    }
  });
});

/**
 * `n` descriptor values whose fixed-window keys fall in the three masters' slot ranges in turn
 * (0-5460, 5461-10922, 10923-16383, as redis-cli --cluster create splits them for three masters).
 */
function spreadValues(prefix: string, n: number): string[] {
  const out: string[] = [];
  const ws = windowStart();
  for (let i = 0; out.length < n; i++) {
    const v = `${prefix}-${i}`;
    const slot = crcSlot(`edge_spread_${v}_${ws}`);
    if ((slot < 5461 ? 0 : slot < 10923 ? 1 : 2) === out.length % 3) out.push(v);
  }
  return out;
}

/** CRC16 (XMODEM) mod 16384, Redis Cluster's HASH_SLOT for a key without a hash tag. */
function crcSlot(key: string): number {
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The port of the master that holds `key` (the others answer MOVED). */
async function holderOf(cluster: RedisCluster, key: string): Promise<number> {
  for (const node of cluster.nodes) {
    const c = node.client();
    try {
      if (Number(await c.exists(key)) === 1) return node.port;
    } catch {
      // MOVED: another master's slot
    } finally {
      c.disconnect();
    }
  }
  throw new Error(`no master holds ${key}`);
}

describe('Redis Sentinel (1 master, 1 replica, 3 Sentinels on loopback): failover during load', () => {
  let group: RedisSentinels;
  const servers: RateLimitServer[] = [];

  beforeAll(async () => {
    group = await RedisSentinels.start('mymaster');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await group?.stop();
  });

  /**
   * The guarantee under a failover, with failure mode deny: every call is answered within the bound
   * (a decision, or UNAVAILABLE while no master answers); Banyan follows the new master without a
   * restart; and no limit is served weaker than written beyond what the failover itself loses.
   * Redis replication is asynchronous: increments the old master acknowledged that never reached the
   * replica (and those it took after the promotion, before it was demoted) are gone, and each lost
   * increment can let one more request through. So: OK decisions ≤ limit + lost, where
   * lost = acknowledged increments + increments that may have landed unacknowledged (timeouts) −
   * the counter the new master holds at the end. Nothing else may add to the OKs.
   */
  it('SENTINEL FAILOVER under load: the bound holds, the new master is followed, OK ≤ limit + increments the failover lost', async () => {
    const timeoutMs = 100;
    const limit = 400;
    // No local over-limit cache: every call goes to Redis, so the counters tell what each master saw.
    const a = await replica(group.url, servers, { timeoutMs, failureMode: 'deny', localCache: false });
    const value = `fo-${Date.now()}`;
    const key = `edge_hot_${value}_${windowStart()}`;
    const oldMaster = await group.masterPort();

    const outcomes: { code: string; ms: number }[] = [];
    let failoverAsked = false;
    let done = false;
    // Load runs until the new master holds the counter 50 past the limit: Banyan has followed it and
    // decided there, over the limit.
    let followed: Promise<void> | undefined;
    const deadline = Date.now() + 60_000;
    const worker = async () => {
      while (!done && Date.now() < deadline) {
        const t0 = performance.now();
        let code: string;
        try {
          code = (await a.call(req('edge', [['hot', value]]), 10_000)).overall_code;
        } catch (err) {
          code = (err as { code?: number }).code === 14 ? 'UNAVAILABLE' : `error ${(err as Error).message}`;
        }
        outcomes.push({ code, ms: performance.now() - t0 });
        if (!failoverAsked && outcomes.length >= 100) {
          failoverAsked = true;
          followed = group
            .failover()
            .then(() => eventually(async () => expect(await group.masterPort()).not.toBe(oldMaster), 30_000, 50))
            .then(() => eventually(async () => expect(await counterOn(await group.masterPort())).toBeGreaterThanOrEqual(limit + 50), 45_000, 20))
            .finally(() => (done = true));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await followed;
    const newMaster = await group.masterPort();
    expect(newMaster).not.toBe(oldMaster);

    const ok = outcomes.filter((o) => o.code === 'OK').length;
    const decided = outcomes.filter((o) => o.code === 'OK' || o.code === 'OVER_LIMIT').length;
    const unavailable = outcomes.filter((o) => o.code === 'UNAVAILABLE').length;
    expect(outcomes.filter((o) => o.code.startsWith('error'))).toEqual([]);
    // The bound: answered (a decision or UNAVAILABLE) within it, plus room for a loaded machine.
    expect(outcomes.filter((o) => o.ms > timeoutMs + 250).length).toBe(0);

    const counter = await counterOn(newMaster);
    async function counterOn(port: number): Promise<number> {
      const direct = group.server(port).client();
      try {
        return Number(await direct.get(key));
      } finally {
        direct.disconnect();
      }
    }
    const timeouts = await metric(a.server, 'banyan_ratelimit_backend_errors_total', { reason: 'timeout' });
    const lost = Math.max(0, decided + timeouts - counter);
    // Decisions were taken on the new master: it holds the counter past the limit.
    expect(counter).toBeGreaterThanOrEqual(limit);
    expect(ok).toBeLessThanOrEqual(limit + lost);
    expect(ok).toBeGreaterThanOrEqual(limit - unavailable);
    console.log(`sentinel failover: ${outcomes.length} calls, ${ok} OK, ${decided - ok} OVER_LIMIT, ${unavailable} UNAVAILABLE, counter ${counter}, lost ≤ ${lost}, timeouts ${timeouts}`);
  }, 90_000);
});

async function metric(server: RateLimitServer, name: string, labels: Record<string, string>): Promise<number> {
  const m = await server.limiter.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

