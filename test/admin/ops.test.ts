import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyStatus } from '../../src/xds/status.js';
import { eventually } from '../support/eventually.js';
import { routesYaml, startHarness, type Harness } from './harness.js';

const author = 'alice@laptop';
/** The audit's actor: the token's name (the harness's single token is `admin`), with the client's claim beside it. */
const actor = `admin (as ${author})`;

describe('ops admin API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const checkoutWeights = async () => {
    const { body } = await h.call('GET', '/api/v1/routes');
    return body.routes.find((r: { ref: string }) => r.ref === 'checkout');
  };

  it('lists routes with effective and YAML weights', async () => {
    const r = await checkoutWeights();
    expect(r.backends).toEqual([
      { cluster: 'monolith', weight: 90 },
      { cluster: 'checkout-v2', weight: 10 },
    ]);
    expect(r.percent).toEqual({ monolith: 90, 'checkout-v2': 10 });
    expect(r.override).toBeNull();
    expect(r.rollout).toBeNull();
  });

  it('sets, shows and clears a weight override; the served snapshot follows', async () => {
    const put = await h.call('PUT', '/api/v1/routes/checkout/weights', {
      backends: [
        { cluster: 'monolith', weight: 40 },
        { cluster: 'checkout-v2', weight: 60 },
      ],
      author,
      reason: 'v2 healthy',
    });
    expect(put.status).toBe(200);
    expect(put.body.percent).toEqual({ monolith: 40, 'checkout-v2': 60 });
    const r = await checkoutWeights();
    expect(r.percent).toEqual({ monolith: 40, 'checkout-v2': 60 });
    expect(r.yamlBackends[0]).toEqual({ cluster: 'monolith', weight: 90 });
    expect(r.override).toMatchObject({ author: actor, reason: 'v2 healthy' });
    expect(routeWeights(h)).toEqual([40, 60]);

    const del = await h.call('DELETE', '/api/v1/routes/checkout/weights', { author, reason: 'done' });
    expect(del.body).toEqual({ route: 'checkout', cleared: true });
    expect((await checkoutWeights()).override).toBeNull();
    expect(routeWeights(h)).toEqual([90, 10]);
  });

  it('rejects bad weight changes with a clear status and message, changing nothing', async () => {
    const before = await h.store.listAudit();
    const put = (route: string, backends: unknown, token?: string | null) =>
      h.call('PUT', `/api/v1/routes/${route}/weights`, { backends, author }, token);
    const ok = [{ cluster: 'monolith', weight: 50 }, { cluster: 'checkout-v2', weight: 50 }];

    let res = await put('chekout', ok);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("unknown route 'chekout'; did you mean 'checkout'?");

    res = await put('checkout', [{ cluster: 'monolith', weight: 50 }, { cluster: 'checkout-v3', weight: 50 }]);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/unknown backend 'checkout-v3'.*did you mean 'checkout-v2'/);

    res = await put('checkout', [{ cluster: 'monolith', weight: 50 }, { cluster: 'checkout-v2', weight: 40 }]);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/percentages sum to 90, not 100/);

    res = await put('checkout', ok, null);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/missing bearer token/);
    res = await put('checkout', ok, 'wrong');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid token');

    res = await h.call('PUT', '/api/v1/routes/checkout/weights', '{"backends": [', );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/not valid JSON/);

    res = await h.call('PUT', '/api/v1/routes/checkout/weights', { backends: ok });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/author/);

    expect(await h.store.listAudit()).toEqual(before);
    expect(await h.store.listOverrides()).toEqual([]);
  });

  it('validates, diffs and applies a candidate; rejects invalid ones with file:line:col', async () => {
    const good = [{ file: 'routes.yaml', text: routesYaml(50, 50, true) }];
    const bad = [{ file: 'routes.yaml', text: routesYaml().replace('cluster: checkout-v2, weight', 'cluster: nope, weight') }];

    const v = await h.call('POST', '/api/v1/config/validate', { files: bad });
    expect(v.status).toBe(200);
    expect(v.body.valid).toBe(false);
    expect(v.body.messages.join('\n')).toMatch(/^routes\.yaml:\d+:\d+: error: .*nope/m);

    const d = await h.call('POST', '/api/v1/config/diff', { files: good });
    expect(d.status).toBe(200);
    expect(d.body.diff.summary).toBe('1 route changed, 1 cluster added; checkout: monolith 90→50, checkout-v2 10→50');
    const dx = await h.call('POST', '/api/v1/config/diff', { files: good, level: 'xds' });
    expect(dx.body.diff.groups[0].types.map((t: { type: string }) => t.type)).toContain('RouteConfiguration');

    const rejected = await h.call('POST', '/api/v1/config/apply', { files: bad, author, message: 'oops' });
    expect(rejected.status).toBe(400);
    expect(rejected.body.error).toMatch(/^config rejected: 1 error/);
    expect(rejected.body.details[0]).toMatch(/^routes\.yaml:\d+:\d+: error:/);

    const applied = await h.call('POST', '/api/v1/config/apply', { files: good, author, message: 'half to v2' });
    expect(applied.status).toBe(200);
    expect(applied.body.version.version).toBe(2);
    expect(applied.body.summary).toMatch(/checkout: monolith 90→50/);
    expect(routeWeights(h)).toEqual([50, 50]);

    const again = await h.call('POST', '/api/v1/config/apply', { files: good, author, message: 'same' });
    expect(again.body.unchanged).toBe(true);

    // An override on a route whose YAML backends the new version changes is cleared, with a warning.
    const override = { backends: [{ cluster: 'monolith', weight: 70 }, { cluster: 'checkout-v2', weight: 30 }], author };
    expect((await h.call('PUT', '/api/v1/routes/checkout/weights', override)).status).toBe(200);
    const edited = [{ file: 'routes.yaml', text: routesYaml(60, 40, true) }];
    const preview = await h.call('POST', '/api/v1/config/diff', { files: edited });
    expect(preview.body.staleOverrides).toEqual([expect.stringMatching(/override on route 'checkout' is stale/)]);
    const third = await h.call('POST', '/api/v1/config/apply', { files: edited, author, message: 'yaml edit' });
    // Apply reports what serve would: compile warnings too (validate ≡ serve), then the cleared override.
    expect(third.body.warnings).toEqual([expect.stringMatching(/cluster "search-v2" is not used/), expect.stringMatching(/override on route 'checkout' is stale/)]);
    expect(routeWeights(h)).toEqual([60, 40]);
    await eventually(async () => expect(await h.store.listOverrides()).toEqual([]));
    const back = await h.call('POST', '/api/v1/config/apply', { files: good, author, message: 'half to v2' });
    expect(back.body.version.version).toBe(4);
  });

  it('lists history with summaries, diffs versions, rolls back as a new version, and audits it all', async () => {
    const hist = await h.call('GET', '/api/v1/history');
    expect(hist.body.versions.map((v: { version: number }) => v.version)).toEqual([4, 3, 2, 1]);
    expect(hist.body.versions[0]).toMatchObject({ author: actor, message: 'half to v2', live: true });
    expect(hist.body.versions[0].summary).toBe('1 route changed; checkout: monolith 60→50, checkout-v2 40→50');
    expect(hist.body.versions[3].summary).toMatch(/^2 routes added/);

    const diff = await h.call('GET', '/api/v1/diff?from=1&to=2');
    expect(diff.body.diff.routes.changed[0].weights).toEqual([
      { cluster: 'monolith', before: 90, after: 50 },
      { cluster: 'checkout-v2', before: 10, after: 50 },
    ]);
    expect((await h.call('GET', '/api/v1/diff?from=1&to=9')).status).toBe(404);
    expect((await h.call('GET', '/api/v1/diff?from=x&to=2')).status).toBe(400);

    const one = await h.call('GET', '/api/v1/history/2');
    expect(one.body.content[0].file).toBe('routes.yaml');

    const missing = await h.call('POST', '/api/v1/rollback', { version: 42, author });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('no config version 42 (versions are 1..4)');

    const rb = await h.call('POST', '/api/v1/rollback', { version: 1, author, message: 'back' });
    expect(rb.status).toBe(200);
    expect(rb.body.version.version).toBe(5);
    expect(routeWeights(h)).toEqual([90, 10]);

    const audit = await h.call('GET', '/api/v1/audit');
    const actions = audit.body.entries.map((e: { action: string }) => e.action);
    expect(actions[0]).toBe('config.rollback');
    expect(actions).toContain('config.apply');
    expect(actions).toContain('override.set');
  });
});

/** Weights of the checkout route's weighted_clusters in the served RouteConfiguration. */
function routeWeights(h: Harness): number[] {
  const rds = h.pipeline.current!.snapshot.groups.get('default')!.get('type.googleapis.com/envoy.config.route.v3.RouteConfiguration' as never)!;
  for (const rc of rds.values()) {
    for (const vh of (rc as any).virtual_hosts) {
      for (const r of vh.routes) {
        if (r.name === 'checkout') return r.route.weighted_clusters.clusters.map((c: { weight: { value: number } }) => c.weight.value);
      }
    }
  }
  throw new Error('checkout route not found');
}

describe('rollout admin API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('starts a rollout, refuses a second one and hand shifts on the busy route, and aborts back to the start', async () => {
    const start = { route: 'checkout', to: 'checkout-v2', steps: [20, 50, 100], interval: '1h', author };
    const res = await h.call('POST', '/api/v1/rollouts', start);
    expect(res.status).toBe(200);
    const id = res.body.id;
    expect(res.body).toMatchObject({ state: 'running', percent: 20, currentStep: 0, percentages: { monolith: 80, 'checkout-v2': 20 } });
    expect(res.body.nextStepInMs).toBeGreaterThan(3_500_000);
    await eventually(() => expect(routeWeights(h)).toEqual([80, 20]));

    const second = await h.call('POST', '/api/v1/rollouts', start);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(/already has an active rollout/);
    const shift = await h.call('PUT', '/api/v1/routes/checkout/weights', { backends: [{ cluster: 'monolith', weight: 100 }], author });
    expect(shift.status).toBe(409);

    const byRoute = await h.call('GET', '/api/v1/rollouts/checkout');
    expect(byRoute.body.id).toBe(id);
    expect(byRoute.body.proxies).toEqual({ weightsServed: true, synced: true, accepted: [], pending: [] });

    // Only proxies that receive the route's RouteConfiguration (`edge`) count towards progress.
    const rds = (subscribed: string[], state: 'SYNCED' | 'STALE' | 'NACKED') => ({
      typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', state, subscribed,
      ...(state === 'NACKED' ? { lastNack: { version: 'v2', nonce: '3', message: 'bad route', at: '' } } : {}),
    });
    const proxy = (nodeId: string, group: string, types: ReturnType<typeof rds>[]) =>
      ({ streamId: nodeId, nodeId, nodeCluster: group, group, kind: 'ads-sotw', service: 'ads', peer: '', connectedSince: '', types }) as unknown as ProxyStatus;
    h.proxies.push(
      proxy('synced', 'default', [rds(['edge'], 'SYNCED')]),
      proxy('behind', 'default', [rds(['edge'], 'STALE')]),
      proxy('rejected', 'default', [rds(['edge'], 'NACKED')]),
      proxy('other-route-config', 'default', [rds(['orders'], 'SYNCED')]),
      proxy('other-group', 'no-such-group', [rds(['edge'], 'STALE')]),
      proxy('no-rds', 'default', []),
    );
    const progress = (await h.call('GET', '/api/v1/rollouts/checkout')).body.proxies;
    expect(progress).toEqual({
      weightsServed: true,
      synced: false,
      accepted: ['synced'],
      pending: [
        { nodeId: 'behind', replica: 'local', state: 'STALE' },
        { nodeId: 'rejected', replica: 'local', state: 'NACKED', error: 'bad route' },
      ],
    });
    h.proxies.length = 0;

    const paused = await h.call('POST', `/api/v1/rollouts/${id}/pause`, { author });
    expect(paused.body.state).toBe('paused');
    const promoted = await h.call('POST', `/api/v1/rollouts/${id}/promote`, { author });
    expect(promoted.body).toMatchObject({ state: 'paused', percent: 50 });
    await eventually(() => expect(routeWeights(h)).toEqual([50, 50]));

    const aborted = await h.call('POST', `/api/v1/rollouts/${id}/abort`, { author });
    expect(aborted.body.state).toBe('aborted');
    await eventually(() => expect(routeWeights(h)).toEqual([90, 10]));
    expect(await h.store.listOverrides()).toEqual([]);

    const again = await h.call('POST', `/api/v1/rollouts/${id}/resume`, { author });
    expect(again.status).toBe(409);
    const list = await h.call('GET', '/api/v1/rollouts?route=checkout');
    expect(list.body.rollouts.map((r: { id: string }) => r.id)).toEqual([id]);
    const actions = (await h.store.listAudit()).map((e) => e.action).filter((a) => a.startsWith('rollout.'));
    expect(actions.reverse()).toEqual(['rollout.start', 'rollout.synced', 'rollout.pause', 'rollout.promote', 'rollout.abort']);
  });

  it('rejects bad rollout requests clearly', async () => {
    const bad = async (body: object, status: number, message: RegExp) => {
      const res = await h.call('POST', '/api/v1/rollouts', { route: 'checkout', to: 'checkout-v2', interval: '1m', author, ...body });
      expect(res.status).toBe(status);
      expect(res.body.error).toMatch(message);
    };
    await bad({ route: 'chekout', steps: [50] }, 404, /unknown route 'chekout'; did you mean 'checkout'/);
    await bad({ to: 'v3', steps: [50] }, 400, /unknown backend 'v3'/);
    await bad({ steps: [50, 20] }, 400, /steps must increase/);
    await bad({}, 400, /give either steps or step/);
    await bad({ steps: [50], interval: 'soon' }, 400, /not a duration/);
    expect((await h.call('POST', '/api/v1/rollouts/nope/pause', { author })).status).toBe(404);
    expect((await h.call('POST', '/api/v1/rollouts', { route: 'checkout', to: 'checkout-v2', steps: [5], interval: '1m', author }, 'bad')).status).toBe(401);
    expect(await h.store.activeRollouts()).toEqual([]);
  });
});
