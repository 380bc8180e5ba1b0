/**
 * Child process of bench:ratelimit-redis: one Redis client issuing the Redis work of rate limit
 * decisions in a closed loop, so that the parent can read this process's CPU time and RSS from
 * /proc/<pid>. Argument 1 is a JSON ChildSpec.
 *
 * One decision = one LimiterBackend.check() of `descriptors` fixed-window checks, exactly what
 * Banyan's RateLimitService hands its backend for a request of that many descriptors (keys shaped as
 * its checkFor builds them: domain_key_value_windowStart). For `banyan` the backend IS Banyan's
 * RedisBackend (src/ratelimit/backend/redis.ts, client from createRedisClient), so the commands are
 * what it sends: per check, INCRBY key hits and EXPIRE key window, issued together and left to the
 * client's pipelining. The alternatives issue the same two commands per check the same way.
 * `split`: checks of 1-second windows go to a second Redis (the reference's REDIS_PERSECOND_URL),
 * each side a backend of its own.
 *
 * IPC: the child connects, runs `warmupSeconds` of load, drains, sends { type: 'warm' }; on
 * { type: 'go' } it runs `seconds` of load, drains, sends { type: 'done', decisions, elapsedMs,
 * errors }; on { type: 'report' } it answers { type: 'report', p50Ms, p99Ms } (sorted after the
 * parent's CPU reading, so the sort is not counted), then exits on { type: 'exit' }.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { createRedisClient, RedisBackend } from '../src/ratelimit/backend/redis.js';
import type { LimitCheck, LimitResult } from '../src/ratelimit/backend/types.js';
import { fixedResetMs } from '../src/ratelimit/backend/types.js';

/**
 * banyan: RedisBackend as Banyan runs it (@redis/client, from createRedisClient). ioredis: the
 * RedisBackend Banyan had before it moved to @redis/client (ioredis with its options, auto-pipelining
 * on, and the same wrapper: Promise.all over the checks, INCRBY + EXPIRE each, the answer time taken
 * on every reply), kept to compare against. node-redis: @redis/client without RedisBackend around it
 * (the wrapper's own cost).
 */
export type ClientName = 'banyan' | 'ioredis' | 'ioredis-no-autopipelining' | 'node-redis' | 'valkey-glide';

export interface ChildSpec {
  client: ClientName;
  /** One URL; two with split (the second takes the 1-second windows). */
  urls: string[];
  descriptors: number;
  concurrency: number;
  /** Window of each descriptor, in seconds (1 = per-second, 60 = per-minute). */
  windows: number[];
  split: boolean;
  seconds: number;
  warmupSeconds: number;
  /** Where the optional clients are installed (npm install --prefix). */
  cacheDir: string;
}

interface Backend {
  check(checks: LimitCheck[]): Promise<LimitResult[]>;
  lastAnswerAt?(): number;
  close(): Promise<void>;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const DOMAIN = 'bench';
const DESCRIPTOR_KEYS = ['remote_address', 'user', 'path'];
/** Distinct values per descriptor key: the counters a busy service touches (per-second ones churn). */
const VALUES = 10_000;

async function importCached(name: string): Promise<Record<string, unknown>> {
  const resolved = createRequire(`${spec.cacheDir}/package.json`).resolve(name);
  return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
}

/** The same two commands per check as RedisBackend, for a client with incrBy/expire. */
function pairBackend(c: { incrBy(k: string, n: number): Promise<unknown>; expire(k: string, s: number): Promise<unknown> }, close: () => void): Backend {
  return {
    check: (checks) =>
      Promise.all(
        checks.map(async (ch) => {
          const [after] = await Promise.all([c.incrBy(ch.key, ch.hits), c.expire(ch.key, ch.windowSeconds)]);
          return { after: Number(after), resetMs: fixedResetMs(ch.windowSeconds, ch.nowMs) };
        }),
      ),
    close: async () => close(),
  };
}

async function connect(client: ClientName, url: string): Promise<Backend> {
  if (client === 'banyan') {
    const b = new RedisBackend(createRedisClient({ url }));
    await b.ready();
    return b;
  }
  if (client === 'ioredis' || client === 'ioredis-no-autopipelining') {
    // ioredis as src/ratelimit/backend/redis.ts configured it before the move (its CLIENT_OPTIONS).
    const { Redis } = await import('ioredis');
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      enableAutoPipelining: client === 'ioredis',
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
    });
    redis.on('error', () => {});
    await new Promise((resolve) => redis.once('ready', resolve));
    return formerBackend(redis);
  }
  const u = new URL(url);
  if (client === 'node-redis') {
    const { createClient } = (await import('@redis/client')) as unknown as { createClient: (o: object) => NodeRedis };
    const c = createClient({ url, disableOfflineQueue: true });
    c.on('error', () => {});
    await c.connect();
    return pairBackend(c, () => c.destroy());
  }
  const { GlideClient } = (await importCached('@valkey/valkey-glide')) as { GlideClient: { createClient(o: object): Promise<Glide> } };
  const c = await GlideClient.createClient({ addresses: [{ host: u.hostname, port: Number(u.port) }], requestTimeout: 2000, inflightRequestsLimit: 100_000 });
  return pairBackend(c, () => c.close());
}

/** The former RedisBackend's fixed-window path on ioredis, as it was (check → single → command). */
function formerBackend(redis: import('ioredis').Redis): Backend {
  let answeredAt = -Infinity;
  const command = async (c: LimitCheck): Promise<LimitResult> => {
    const [after] = await Promise.all([redis.incrby(c.key, c.hits), redis.expire(c.key, c.windowSeconds)]);
    answeredAt = performance.now();
    return { after: Number(after), resetMs: fixedResetMs(c.windowSeconds, c.nowMs) };
  };
  const single = async (c: LimitCheck): Promise<LimitResult> => {
    try {
      return await command(c);
    } catch (err) {
      if ((err as Error).name === 'ReplyError') answeredAt = performance.now();
      throw err;
    }
  };
  return {
    check: async (checks) => Promise.all(checks.map(single)),
    lastAnswerAt: () => answeredAt,
    close: async () => redis.disconnect(),
  };
}

interface NodeRedis {
  on(ev: string, f: (e: Error) => void): void;
  connect(): Promise<unknown>;
  destroy(): void;
  incrBy(k: string, n: number): Promise<number>;
  expire(k: string, s: number): Promise<number>;
}
interface Glide {
  close(): void;
  incrBy(k: string, n: number): Promise<number>;
  expire(k: string, s: number): Promise<boolean>;
}

/** Checks of 1-second windows on the second backend, the rest on the first; answers in request order. */
function splitBackend(minute: Backend, second: Backend): Backend {
  return {
    async check(checks) {
      const fast: LimitCheck[] = [];
      const slow: LimitCheck[] = [];
      for (const c of checks) (c.windowSeconds === 1 ? fast : slow).push(c);
      const [f, s] = await Promise.all([fast.length ? second.check(fast) : [], slow.length ? minute.check(slow) : []]);
      let i = 0;
      let j = 0;
      return checks.map((c) => (c.windowSeconds === 1 ? f[i++] : s[j++]));
    },
    close: async () => {
      await Promise.all([minute.close(), second.close()]);
    },
  };
}

/** As RateLimitService.checkFor for a rule's first fixed limit: domain_key_value_windowStart. */
function decisionChecks(nowMs: number): LimitCheck[] {
  const out: LimitCheck[] = [];
  for (let d = 0; d < spec.descriptors; d++) {
    const v = Math.floor(Math.random() * VALUES);
    const w = spec.windows[d];
    const key = `${DOMAIN}_${DESCRIPTOR_KEYS[d]}_v${v}_${Math.floor(nowMs / 1000 / w) * w}`;
    out.push({ key, algorithm: 'fixed', limit: 1_000_000_000, windowSeconds: w, hits: 1, nowMs });
  }
  return out;
}

async function main(): Promise<void> {
  const first = await connect(spec.client, spec.urls[0]);
  const backend = spec.split ? splitBackend(first, await connect(spec.client, spec.urls[1])) : first;
  let latencies: number[] = [];
  let decisions = 0;
  let errors = 0;
  let lastError = '';

  const load = async (seconds: number): Promise<void> => {
    const until = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const r = await backend.check(decisionChecks(Date.now()));
          if (r.length !== spec.descriptors || !(r[0].after >= 1)) throw new Error(`bad answer ${JSON.stringify(r)}`);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          lastError = (err as Error).message;
        }
        decisions++;
      }
    };
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  };

  await load(spec.warmupSeconds);
  latencies = [];
  decisions = 0;
  errors = 0;
  process.send!({ type: 'warm' });
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'go') {
      const t0 = performance.now();
      await load(spec.seconds);
      process.send!({ type: 'done', decisions, errors, lastError, elapsedMs: performance.now() - t0 });
    } else if (m.type === 'report') {
      const s = Float64Array.from(latencies).sort();
      const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN);
      process.send!({ type: 'report', p50Ms: q(0.5), p99Ms: q(0.99) });
    } else if (m.type === 'exit') {
      await backend.close();
      process.exit(0);
    }
  });
}

main().catch((err) => {
  console.error(`${spec.client}: ${(err as Error).stack ?? err}`);
  process.exit(2);
});
