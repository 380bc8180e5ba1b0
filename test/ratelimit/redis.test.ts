import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { createRedisClient, RedisBackend } from '../../src/ratelimit/backend/redis.js';
import { createRateLimitServer, type RateLimitServer } from '../../src/ratelimit/server.js';
import type { RateLimitServiceOptions } from '../../src/ratelimit/service.js';
import { eventually } from '../support/eventually.js';
import { RedisServer } from '../support/redis.js';
import { req, rlsClient } from './helpers.js';

const CONFIG = parseRateLimitYaml(
  `domain: edge
descriptors:
  - key: hot
    rate_limit: { unit: hour, requests_per_unit: 500 }
  - key: bucket
    rate_limit: { unit: hour, requests_per_unit: 100, algorithm: gcra }
  - key: slide
    rate_limit: { unit: hour, requests_per_unit: 100, algorithm: sliding }
  - key: one
    rate_limit: { unit: hour, requests_per_unit: 1 }
  - key: open
    fail_open: true
    rate_limit: { unit: hour, requests_per_unit: 1 }
`,
  'edge.yaml',
).domains;

describe('Redis backend against a real redis-server', () => {
  let redis: RedisServer;
  const servers: RateLimitServer[] = [];
  const clients: ReturnType<typeof rlsClient>[] = [];

  async function replica(opts: RateLimitServiceOptions = {}): Promise<ReturnType<typeof rlsClient>> {
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const server = createRateLimitServer({ backend, domains: CONFIG, ...opts });
    servers.push(server);
    await backend.ready();
    const port = await server.start(0, '127.0.0.1');
    const client = rlsClient(port);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
  });

  it('a request is one command: its fixed windows in one script, already loaded when ready() resolves (no NOSCRIPT, no EVAL, even for a first concurrent batch on a Redis that never saw it)', async () => {
    const admin = redis.client();
    try {
      await admin.script('FLUSH');
      await admin.config('RESETSTAT');
      const client = await replica({ timeoutMs: 2000, failureMode: 'deny' });
      const value = `batch-${Date.now()}`;
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.call(req('edge', [['hot', `${value}-${i}`]], [['one', `${value}-${i}`]]))));
      expect(answers.map((a) => a.overall_code)).toEqual(Array(50).fill('OK'));
      const stats = String(await admin.info('commandstats'));
      const calls = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
      // Two descriptors per request, one command per request; the reference's INCRBY and EXPIRE run
      // inside the script (Redis counts those calls too: two each per request).
      expect(calls('evalsha')).toBe(50);
      expect(calls('eval')).toBe(0);
      expect(calls('incrby')).toBe(100);
      expect(calls('expire')).toBe(100);
      expect(calls('script\\|load')).toBeGreaterThanOrEqual(1);
    } finally {
      admin.disconnect();
    }
  });

  it('writes envoyproxy/ratelimit-compatible keys and expiry (domain_key_value_windowstart, EXPIRE = unit)', async () => {
    const now = 1_700_000_123_456;
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const server = createRateLimitServer({ backend, domains: CONFIG, now: () => now, timeoutMs: 2000, failureMode: 'deny' });
    servers.push(server);
    await backend.ready();
    await server.limiter.shouldRateLimit(req('edge', [['one', 'compat']]));
    const probe = new Redis(redis.url);
    try {
      const key = `edge_one_compat_${Math.floor(now / 1000 / 3600) * 3600}`;
      expect(await probe.get(key)).toBe('1');
      const ttl = await probe.ttl(key);
      expect(ttl).toBeGreaterThan(3590);
      expect(ttl).toBeLessThanOrEqual(3600);
      // A counter written by envoyproxy/ratelimit on the same key is honoured.
      await probe.set(key, '1');
      expect((await server.limiter.shouldRateLimit(req('edge', [['one', 'compat']]))).overall_code).toBe('OVER_LIMIT');
    } finally {
      probe.disconnect();
    }
  });

  it('--key-prefix (CACHE_KEY_PREFIX) goes in front of every key', async () => {
    const now = 1_700_000_123_456;
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const server = createRateLimitServer({ backend, domains: CONFIG, now: () => now, timeoutMs: 2000, failureMode: 'deny', cacheKeyPrefix: 'rl:' });
    servers.push(server);
    await backend.ready();
    await server.limiter.shouldRateLimit(req('edge', [['one', 'prefixed']]));
    const probe = new Redis(redis.url);
    try {
      expect(await probe.get(`rl:edge_one_prefixed_${Math.floor(now / 1000 / 3600) * 3600}`)).toBe('1');
    } finally {
      probe.disconnect();
    }
  });

  it('two replicas, thousands of concurrent hits on one key: exactly requests_per_unit are OK', async () => {
    const opts = { timeoutMs: 10_000, failureMode: 'deny' as const };
    const a = await replica(opts);
    const b = await replica(opts);
    const value = `k-${Date.now()}`;
    const calls = Array.from({ length: 2000 }, (_, i) => (i % 2 ? a : b).call(req('edge', [['hot', value]]), 20_000));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.overall_code === 'OK')).toHaveLength(500);
    expect(results.filter((r) => r.overall_code === 'OVER_LIMIT')).toHaveLength(1500);
  });

  it('GCRA and sliding window stay exact under concurrency (atomic Lua)', async () => {
    const a = await replica({ timeoutMs: 10_000, failureMode: 'deny' });
    for (const key of ['bucket', 'slide']) {
      const value = `${key}-${Date.now()}`;
      const results = await Promise.all(Array.from({ length: 600 }, () => a.call(req('edge', [[key, value]]), 20_000)));
      expect(results.filter((r) => r.overall_code === 'OK')).toHaveLength(100);
    }
  });

  it('Redis stopped mid-run: answers within the bound by failure mode, then recovers by itself', async () => {
    const allow = await replica({ timeoutMs: 50, failureMode: 'allow' });
    const deny = await replica({ timeoutMs: 50, failureMode: 'deny' });
    const key = `down-${Date.now()}`;
    expect((await allow.call(req('edge', [['one', key]]))).overall_code).toBe('OK');
    expect((await allow.call(req('edge', [['one', key]]))).overall_code).toBe('OVER_LIMIT');

    await redis.stop();
    try {
      await whileDown();
    } finally {
      await redis.start();
    }
    // Redis came back empty: the first hit is OK again, the second over, without restarting anything.
    await eventually(async () => expect((await deny.call(req('edge', [['one', `${key}-after`]]))).overall_code).toBe('OK'), 15_000);
    expect((await deny.call(req('edge', [['one', `${key}-after`]]))).overall_code).toBe('OVER_LIMIT');

    async function whileDown(): Promise<void> {
      // The key already over the limit stays OVER_LIMIT from the local cache; a fresh key needs Redis.
      expect((await allow.call(req('edge', [['one', key]]))).overall_code).toBe('OVER_LIMIT');
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        expect((await allow.call(req('edge', [['one', `${key}-${i}`]]))).overall_code).toBe('OK');
        expect(Date.now() - t0).toBeLessThan(50 + 250);
        const t1 = Date.now();
        await expect(deny.call(req('edge', [['one', `${key}-${i}`]]))).rejects.toMatchObject({ code: 14 /* UNAVAILABLE */ });
        expect(Date.now() - t1).toBeLessThan(50 + 250);
        // A fail_open descriptor is let through even by the deny replica.
        expect((await deny.call(req('edge', [['open', key]]))).overall_code).toBe('OK');
      }
      const metrics = await servers[servers.length - 2].metrics();
      expect(metrics).toMatch(/banyan_ratelimit_failure_mode_allowed_total [1-9]/);
      expect(metrics).toMatch(/banyan_ratelimit_backend_errors_total\{backend="redis",reason="(error|timeout)"\} [1-9]/);
    }
  });

  it('a Redis that stops answering (paused) still gets an answer within the bound', async () => {
    const allow = await replica({ timeoutMs: 50, failureMode: 'allow' });
    redis.pause();
    try {
      const t0 = Date.now();
      expect((await allow.call(req('edge', [['one', `slow-${Date.now()}`]]))).overall_code).toBe('OK');
      expect(Date.now() - t0).toBeLessThan(50 + 250);
    } finally {
      redis.resume();
    }
    await eventually(async () => expect((await allow.call(req('edge', [['hot', `resumed-${Date.now()}`]]))).statuses[0].limit_remaining).toBe(499));
  });

  it('hot over-limit keys are answered from the local cache without Redis', async () => {
    const a = await replica({ timeoutMs: 2000, failureMode: 'deny' });
    const key = `cached-${Date.now()}`;
    await a.call(req('edge', [['one', key]]));
    expect((await a.call(req('edge', [['one', key]]))).overall_code).toBe('OVER_LIMIT');
    redis.pause();
    try {
      // Redis cannot answer, yet the cached over-limit key is decided (deny mode would otherwise fail).
      expect((await a.call(req('edge', [['one', key]]))).overall_code).toBe('OVER_LIMIT');
    } finally {
      redis.resume();
    }
    expect(await servers[servers.length - 1].metrics()).toMatch(new RegExp(`banyan_ratelimit_over_limit_with_local_cache_total\\{key="edge.one"\\} [1-9]`));
  });
});
