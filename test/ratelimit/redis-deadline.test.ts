/**
 * Issue 12 item 4's acceptance against a real redis-server, over gRPC:
 * - under CPU saturation (hog processes on every core beside the server) with a healthy Redis, no
 *   request passes uncounted: every call is counted in Redis, and none fails open;
 * - with Redis paused (SIGSTOP), the circuit breaker answers by the failure mode at once, so only a
 *   handful of calls (the first in flight, then one probe per backoff) pay the timeout and p99 stays
 *   under the bound; after SIGCONT a probe closes the breaker and calls are counted again.
 * Assertions are on counts (Redis counters, fail-open and timeout metrics), not on throughput.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, setPriority } from 'node:os';
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
  - key: big
    rate_limit: { unit: hour, requests_per_unit: 1000000 }
`,
  'edge.yaml',
).domains;

const windowStart = () => Math.floor(Date.now() / 1000 / 3600) * 3600;

/** `total` calls through `concurrency` workers, each timed from send to answer. */
async function load(call: () => Promise<string>, total: number, concurrency: number): Promise<{ code: string; ms: number }[]> {
  const out: { code: string; ms: number }[] = [];
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      const t0 = performance.now();
      let code: string;
      try {
        code = await call();
      } catch (err) {
        code = `error ${(err as Error).message}`;
      }
      out.push({ code, ms: performance.now() - t0 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

async function metric(server: RateLimitServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await server.limiter.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe('the deadline against a real Redis', () => {
  let redis: RedisServer;
  const servers: RateLimitServer[] = [];
  const hogs: ChildProcess[] = [];

  async function replica(opts: RateLimitServiceOptions): Promise<{ server: RateLimitServer; client: ReturnType<typeof rlsClient> }> {
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const server = createRateLimitServer({ backend, domains: CONFIG, ...opts });
    servers.push(server);
    await backend.ready();
    return { server, client: rlsClient(await server.start(0, '127.0.0.1')) };
  }

  beforeAll(async () => {
    redis = await RedisServer.start();
    // "Healthy Redis" means Redis keeps its share of the CPU while the hogs starve this process (the
    // server under test): on a machine already loaded by other suites, a Redis starved alongside it
    // answers seconds late, and a timeout then is Redis's lateness, not the server's. Root may raise it.
    const probe = redis.client();
    try {
      const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
      setPriority(pid, -10);
    } catch {
      // not permitted: Redis competes with the hogs like everything else
    } finally {
      probe.disconnect();
    }
  });

  afterAll(async () => {
    for (const h of hogs) h.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
  });

  it('CPU saturated by hog processes, healthy Redis, 2,000 calls at concurrency 200: every call counted in Redis, 0 fail-opens', async () => {
    const { server, client } = await replica({ timeoutMs: 50, failureMode: 'allow' });
    // One busy loop per core beside the server (and Redis): the event loop lags behind its timers.
    for (let i = 0; i < availableParallelism(); i++) hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const value = `hog-${Date.now()}`;
    let results: { code: string; ms: number }[];
    try {
      results = await load(async () => (await client.call(req('edge', [['big', value]]), 60_000)).overall_code, 2000, 200);
    } finally {
      for (const h of hogs.splice(0)) h.kill('SIGKILL');
    }
    const probe = new Redis(redis.url);
    let counted: number;
    try {
      counted = Number(await probe.get(`edge_big_${value}_${windowStart()}`));
    } finally {
      probe.disconnect();
    }
    const failOpen = await metric(server, 'banyan_ratelimit_failure_mode_allowed_total');
    const ok = results.filter((r) => r.code === 'OK').length;
    console.log(`CPU hog: ${results.length} calls, ${ok} OK, counted in Redis ${counted}, fail-open ${failOpen}, timeouts ${await metric(server, 'banyan_ratelimit_backend_errors_total', { reason: 'timeout' })}, slowest ${Math.round(Math.max(...results.map((r) => r.ms)))} ms`);
    expect(results.filter((r) => r.code !== 'OK')).toEqual([]);
    // No OK without a count: every answer was counted in Redis, or counted as a fail-open...
    expect(ok - counted).toBeLessThanOrEqual(failOpen);
    // ...and with a healthy Redis none fails open: every call waited for its real decision.
    expect(failOpen).toBe(0);
    expect(counted).toBe(2000);
  }, 120_000);

  it('Redis paused (SIGSTOP), 2,000 calls at concurrency 8: the breaker answers at once, few calls pay the timeout, p99 under the bound', async () => {
    const timeoutMs = 50;
    const { server, client } = await replica({ timeoutMs, failureMode: 'allow' });
    const value = `paused-${Date.now()}`;
    expect((await client.call(req('edge', [['big', value]]))).statuses[0].limit_remaining).toBe(999_999);
    let results: { code: string; ms: number }[];
    redis.pause();
    try {
      results = await load(async () => (await client.call(req('edge', [['big', value]]), 10_000)).overall_code, 2000, 8);
    } finally {
      redis.resume();
    }
    const timeouts = await metric(server, 'banyan_ratelimit_backend_errors_total', { reason: 'timeout' });
    const refused = await metric(server, 'banyan_ratelimit_backend_errors_total', { reason: 'breaker_open' });
    const failOpen = await metric(server, 'banyan_ratelimit_failure_mode_allowed_total');
    const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99) - 1];
    console.log(`Redis paused: ${results.length} calls, timeouts ${timeouts}, answered by the open breaker ${refused}, fail-open ${failOpen}, p99 ${p99.toFixed(1)} ms`);
    // Fail open, every one counted.
    expect(results.filter((r) => r.code !== 'OK')).toEqual([]);
    expect(failOpen).toBe(2000);
    expect(timeouts + refused).toBe(2000);
    // Without the breaker all 2,000 would wait the full 50 ms. With it: the calls in flight when it
    // opened, and one probe per backoff (100 ms doubling): under 1% of calls, so the p99 call is not
    // one that waited for the bound (a count, not a clock: a loaded machine slows every call alike).
    expect(timeouts).toBeLessThan(2000 * 0.01);
    expect(timeouts).toBeGreaterThanOrEqual(5);
    // The server's own latency (arrival to answer, banyan_ratelimit_decision_seconds): without the
    // breaker every decision would be over the bound; with it nearly all are under (95% here, not 99%,
    // so that a machine loaded by other suites, descheduling a fast decision now and then, passes).
    const hist = (await server.limiter.metrics.latency.get()).values;
    const under = hist.find((v) => v.metricName === 'banyan_ratelimit_decision_seconds_bucket' && v.labels.le === timeoutMs / 1000)?.value ?? 0;
    const count = hist.find((v) => v.metricName === 'banyan_ratelimit_decision_seconds_count')?.value ?? 0;
    expect(count).toBe(2001);
    expect(under / count).toBeGreaterThanOrEqual(0.95);

    // Redis back: a probe closes the breaker and calls are counted again.
    await eventually(async () => expect((await client.call(req('edge', [['big', value]]))).statuses[0].limit_remaining).toBeLessThan(999_999), 15_000, 20);
    expect(server.limiter.breakerState).toBe('closed');
  }, 120_000);
});
