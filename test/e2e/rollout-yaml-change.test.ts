/**
 * The YAML wins: when an edit changes the backends of a route that has a runtime override from an
 * active rollout, the override is cleared, the rollout ends (superseded, with the reason), and the
 * YAML's weights are served: not the weights the rollout started from.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { servedWeights, startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { routesYaml } from '../admin/harness.js';

const weights = (b: RunningBanyan) => servedWeights(b, 'checkout');

describe('YAML edit under an active rollout', () => {
  let t: TestBanyan;
  let file: string;
  let banyan: RunningBanyan;

  beforeAll(async () => {
    t = await startTestBanyan(routesYaml(90, 10), { watch: false });
    ({ file, banyan } = t);
  });

  afterAll(() => t?.stop());

  it('ends the rollout and serves the new YAML weights, not the rollout\'s starting ones', async () => {
    const rollout = await banyan.runner.startRollout({
      config: banyan.pipeline.current!.base, route: 'checkout', to: 'checkout-v2', steps: [50, 100], intervalMs: 3_600_000, actor: 'test',
    });
    await banyan.control.reconcile();
    expect(weights(banyan)).toBe('monolith=50,checkout-v2=50');

    fs.writeFileSync(file, routesYaml(80, 20));
    await banyan.reload();

    expect(weights(banyan)).toBe('monolith=80,checkout-v2=20');
    const ended = (await banyan.store.getRollout(rollout.id))!;
    expect(ended.state).toBe('aborted');
    // superseded: nothing is restored over the YAML, and the rollout says why it ended
    expect(ended.endReason).toMatch(/^the YAML changed the route's backends; its weights are served now/);
    expect(await banyan.store.getOverride('checkout')).toBeUndefined();
    const audit = await banyan.store.listAudit({ limit: 10 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining([expect.stringMatching(/abort/)]));
  });
});
