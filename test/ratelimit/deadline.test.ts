/**
 * The call's budget (issue 12 item 4): it starts at arrival, ends no later than the caller's deadline,
 * a reply that arrived in time is used even when the event loop was late to look, and the circuit
 * breaker spares every call the timeout while the backend is down. Backends here are real sockets or
 * plain objects counting calls; Redis itself is in redis-deadline.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker, BreakerOpenError } from '../../src/ratelimit/backend/breaker.js';
import type { LimitCheck, LimiterBackend, LimitResult } from '../../src/ratelimit/backend/types.js';
import { limiterFor, req } from './helpers.js';

const YAML = `domain: d
descriptors:
  - key: k
    rate_limit: { unit: hour, requests_per_unit: 1000 }
`;

/** Answers each check over a real loopback TCP round trip (an echo server in another process), as Redis would. */
class EchoBackend implements LimiterBackend {
  readonly name = 'redis' as const;
  calls = 0;
  private pending: (() => void)[] = [];
  constructor(private readonly socket: net.Socket) {
    socket.on('data', (buf) => {
      for (let i = 0; i < buf.length; i++) this.pending.shift()?.();
    });
  }
  check(checks: LimitCheck[]): Promise<LimitResult[]> {
    this.calls++;
    return new Promise((resolve) => {
      this.pending.push(() => resolve(checks.map(() => ({ after: 1, resetMs: 1000 }))));
      this.socket.write('x');
    });
  }
  async close(): Promise<void> {}
}

/** Fails or hangs on demand, counting the calls that reached it. */
class FlakyBackend implements LimiterBackend {
  readonly name = 'redis' as const;
  calls = 0;
  mode: 'fail' | 'hang' | 'ok' = 'fail';
  check(checks: LimitCheck[]): Promise<LimitResult[]> {
    this.calls++;
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'hang') return new Promise(() => {});
    return Promise.resolve(checks.map(() => ({ after: 1, resetMs: 1000 })));
  }
  async close(): Promise<void> {}
}

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the event loop is late: nothing else runs
  }
}

describe('the call budget', () => {
  let echo: ChildProcess;
  let socket: net.Socket;

  beforeAll(async () => {
    // Another process, so that it answers while this one's loop is busy.
    const script = "const s=require('net').createServer(c=>c.on('data',b=>c.write(b))).listen(0,'127.0.0.1',()=>console.log(s.address().port))";
    echo = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve) => createInterface({ input: echo.stdout! }).once('line', (l) => resolve(Number(l))));
    socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((r) => socket.once('connect', () => r()));
  });
  afterAll(() => {
    socket?.destroy();
    echo?.kill('SIGKILL');
  });

  it('a reply already in the socket buffer when the deadline passes is used, not discarded because the loop was late', async () => {
    const backend = new EchoBackend(socket);
    const { rl } = limiterFor(YAML, { backend, timeoutMs: 20, failureMode: 'deny' });
    for (let i = 0; i < 20; i++) {
      const answer = rl.shouldRateLimit(req('d', [['k', 'v']]));
      // The echo comes back within microseconds, but the loop only looks after 60 ms: the timer (20 ms)
      // is overdue before the socket is read. A timer-first race would time out (UNAVAILABLE in deny mode).
      setImmediate(() => busyFor(60));
      expect((await answer).overall_code).toBe('OK');
    }
    expect(await rl.metrics.registry.getSingleMetric('banyan_ratelimit_backend_errors_total')!.get()).toMatchObject({ values: [] });
  });

  it('the budget starts at arrival: time spent before the backend call counts against it', async () => {
    const backend = new FlakyBackend();
    backend.mode = 'hang';
    const { rl } = limiterFor(YAML, { backend, timeoutMs: 50, failureMode: 'allow', breaker: { failures: 0 } });
    // Arrived 49 ms ago: 1 ms remains, so the hanging backend is given about that, not 50 ms more.
    const t0 = performance.now();
    expect((await rl.shouldRateLimit(req('d', [['k', 'v']]), { arrivedAt: t0 - 49 })).overall_code).toBe('OK');
    expect(performance.now() - t0).toBeLessThan(40);
  });

  it("the caller's grpc-timeout shortens the bound when it is sooner", async () => {
    const backend = new FlakyBackend();
    backend.mode = 'hang';
    const { rl } = limiterFor(YAML, { backend, timeoutMs: 10_000, failureMode: 'allow', breaker: { failures: 0 } });
    const t0 = performance.now();
    expect((await rl.shouldRateLimit(req('d', [['k', 'v']]), { arrivedAt: t0, callerDeadlineAt: t0 + 20 })).overall_code).toBe('OK');
    // Answered before the caller's 20 ms, not after the configured 10 s.
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await rl.metrics.registry.getSingleMetric('banyan_ratelimit_failure_mode_allowed_total')!.get()).toMatchObject({ values: [{ value: 1 }] });
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures, probes after a doubling backoff, closes on a probe that succeeds', () => {
    const clock = { now: 0 };
    const changes: string[] = [];
    const b = new CircuitBreaker({ failures: 3, backoffMs: 100, maxBackoffMs: 300, now: () => clock.now, onChange: (s) => changes.push(s) });
    for (let i = 0; i < 2; i++) b.failure(b.acquire());
    b.success(b.acquire()); // a success resets the run
    for (let i = 0; i < 3; i++) b.failure(b.acquire());
    expect(b.state).toBe('open');
    expect(() => b.acquire()).toThrow(BreakerOpenError);
    clock.now = 100;
    const probe = b.acquire();
    expect(b.state).toBe('half_open');
    // One probe at a time: the others are refused while it is out.
    expect(() => b.acquire()).toThrow(BreakerOpenError);
    b.failure(probe);
    clock.now = 299;
    expect(() => b.acquire()).toThrow(BreakerOpenError); // backoff doubled to 200
    clock.now = 300;
    b.failure(b.acquire()); // 400, capped at 300
    clock.now = 599;
    expect(() => b.acquire()).toThrow(BreakerOpenError);
    clock.now = 600;
    b.success(b.acquire());
    expect(b.state).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'open', 'half_open', 'closed']);
    // Closed again, the backoff starts over from 100.
    for (let i = 0; i < 3; i++) b.failure(b.acquire());
    clock.now = 700;
    expect(() => b.acquire()).not.toThrow();
  });

  it('while open, calls skip the backend and the failure mode answers at once (counted); a probe brings it back', async () => {
    const backend = new FlakyBackend();
    const logs: { msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const { rl } = limiterFor(YAML, { backend, timeoutMs: 50, failureMode: 'allow', breaker: { failures: 5, backoffMs: 60_000 }, log });
    for (let i = 0; i < 100; i++) expect((await rl.shouldRateLimit(req('d', [['k', `v${i}`]]))).overall_code).toBe('OK');
    expect(backend.calls).toBe(5);
    expect(rl.breakerState).toBe('open');
    const text = await rl.metrics.text();
    expect(text).toMatch(/banyan_ratelimit_failure_mode_allowed_total 100\b/);
    expect(text).toMatch(/banyan_ratelimit_backend_errors_total\{backend="redis",reason="error"\} 5\b/);
    expect(text).toMatch(/banyan_ratelimit_backend_errors_total\{backend="redis",reason="breaker_open"\} 95\b/);
    expect(text).toMatch(/banyan_ratelimit_breaker_state 2\b/);

    // Logged, but not once per call: one line, then at most one per 10 s with the count since.
    expect(logs.filter((l) => /let through uncounted/.test(l.msg))).toHaveLength(1);
    expect(logs.filter((l) => /circuit breaker open/.test(l.msg))).toHaveLength(1);

    const clock = { now: 0 };
    const deny = limiterFor(YAML, { backend, timeoutMs: 50, failureMode: 'deny', breaker: { failures: 1, backoffMs: 10, now: () => clock.now } }).rl;
    await expect(deny.shouldRateLimit(req('d', [['k', 'x']]))).rejects.toMatchObject({ code: 14 });
    backend.mode = 'ok';
    const before = backend.calls;
    await expect(deny.shouldRateLimit(req('d', [['k', 'x']]))).rejects.toMatchObject({ code: 14, message: /circuit breaker open/ });
    expect(backend.calls).toBe(before);
    // The backoff passes; the next call is the probe, it succeeds and closes the breaker.
    clock.now = 10;
    expect((await deny.shouldRateLimit(req('d', [['k', 'x']]))).overall_code).toBe('OK');
    expect(deny.breakerState).toBe('closed');
  });
});
