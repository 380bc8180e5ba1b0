/** ServiceStack: how a process stops what it started. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ServiceStack } from '../../src/service/stack.js';

function capture() {
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  return { logs, logger };
}

describe('ServiceStack', () => {
  it('stops in reverse order of start and logs one "stopped" line naming the parts', async () => {
    const { logs, logger } = capture();
    const order: string[] = [];
    const stack = new ServiceStack(logger);
    for (const name of ['store', 'server', 'watcher']) stack.add(name, async () => void order.push(name));
    const report = await stack.stop();
    expect(order).toEqual(['watcher', 'server', 'store']);
    expect(report).toMatchObject({ stopped: ['watcher', 'server', 'store'], failed: [], timedOut: [], clean: true });
    expect(logs.filter((l) => l.msg === 'stopped')).toEqual([expect.objectContaining({ level: 30, stopped: ['watcher', 'server', 'store'] })]);
  });

  it('a part that fails or hangs past the deadline does not keep the others from stopping', async () => {
    const { logs, logger } = capture();
    const stack = new ServiceStack(logger, 200);
    const order: string[] = [];
    stack.add('store', () => void order.push('store'));
    stack.add('stuck stream', () => new Promise(() => undefined));
    stack.add('broken', () => {
      throw new Error('boom');
    });
    const started = Date.now();
    const report = await stack.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report).toMatchObject({ stopped: ['store'], failed: ['broken'], timedOut: ['stuck stream'], clean: false });
    expect(order).toEqual(['store']);
    expect(logs.find((l) => l.msg === 'stopping broken failed')).toBeDefined();
    expect(logs.at(-1)).toMatchObject({ level: 40, msg: 'stopped', failed: ['broken'], timedOut: ['stuck stream'] });
  });

  it('stop() twice (a second signal) stops once', async () => {
    let calls = 0;
    const stack = new ServiceStack();
    stack.add('server', async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
    });
    const [a, b] = await Promise.all([stack.stop(), stack.stop()]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
    expect(() => stack.add('late', () => undefined)).toThrow(/stopping/);
  });
});
