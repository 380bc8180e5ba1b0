/**
 * The runner's observations wired to the machine: the sync gate (NACK holds, ACK lifts), analysis
 * (a failing canary rolls back with the numbers in the audit), gates and the outbox. The sync gate
 * and the metric source are plain functions here, fed scripted facts; the real ones (fleet status,
 * LRS, Prometheus) have their own tests and the e2e suite drives the whole path.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SyncReport } from '../../src/rollout/machine.js';
import type { MetricQuery, MetricSource } from '../../src/rollout/analysis/source.js';
import { RolloutRunner } from '../../src/rollout/runner.js';
import { verifySignature } from '../../src/rollout/webhooks.js';
import { webhookClient } from '../../src/server/rollout-deps.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from './fake-clock.js';
import { sampleConfig } from './fixtures.js';

const I = 60_000;
const config = sampleConfig();
const log = createLogger('test', 'silent');

/** Success rate per cluster, set by the test: what LRS would have reported. */
class ScriptedSource implements MetricSource {
  rates = new Map<string, number>();
  queries: MetricQuery[] = [];
  async measure(q: MetricQuery) {
    this.queries.push(q);
    const rate = this.rates.get(q.clusters.join('|'));
    return rate === undefined ? { value: null, samples: 0 } : { value: rate, samples: 1000 };
  }
}

describe('RolloutRunner with gates (embedded store, fake clock)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function store() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-gated-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const s = await EmbeddedStore.open({ dir });
    cleanups.push(() => s.close());
    return s;
  }

  it('holds a step while a proxy NACKs, with its error, and goes on once every proxy ACKs', async () => {
    const s = await store();
    const clock = new FakeClock();
    let sync: SyncReport = { synced: false, accepted: ['edge-1'], pending: [{ nodeId: 'edge-bad', state: 'NACKED', error: 'route: bad weight' }], nacks: [{ nodeId: 'edge-bad', replica: 'r2', error: 'route: bad weight' }] };
    const runner = new RolloutRunner({ store: s, clock, logger: log, sync: async () => sync, pollMs: 1000 });
    cleanups.push(() => runner.stop());
    await runner.start();
    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v2', steps: [95, 100], intervalMs: I, actor: 'alice' });
    const held = await s.getRollout(r.id);
    expect(held).toMatchObject({ state: 'paused', phase: 'syncing', hold: { kind: 'nack', auto: true } });
    expect(held?.hold?.message).toBe('1 proxy rejected step 1 (95%): edge-bad on r2: route: bad weight');
    // polling while it NACKs writes nothing new
    clock.advance(5000);
    await runner.runDue();
    expect((await s.getRollout(r.id))?.revision).toBe(held?.revision);
    sync = { synced: true, accepted: ['edge-1', 'edge-bad'], pending: [], nacks: [] };
    clock.advance(1000);
    await runner.runDue();
    expect(await s.getRollout(r.id)).toMatchObject({ state: 'running', phase: 'baking', hold: null, nextStepAt: clock.now() + I });
    const audit = (await s.listAudit()).reverse().map((e) => e.action);
    expect(audit.filter((a) => a.startsWith('rollout.'))).toEqual(['rollout.start', 'rollout.hold', 'rollout.synced']);
  });

  it('rolls back to the starting weights when the canary fails analysis twice, with the numbers in the audit', async () => {
    const s = await store();
    const clock = new FakeClock();
    const metrics = new ScriptedSource();
    metrics.rates.set('auth-v3', 99.9);
    const runner = new RolloutRunner({ store: s, clock, logger: log, metrics: { banyan: metrics }, analysisSettleMs: 0 });
    cleanups.push(() => runner.stop());
    await runner.start();
    const analysis = { checks: [{ name: 'success-rate ≥ 99%', metric: 'success-rate' as const, min: 99, source: 'banyan' as const }], intervalMs: I / 2, failureLimit: 2, onFailure: 'rollback' as const };
    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v3', steps: [10, 50, 100], intervalMs: I, actor: 'alice', analysis });
    clock.advance(I / 2);
    await runner.runDue();
    clock.advance(I / 2);
    await runner.runDue();
    expect((await s.getRollout(r.id))?.percent).toBe(50);
    // the window of a run never reaches back before its step was synced
    const stepAt = (await s.getRollout(r.id))!.log![1].syncedAt!;
    metrics.rates.set('auth-v3', 70);
    clock.advance(I / 2);
    await runner.runDue();
    expect(metrics.queries.at(-1)?.window).toEqual({ from: stepAt, to: clock.now() });
    expect((await s.getRollout(r.id))?.state).toBe('running');
    clock.advance(I / 2);
    await runner.runDue();
    const done = await s.getRollout(r.id);
    expect(done).toMatchObject({ state: 'rolled-back' });
    expect(await s.getOverride('auth-login')).toBeUndefined(); // the YAML weights it started from
    const entry = (await s.listAudit()).find((e) => e.action === 'rollout.rollback');
    expect(entry?.details).toMatchObject({ percent: 50, failures: 2, results: [{ check: 'success-rate ≥ 99%', value: 70, passed: false, samples: 1000 }] });
    expect(String(entry?.details.reason)).toContain('success-rate ≥ 99%: 70 (needs ≥ 99%)');
  });

  it('asks a gate before each later step, holds until it answers 2xx, and sends a signed rollback once', async () => {
    const s = await store();
    const clock = new FakeClock();
    let approve = false;
    const received: { event: string; id: string; signed: boolean }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/gate') {
          res.writeHead(approve ? 200 : 423).end(approve ? 'ok' : 'not yet');
          return;
        }
        received.push({ event: String(req.headers['x-banyan-event']), id: String(req.headers['x-banyan-delivery']), signed: verifySignature('s3cret', req.headers, body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const runner = new RolloutRunner({ store: s, clock, logger: log, webhooks: webhookClient(log, { HOOK_SECRET: 's3cret' }) });
    cleanups.push(() => runner.stop());
    await runner.start();
    const webhooks = [
      { name: 'approve', url: `${base}/gate`, events: ['pre-step' as const], gate: true, timeoutMs: 2000, retries: 0 },
      { name: 'ops', url: `${base}/notify`, events: ['rollback' as const], gate: false, secretEnv: 'HOOK_SECRET', timeoutMs: 2000, retries: 2 },
    ];
    const r = await runner.startRollout({ config, route: 'auth-login', to: 'auth-v3', steps: [10, 50, 100], intervalMs: I, actor: 'alice', webhooks });
    clock.advance(I);
    await runner.runDue();
    expect(await s.getRollout(r.id)).toMatchObject({ state: 'paused', percent: 10, hold: { kind: 'gate', message: 'waiting for gate before step 2: gate approve closed: HTTP 423: not yet' } });
    approve = true;
    clock.advance(1000);
    await runner.runDue();
    expect((await s.getRollout(r.id))?.percent).toBe(50);
    await runner.abort(r.id, 'bob');
    await runner.runDue();
    await runner.runDue();
    expect(received).toEqual([{ event: 'rollback', id: `${r.id}:rollback:2:ops`, signed: true }]);
    expect((await s.getRollout(r.id))?.outbox).toEqual([]);
  });
});
