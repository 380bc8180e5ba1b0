/**
 * A replica killed mid-rollout (SIGKILL: no clean stop, its fleet record stays until its lease runs
 * out): two `banyan serve` processes of the built binary on one real PostgreSQL, each with one
 * scripted proxy on ADS. Replica A is killed once step 2 is synced; its proxy reconnects to replica
 * B. B carries the rollout on: it waits for A's record to expire (A may still be serving the old
 * weights, for all B knows), then takes every remaining step, each exactly once, in order, and
 * completes.
 *
 * Needs dist/ current (`npm test` runs tsc before vitest; alone: `npx tsc -p tsconfig.json`).
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { DEFAULT_FLEET_TTL_MS } from '../../src/server/fleet.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { createLogger } from '../../src/telemetry/logger.js';
import type { Resp } from '../conformance/harness.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { adminCall, canaryRouteYaml, rolloutAudit, routeWeightsIn, settleInOrder, storedRollout, throwFirstRejection } from '../support/rollout-e2e.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';

const RDS = TypeUrl.RouteConfiguration;
const TOKEN = 'e2e-kill-token';
const STEPS = [10, 25, 50, 75, 100];

const YAML = canaryRouteYaml('checkout', 'checkout-v1', 'checkout-v2');

/** `cluster=weight,…` of the checkout route in a RouteConfiguration response. */
const weightsIn = (r: Resp) => routeWeightsIn(r, 'checkout');

describe('SIGKILL of a replica mid-rollout (two serve processes, PostgreSQL)', () => {
  let pg: PostgresServer | undefined;
  let dir: string | undefined;
  let store: Store | undefined;
  const processes: ServeProcess[] = [];
  const proxies: AdsRecorder[] = [];
  let a: ServeProcess;
  let b: ServeProcess;
  const startedAt = performance.now();

  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase('rollout_replica_kill');
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-e2e-kill-'));
    const config = path.join(dir, 'routes.yaml');
    fs.writeFileSync(config, YAML);
    const common = ['--postgres', url, '--host', '127.0.0.1', '--no-ratelimit', '--no-authz', '--admin-token', TOKEN, '--rollout-poll', '200ms'];
    // A brings the YAML into the store (not watching: the store owns the config); B follows the store alone
    a = await startServeProcess('replica-a', [config, '--no-watch', ...common]);
    processes.push(a);
    b = await startServeProcess('replica-b', common);
    processes.push(b);
    store = await openStore({ postgresUrl: url, logger: createLogger('test', 'silent') });
  }, 120_000);

  afterAll(async () => {
    const results = await settleInOrder([
      ...proxies.map((p) => () => p.close()),
      ...processes.map((p) => () => p.kill()),
      () => store?.close(),
      () => pg?.destroy(),
      () => dir && rm(dir, { recursive: true, force: true }),
    ]);
    process.stderr.write(`rollout-replica-kill.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown\n`);
    throwFirstRejection(results);
  });

  const api = (p: ServeProcess, method: string, route: string, body?: unknown) => adminCall(p.adminPort, TOKEN, method, route, body);
  const stored = (id: string) => storedRollout(store!, id);

  const proxy = (p: ServeProcess, node: string) => {
    const recorder = new AdsRecorder(`127.0.0.1:${p.xdsPort}`, { id: node }, { [RDS]: ['edge'] });
    proxies.push(recorder);
    return recorder;
  };

  it('the other replica carries the rollout on: every step exactly once, in order, and it completes', async () => {
    const onA = proxy(a, 'edge-a');
    const onB = proxy(b, 'edge-b');
    // both replicas publish their proxy, each SYNCED on the YAML's RouteConfiguration
    await eventually(async () => {
      const fleet = await store!.listReplicaStatus(Date.now());
      expect(fleet.map((r) => [r.replica, r.proxies.map((p) => `${p.nodeId}:${p.types.find((t) => t.typeUrl === RDS)?.state}`)])).toEqual([
        ['replica-a', ['edge-a:SYNCED']],
        ['replica-b', ['edge-b:SYNCED']],
      ]);
    }, 15_000);

    const created = await api(a, 'POST', '/api/v1/rollouts', { route: 'checkout', to: 'checkout-v2', steps: STEPS, interval: 1500, author: 'alice' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;

    // step 2 is synced on both proxies (one per replica) and baking: A dies
    const baking = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'running', currentStep: 1, phase: 'baking' });
      return r;
    }, 20_000, 50);
    expect(weightsIn(onA.latest(RDS))).toBe('checkout-v1=75,checkout-v2=25');
    await a.kill();
    const killedAt = Date.now();
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // A's proxy finds the surviving replica (as an Envoy behind a load-balanced xDS address would)
    onA.close();
    const reconnected = proxy(b, 'edge-a');

    // B takes step 3 (the bake ends) and waits: A's record is still leased, saying A serves something else
    await eventually(async () => {
      const view = await api(b, 'GET', `/api/v1/rollouts/${id}`);
      expect(view.body).toMatchObject({ currentStep: 2, phase: 'syncing', state: 'running', proxies: { synced: false } });
      expect(view.body.proxies.detail).toBe('replica replica-a still applying the change');
    }, 10_000, 50);

    const done = await eventually(async () => {
      const r = await stored(id);
      expect(r.state, JSON.stringify({ state: r.state, step: r.currentStep, phase: r.phase, hold: r.hold })).toBe('completed');
      return r;
    }, 40_000, 100);

    // every step once, in order: none skipped, none repeated
    const audit = (await rolloutAudit(store!, id, { limit: 1000 })).reverse();
    expect(audit.map((e) => `${e.action}:${e.details.step}`)).toEqual([
      'rollout.start:1',
      'rollout.synced:1',
      'rollout.step:2',
      'rollout.synced:2',
      'rollout.step:3',
      'rollout.synced:3',
      'rollout.step:4',
      'rollout.synced:4',
      'rollout.step:5',
      'rollout.complete:5',
    ]);
    expect(audit.map((e) => e.details.percent)).toEqual([10, 10, 25, 25, 50, 50, 75, 75, 100, 100]);
    for (const e of audit.filter((x) => x.action === 'rollout.synced' || x.action === 'rollout.complete')) expect(e.details.accepted, `${e.action}:${e.details.step}`).toBe(2);
    expect(done.log!.map((s) => [s.percent, s.outcome])).toEqual(STEPS.map((p) => [p, 'passed']));
    // everything from step 3 on was decided after A was gone
    const step3 = audit.find((e) => e.action === 'rollout.step' && e.details.step === 3)!;
    expect(step3.at).toBeGreaterThan(killedAt);
    expect(baking.log![1].syncedAt).toBeLessThan(killedAt);

    // the gate waited for A's lease, not forever: step 3 synced once A's record expired
    const synced3 = audit.find((e) => e.action === 'rollout.synced' && e.details.step === 3)!;
    process.stderr.write(`step 3 synced ${synced3.at - killedAt} ms after the kill (lease ${DEFAULT_FLEET_TTL_MS} ms)\n`);
    expect(synced3.at - killedAt).toBeLessThanOrEqual(DEFAULT_FLEET_TTL_MS + 3_000);
    expect((await store!.listReplicaStatus(Date.now())).map((r) => r.replica)).toEqual(['replica-b']);

    // both proxies, now on B, run the final weights
    await eventually(() => {
      expect(weightsIn(onB.latest(RDS))).toBe('checkout-v1=0,checkout-v2=100');
      expect(weightsIn(reconnected.latest(RDS))).toBe('checkout-v1=0,checkout-v2=100');
    }, 5_000);
    expect((await store!.getOverride('checkout'))?.backends).toEqual([
      { cluster: 'checkout-v1', weight: 0 },
      { cluster: 'checkout-v2', weight: 100 },
    ]);
    // B never stopped
    expect(b.child.exitCode).toBeNull();
  });
});
