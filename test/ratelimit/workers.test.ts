/**
 * `banyan ratelimit --workers N` as shipped (bin/banyan.js from dist/): N processes on one port with
 * shared Redis counters enforce one limit, their metrics are summed by the primary, a worker that
 * dies is replaced, SIGTERM stops every process, and the memory backend is refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type BanyanProcess } from '../support/banyan-process.js';
import { eventually } from '../support/eventually.js';
import { RedisServer } from '../support/redis.js';
import { req, rlsClient } from './helpers.js';

const started: BanyanProcess[] = [];
const pids = (s: BanyanProcess) => [...new Set(s.lines.filter((l) => l.msg === 'rate limit service listening').map((l) => l.pid as number))];
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function start(args: string[]): BanyanProcess {
  const s = startBanyan(['ratelimit', '--port', '0', ...args]);
  started.push(s);
  return s;
}

describe('banyan ratelimit --workers', () => {
  let redis: RedisServer;
  let dir: string;
  beforeAll(async () => {
    redis = await RedisServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-workers-'));
    fs.writeFileSync(path.join(dir, 'edge.yaml'), 'domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 20 }\n');
  }, 60_000);
  afterAll(async () => {
    // The primary and its workers share a process group, which kill() ends.
    await Promise.all(started.map((s) => s.kill()));
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two workers share the port and one limit; metrics are their sum; a killed worker is replaced; SIGTERM stops all', async () => {
    const s = start(['--config', dir, '--redis', redis.url, '--workers', '2', '--metrics-port', '0']);
    const ready = await s.line('rate limit workers listening');
    const metrics = await s.line('rate limit metrics endpoint listening');
    expect(ready.workers).toBe(2);
    const port = ready.port as number;
    const workers = pids(s);
    expect(workers).toHaveLength(2);
    expect(workers).not.toContain(s.child.pid);

    // Many connections (the primary hands each to a worker in turn), 40 hits on one key limited to 20.
    const clients = Array.from({ length: 8 }, () => rlsClient(port, true));
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => clients[i % clients.length].call(req('edge', [['user', 'alice']]))));
      expect(answers.filter((a) => a.overall_code === 'OK')).toHaveLength(20);
      expect(answers.filter((a) => a.overall_code === 'OVER_LIMIT')).toHaveLength(20);
    } finally {
      for (const c of clients) c.close();
    }

    // Both workers decided: each has its own Redis connection, whose last command is a decision's script (EVAL when Redis did not have it yet).
    const admin = new Redis(redis.url);
    try {
      const list = (await admin.client('LIST')) as string;
      expect(list.split('\n').filter((l) => / cmd=eval(sha)? /.test(l)).length).toBe(2);
    } finally {
      admin.disconnect();
    }

    const text = await (await fetch(`http://127.0.0.1:${metrics.port as number}/metrics`)).text();
    expect(text).toMatch(/^banyan_ratelimit_total_hits_total\{key="edge\.user"\} 40$/m);
    expect(text).toMatch(/^banyan_ratelimit_over_limit_total\{key="edge\.user"\} 20$/m);
    // The breaker gauge is the worst worker's, not a sum of states.
    expect(text).toMatch(/^banyan_ratelimit_breaker_state 0$/m);

    process.kill(workers[0], 'SIGKILL');
    await s.line('rate limit worker died; starting another');
    await eventually(() => expect(pids(s).filter(alive)).toHaveLength(2), 30_000);
    const client = rlsClient(port);
    try {
      expect((await client.call(req('edge', [['user', 'bob']]))).overall_code).toBe('OK');
    } finally {
      client.close();
    }

    const live = pids(s).filter(alive);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    await eventually(() => expect(live.filter(alive)).toEqual([]));
  }, 120_000);

  it('more than one worker with the memory backend is refused: each would count alone, serving every limit N times weaker', async () => {
    const s = start(['--config', dir, '--workers', '3']);
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('--workers 3 needs --redis');
    expect(s.output()).toContain('3 times weaker');
  }, 30_000);
});
