/**
 * The reference's decisions where a shared Redis is involved, against a real redis-server: a limit
 * raised for a key already over it, the local over-limit cache (keyed with the limit, never outliving
 * its window), share_threshold's shared counter key, and STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimitDomain } from '../../src/config/model.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { createRedisClient, RedisBackend } from '../../src/ratelimit/backend/redis.js';
import { RateLimiter, type RateLimitServiceOptions } from '../../src/ratelimit/service.js';
import { RedisServer } from '../support/redis.js';
import { req } from './helpers.js';

const domains = (yaml: string): RateLimitDomain[] => {
  const { domains: d, diagnostics } = parseRateLimitYaml(yaml, 'redis-ref.yaml');
  if (diagnostics.length) throw new Error(diagnostics.map((x) => x.message).join('\n'));
  return d;
};
const limitOf = (n: number) => domains(`domain: raise\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: ${n} }\n`);

describe('reference decisions on a real Redis', () => {
  let redis: RedisServer;
  let probe: Redis;
  const limiters: RateLimiter[] = [];

  async function limiter(opts: RateLimitServiceOptions): Promise<RateLimiter> {
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const rl = new RateLimiter({ backend, timeoutMs: 2000, failureMode: 'deny', ...opts });
    limiters.push(rl);
    await backend.ready();
    return rl;
  }
  const hourStart = (nowMs: number) => Math.floor(nowMs / 1000 / 3600) * 3600;

  beforeAll(async () => {
    redis = await RedisServer.start();
    probe = new Redis(redis.url);
  });

  afterAll(async () => {
    probe?.disconnect();
    await Promise.all(limiters.map((l) => l.close()));
    await redis?.stop();
  });

  it('limit 1 → 50 for a key already over: OK with the new limit, counted on from the Redis counter (as the reference)', async () => {
    const rl = await limiter({ domains: limitOf(1) });
    const value = `raised-${Date.now()}`;
    const r = req('raise', [['k', value]]);
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OK');
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OVER_LIMIT');
    // Answered from the local over-limit cache (on by default with Redis).
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OVER_LIMIT');

    rl.setConfig(limitOf(50));
    const res = await rl.shouldRateLimit(r);
    const counter = Number(await probe.get(`raise_k_${value}_${hourStart(Date.now())}`));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 50, unit: 'HOUR' }, limit_remaining: 50 - counter });
  });

  it('the local cache is keyed with the limit: an Envoy override raised 1 → 50 misses the entry cached under 1', async () => {
    const rl = await limiter({ domains: limitOf(1000) });
    const value = `override-${Date.now()}`;
    const withLimit = (n: number) => ({ domain: 'raise', descriptors: [{ entries: [{ key: 'k', value }], limit: { requests_per_unit: n, unit: 'HOUR' } }] });
    await rl.shouldRateLimit(withLimit(1));
    expect((await rl.shouldRateLimit(withLimit(1))).overall_code).toBe('OVER_LIMIT');
    expect((await rl.shouldRateLimit(withLimit(1))).overall_code).toBe('OVER_LIMIT');
    const before = await rl.metrics.registry.getSingleMetric('banyan_ratelimit_over_limit_with_local_cache_total')?.get();
    expect(before?.values.reduce((n, v) => n + v.value, 0)).toBeGreaterThan(0);
    const res = await rl.shouldRateLimit(withLimit(50));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses[0].current_limit).toEqual({ requests_per_unit: 50, unit: 'HOUR' });
  });

  it('a cached over-limit entry ends with its window: the next window asks Redis again', async () => {
    const start = (hourStart(Date.now()) + 3600) * 1000; // a window no other test used
    const clock = { now: start + 3600_000 - 5 };
    const rl = await limiter({ domains: limitOf(1), now: () => clock.now });
    const r = req('raise', [['k', `window-${Date.now()}`]]);
    await rl.shouldRateLimit(r);
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OVER_LIMIT');
    clock.now = start + 3600_000 + 1;
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OK');
  });

  it('share_threshold: one Redis counter named after the pattern, domain_files_files/*_window (base_limiter_test.go TestGenerateCacheKeysWithShareThreshold)', async () => {
    const now = Date.now();
    const config = domains('domain: share-threshold-test\ndescriptors:\n  - key: files\n    value: files/*\n    share_threshold: true\n    rate_limit: { unit: hour, requests_per_unit: 10 }\n');
    const prefix = `p${now}:`;
    const prefixed = await limiter({ domains: config, now: () => now, cacheKeyPrefix: prefix });
    for (const v of ['files/a.pdf', 'files/b.csv', 'files/subdir/f.txt']) await prefixed.shouldRateLimit(req('share-threshold-test', [['files', v]]));
    expect(await probe.get(`${prefix}share-threshold-test_files_files/*_${hourStart(now)}`)).toBe('3');
    expect(await probe.keys(`${prefix}*`)).toHaveLength(1);
  });

  it('stop-increment: the counters of a request refused by another descriptor are not spent (redis/fixed_cache_impl.go DoLimit)', async () => {
    const now = Date.now();
    const config = domains('domain: stop\ndescriptors:\n  - { key: wide, rate_limit: { unit: hour, requests_per_unit: 100 } }\n  - { key: narrow, rate_limit: { unit: hour, requests_per_unit: 1 } }\n');
    const v = `s${now}`;
    const r = req('stop', [['wide', v]], [['narrow', v]]);
    const key = (k: string) => `stop_${k}_${v}_${hourStart(now)}`;

    const rl = await limiter({ domains: config, now: () => now, stopIncrementWhenOverLimit: true });
    for (let i = 0; i < 4; i++) await rl.shouldRateLimit(r);
    // narrow: 1 OK, then counted only while going over (reference: the would-be-over key is incremented);
    // wide: counted once, then only read.
    expect(await probe.get(key('wide'))).toBe('1');

    const v2 = `${v}-plain`;
    const plain = await limiter({ domains: config, now: () => now });
    const r2 = req('stop', [['wide', v2]], [['narrow', v2]]);
    for (let i = 0; i < 4; i++) await plain.shouldRateLimit(r2);
    expect(await probe.get(`stop_wide_${v2}_${hourStart(now)}`)).toBe('4');
  });
});
