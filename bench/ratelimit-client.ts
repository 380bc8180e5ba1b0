/**
 * Load generator for bench:ratelimit, run as its own process so it never shares an event loop with
 * the server under test. Closed loop (fixed concurrency, as fast as answered) or open loop (fixed rate).
 * Prints one JSON line: { calls, errors, seconds, rps, p50Ms, p99Ms }.
 */
import * as grpc from '@grpc/grpc-js';
import { rateLimitServiceDefinition } from '../src/proto/grpc.js';

const [target, mode, channelsArg, loadArg, secondsArg] = process.argv.slice(2);
const channels = Number(channelsArg);
const seconds = Number(secondsArg);
const Ctor = grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RateLimitService');
// Separate subchannel pools make each client its own HTTP/2 connection.
const clients = Array.from({ length: channels }, () => new Ctor(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as any);

const latencies: number[] = [];
let errors = 0;
let n = 0;
let running = true;

function one(): Promise<void> {
  const i = n++;
  const request = { domain: 'bench', descriptors: [{ entries: [{ key: 'remote_address', value: `10.0.${(i >> 8) & 255}.${i & 255}` }] }] };
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    clients[i % channels].ShouldRateLimit(request, (err: Error | null) => {
      if (err) errors++;
      else latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      resolve();
    });
  });
}

async function closedLoop(concurrency: number): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (running) await one();
    }),
  );
}

async function openLoop(rate: number): Promise<void> {
  const tickMs = 5;
  const perTick = rate / (1000 / tickMs);
  let owed = 0;
  const inflight = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (!running) {
        clearInterval(timer);
        resolve();
        return;
      }
      owed += perTick;
      for (; owed >= 1; owed--) {
        const p = one();
        inflight.add(p);
        p.then(() => inflight.delete(p));
      }
    }, tickMs);
  });
  await Promise.all(inflight);
}

async function main(): Promise<void> {
  // Warm up connections before measuring.
  await Promise.all(clients.map(() => one()));
  latencies.length = 0;
  errors = 0;
  const started = Date.now();
  setTimeout(() => (running = false), seconds * 1000);
  await (mode === 'closed' ? closedLoop(Number(loadArg)) : openLoop(Number(loadArg)));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  console.log(JSON.stringify({ calls: latencies.length, errors, seconds: elapsed, rps: latencies.length / elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99) }));
  for (const c of clients) c.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
