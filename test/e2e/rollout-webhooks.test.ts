/**
 * Issue 10, end to end: a gated rollout on two `banyan serve` replicas sharing one real PostgreSQL,
 * each with one scripted proxy on ADS that ACKs every RouteConfiguration, and a real HTTP receiver for
 * the webhooks. The rollout is started through replica A's admin API and aborted through replica B's;
 * the pre-step gate holds step 2 until it answers 2xx, and the signed rollback notification reaches
 * the receiver exactly once although both replicas' runners deliver outboxes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { verifySignature } from '../../src/rollout/webhooks.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { servedWeights } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { adminCall, canaryRouteYaml, PostgresReplicaPair, routeWeightsIn, settleInOrder, storedRollout, throwFirstRejection } from '../support/rollout-e2e.js';

const RDS = TypeUrl.RouteConfiguration;
const TOKEN = 'e2e-admin-token';
const ROUTE = 'checkout';
/** Unique to this file: the secret reaches Banyan only through its environment, as in production. */
const SECRET_ENV = 'BANYAN_E2E_ROLLBACK_HOOK_SECRET';
const SECRET = randomBytes(16).toString('hex');

const YAML = canaryRouteYaml(ROUTE, 'checkout-v1', 'checkout-v2');

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { id?: string; event?: string; rollout?: Record<string, unknown> };
}

/** `cluster=weight,…` of the route in the newest RouteConfiguration a proxy received. */
const proxyWeights = (p: AdsRecorder) => routeWeightsIn(p.latest(RDS), ROUTE);

describe('gated rollout with a rollback webhook across two replicas (PostgreSQL, ADS proxies, real receiver)', () => {
  const pair = new PostgresReplicaPair();
  let receiver: http.Server | undefined;
  let hooks = '';
  const received: Received[] = [];
  /** Steps the gate approves (the `step` of its request); every other ask is answered 423. */
  const approved = new Set<number>();
  const replicas = pair.replicas;
  const proxies: AdsRecorder[] = [];
  let a: RunningBanyan;
  let b: RunningBanyan;
  const startedAt = performance.now();

  beforeAll(async () => {
    process.env[SECRET_ENV] = SECRET;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Received['json'] = {};
        try {
          json = JSON.parse(body) as Received['json'];
        } catch {
          // recorded as is: an assertion on its fields fails
        }
        received.push({ path: req.url ?? '', headers: req.headers, body, json });
        if (req.url === '/gate') {
          const open = approved.has(Number(json.rollout?.step));
          res.writeHead(open ? 200 : 423, { 'Content-Type': 'text/plain' }).end(open ? 'go' : 'not yet: change freeze');
          return;
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
    hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

    [a, b] = await pair.start({
      database: 'rollout_webhooks',
      tmpPrefix: 'banyan-e2e-hooks-',
      yaml: YAML,
      serve: { adminToken: TOKEN, fleetIntervalMs: 200, rolloutPollMs: 200 },
    });
    for (const [r, node] of [
      [a, 'edge-a'],
      [b, 'edge-b'],
    ] as const) {
      proxies.push(new AdsRecorder(`127.0.0.1:${r.ports.xds}`, { id: node }, { [RDS]: ['edge'] }));
    }
  });

  afterAll(async () => {
    const results = await settleInOrder([
      ...proxies.map((p) => () => p.close()),
      ...pair.stopSteps(),
      () =>
        receiver &&
        new Promise<void>((resolve) => {
          receiver!.closeAllConnections();
          receiver!.close(() => resolve());
        }),
    ]);
    delete process.env[SECRET_ENV];
    process.stderr.write(`rollout-webhooks.test.ts: ${Math.round(performance.now() - startedAt)} ms from start to teardown\n`);
    throwFirstRejection(results);
  });

  const api = (r: RunningBanyan, method: string, p: string, body?: unknown) => adminCall(r.ports.admin, TOKEN, method, p, body);

  /** What the route sends on both replicas and on both proxies: the same `cluster=weight,…` everywhere. */
  async function everywhere(weights: string): Promise<void> {
    await eventually(() => {
      expect(replicas.map((r) => servedWeights(r, ROUTE))).toEqual([weights, weights]);
      expect(proxies.map((p) => proxyWeights(p))).toEqual([weights, weights]);
    }, 10_000);
  }

  const stored = (id: string) => storedRollout(a.store, id);
  const gateAsks = () => received.filter((x) => x.path === '/gate');
  const notifications = () => received.filter((x) => x.path === '/notify');

  it('holds step 2 while the gate answers 423, applies it once the gate answers 200, and sends one signed rollback on abort', async () => {
    // the starting point is an override, so that "restored" means put back, not merely cleared
    const start = await api(a, 'PUT', `/api/v1/routes/${ROUTE}/weights`, {
      backends: [
        { cluster: 'checkout-v1', weight: 95 },
        { cluster: 'checkout-v2', weight: 5 },
      ],
      author: 'e2e',
      reason: 'warm-up',
    });
    expect(start.status).toBe(200);
    await everywhere('checkout-v1=95,checkout-v2=5');

    const created = await api(a, 'POST', '/api/v1/rollouts', {
      route: ROUTE,
      to: 'checkout-v2',
      steps: [10, 50, 100],
      interval: 1000,
      author: 'alice',
      webhooks: [
        { name: 'approve', url: `${hooks}/gate`, gate: true, timeoutMs: 2000 },
        { name: 'ops', url: `${hooks}/notify`, events: ['rollback'], secretEnv: SECRET_ENV, timeoutMs: 2000, retries: 2 },
      ],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ route: ROUTE, toBackend: 'checkout-v2', percent: 10, state: 'running' });

    // step 1 reaches both proxies (one per replica), bakes a second, then the gate is asked and says 423
    const held = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'paused', percent: 10, currentStep: 0, phase: 'gating', hold: { kind: 'gate', auto: true } });
      return r;
    }, 15_000);
    expect(held.hold?.message).toBe('waiting for gate before step 2: gate approve closed: HTTP 423: not yet: change freeze');
    expect((await a.store.getOverride(ROUTE))?.backends).toEqual([
      { cluster: 'checkout-v1', weight: 90 },
      { cluster: 'checkout-v2', weight: 10 },
    ]);
    await everywhere('checkout-v1=90,checkout-v2=10');
    // the step counted as synced only once both replicas' proxies had ACKed it
    const synced = (await a.store.listAudit({ limit: 200 })).find((e) => e.action === 'rollout.synced' && e.details.step === 1);
    expect(synced?.details).toMatchObject({ percent: 10, accepted: 2 });
    // the gate was asked about step 2 (50%) while 10% is served
    expect(gateAsks()[0].json).toMatchObject({ event: 'pre-step', rollout: { rollout: id, route: ROUTE, step: 2, percent: 50, current: 10 } });

    // it keeps asking while it answers 423, and the step stays held
    const asked = gateAsks().length;
    await eventually(() => expect(gateAsks().length).toBeGreaterThanOrEqual(asked + 2), 10_000);
    expect(await stored(id)).toMatchObject({ state: 'paused', percent: 10, hold: { kind: 'gate' } });
    expect((await a.store.getOverride(ROUTE))?.backends.map((w) => w.weight)).toEqual([90, 10]);

    // the gate opens for step 2 (only): step 2 applies, and the next ask (step 3) is held again
    approved.add(2);
    await eventually(async () => expect(await stored(id)).toMatchObject({ percent: 50, currentStep: 1 }), 10_000);
    expect((await a.store.getOverride(ROUTE))?.backends).toEqual([
      { cluster: 'checkout-v1', weight: 50 },
      { cluster: 'checkout-v2', weight: 50 },
    ]);
    await everywhere('checkout-v1=50,checkout-v2=50');
    const step3 = await eventually(async () => {
      const r = await stored(id);
      expect(r).toMatchObject({ state: 'paused', percent: 50, hold: { kind: 'gate' } });
      return r;
    }, 15_000);
    expect(step3.hold?.message).toBe('waiting for gate before step 3: gate approve closed: HTTP 423: not yet: change freeze');
    expect(notifications()).toEqual([]);

    // abort through the other replica
    const aborted = await api(b, 'POST', `/api/v1/rollouts/${id}/abort`, { author: 'bob' });
    expect(aborted.status, JSON.stringify(aborted.body)).toBe(200);
    expect(aborted.body.state).toBe('aborted');

    // delivered: the outbox is empty; then both runners complete a pass that began after that, so a
    // second delivery by either replica would have arrived by now
    await eventually(async () => expect((await stored(id)).outbox).toEqual([]), 15_000);
    await Promise.all([a.runner.runDue(), b.runner.runDue()]);

    const rollbacks = notifications();
    expect(rollbacks.map((n) => n.headers['x-banyan-event'])).toEqual(['rollback']);
    const [hook] = rollbacks;
    const delivery = `${id}:rollback:2:ops`;
    expect(hook.headers['x-banyan-delivery']).toBe(delivery);
    expect(verifySignature(SECRET, hook.headers, hook.body)).toBe(true);
    expect(verifySignature('not-the-secret', hook.headers, hook.body)).toBe(false);
    expect(hook.json).toMatchObject({ id: delivery, event: 'rollback', rollout: { rollout: id, route: ROUTE, to: 'checkout-v2', reason: 'aborted by an operator' } });
    // one replica claimed it, once, and recorded the delivery
    const audit = await a.store.listAudit({ limit: 500 });
    const claims = audit.filter((e) => e.action === 'rollout.webhook-claim' && e.details.delivery === delivery);
    expect(claims).toHaveLength(1);
    expect(['replica-a', 'replica-b']).toContain(claims[0].details.replica);
    const deliveries = audit.filter((e) => (e.action === 'rollout.webhook' || e.action === 'rollout.webhook-failed') && e.details.delivery === delivery);
    expect(deliveries.map((e) => [e.action, e.details.status, e.details.attempts])).toEqual([['rollout.webhook', 204, 1]]);

    // the starting override is back, on both replicas and both proxies
    expect(await a.store.getOverride(ROUTE)).toMatchObject({
      backends: [
        { cluster: 'checkout-v1', weight: 95 },
        { cluster: 'checkout-v2', weight: 5 },
      ],
      author: 'admin (as e2e)',
      reason: 'warm-up',
    });
    await everywhere('checkout-v1=95,checkout-v2=5');
    expect(await stored(id)).toMatchObject({ state: 'aborted', outbox: [] });
  });
});
