/**
 * The YAML wins: when an edit changes the backends of a route that has a runtime override from an
 * active rollout, the override is cleared, the rollout is aborted, and the YAML's weights are served.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { routesYaml } from '../admin/harness.js';

function weights(b: RunningBanyan): string {
  const rc = b.pipeline.current!.snapshot.groups.get('default')!.get(TypeUrl.RouteConfiguration)!.get('edge') as {
    virtual_hosts: { routes: { name: string; route: { weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] } } }[] }[];
  };
  const r = rc.virtual_hosts[0].routes.find((x) => x.name === 'checkout')!;
  return r.route.weighted_clusters!.clusters.map((c) => `${c.name}=${c.weight.value}`).join(',');
}

describe('YAML edit under an active rollout', () => {
  let dir: string;
  let file: string;
  let banyan: RunningBanyan;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-rollout-yaml-'));
    file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, routesYaml(90, 10));
    banyan = await startBanyan({
      config: file, host: '127.0.0.1', xdsPort: 0, adminHost: '127.0.0.1', adminPort: 0,
      debounceMs: 20, watch: false, dataDir: path.join(dir, 'state'), logger: createLogger('test', 'silent'),
    });
  });

  afterAll(async () => {
    await banyan?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('aborts the rollout and serves the new YAML weights', async () => {
    const rollout = await banyan.runner.startRollout({
      config: banyan.pipeline.current!.base, route: 'checkout', to: 'checkout-v2', steps: [50, 100], intervalMs: 3_600_000, actor: 'test',
    });
    await banyan.control.reconcile();
    expect(weights(banyan)).toBe('monolith=50,checkout-v2=50');

    fs.writeFileSync(file, routesYaml(80, 20));
    await banyan.reload();

    expect(weights(banyan)).toBe('monolith=80,checkout-v2=20');
    expect((await banyan.store.getRollout(rollout.id))!.state).toBe('aborted');
    expect(await banyan.store.getOverride('checkout')).toBeUndefined();
    const audit = await banyan.store.listAudit({ limit: 10 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining([expect.stringMatching(/abort/)]));
  });
});
