/**
 * banyan_route_cluster_weight{route,cluster} follows a weight shift and a rollout step;
 * banyan_rollout_step/_steps/_target_percent/_state describe an active rollout and are gone once it
 * ends. A real `banyan serve` (in process) on the embedded store.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import { routesYaml } from '../cli/config.yaml.js';
import { eventually } from '../support/eventually.js';

let dir: string;
let b: RunningBanyan | undefined;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-route-gauges-'));
  await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
  b = await startBanyan(loopbackServe('route-gauges', {
    config: path.join(dir, 'routes.yaml'),
    dataDir: path.join(dir, 'data'),
    configOwner: 'store',
    rolloutPollMs: 50,
  }));
});
afterAll(async () => {
  await b?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function series(name: string): Promise<Record<string, string | number>[]> {
  const m = await b!.registry.getSingleMetric(name)!.get();
  return m.values.map((v) => ({ ...v.labels, value: v.value })).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
}
const weights = async (route: string) => (await series('banyan_route_cluster_weight')).filter((s) => s.route === route);

describe('route weight and rollout gauges', () => {
  it('follow a shift, a rollout step and the rollout ending', async () => {
    expect(await weights('checkout')).toEqual([
      { route: 'checkout', cluster: 'checkout-v2', value: 10 },
      { route: 'checkout', cluster: 'monolith', value: 90 },
    ]);
    // a route to one cluster (`to: monolith`) carries that cluster's weight as the model holds it
    expect(await weights('rest')).toEqual([{ route: 'rest', cluster: 'monolith', value: 1 }]);
    expect(await series('banyan_rollout_step')).toEqual([]);

    await b!.control.setWeights('checkout', [{ cluster: 'monolith', weight: 40 }, { cluster: 'checkout-v2', weight: 60 }], { author: 'test', reason: 'shift' });
    await eventually(async () =>
      expect(await weights('checkout')).toEqual([
        { route: 'checkout', cluster: 'checkout-v2', value: 60 },
        { route: 'checkout', cluster: 'monolith', value: 40 },
      ]),
    );

    const r = await b!.runner.startRollout({ config: b!.pipeline.served().base, route: 'search', to: 'search-v2', steps: [10, 50], intervalMs: 3_600_000, actor: 'test' });
    await eventually(async () =>
      expect(await weights('search')).toEqual([
        { route: 'search', cluster: 'monolith', value: 90 },
        { route: 'search', cluster: 'search-v2', value: 10 },
      ]),
    );
    expect(await series('banyan_rollout_step')).toEqual([{ route: 'search', rollout: r.id, value: 1 }]);
    expect(await series('banyan_rollout_steps')).toEqual([{ route: 'search', rollout: r.id, value: 2 }]);
    expect(await series('banyan_rollout_target_percent')).toEqual([{ route: 'search', rollout: r.id, cluster: 'search-v2', value: 10 }]);
    const state = await series('banyan_rollout_state');
    expect(state).toHaveLength(1);
    expect(state[0]).toMatchObject({ route: 'search', rollout: r.id, state: 'running', value: 1 });

    await b!.runner.abort('search', 'test', 'done with it');
    await eventually(async () => expect(await series('banyan_rollout_step')).toEqual([]));
    expect(await series('banyan_rollout_state')).toEqual([]);
    expect(await series('banyan_rollout_target_percent')).toEqual([]);
    await eventually(async () =>
      expect(await weights('search')).toEqual([
        { route: 'search', cluster: 'monolith', value: 100 },
        { route: 'search', cluster: 'search-v2', value: 0 },
      ]),
    );
  });
});
