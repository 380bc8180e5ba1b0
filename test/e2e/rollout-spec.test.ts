/**
 * Declarative rollouts: a `rollouts:` spec in the served YAML drives the same flow as the CLI (same
 * machine, same gates, same audit), owned by the file. Editing the spec updates the running rollout
 * from its current percent; removing it aborts it back to the starting weights; a finished spec is
 * not run again. While serve follows the files, apply and rollback through the API are refused.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { routesYaml } from '../admin/harness.js';
import { eventually } from '../support/eventually.js';
import { servedWeights, startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { adminCall } from '../support/rollout-e2e.js';

/** test/admin/harness.ts's routes (checkout: monolith 90, checkout-v2 10), then `spec` if any. */
const yaml = (spec?: string) => routesYaml() + (spec ?? '');

const spec = (steps: string, interval: string) => `rollouts:
  - name: checkout-v2
    route: checkout
    to: checkout-v2
    steps: ${steps}
    interval: ${interval}
`;

async function rolloutOf(banyan: RunningBanyan) {
  return (await banyan.store.listRollouts({ limit: 5 })).find((r) => r.owner?.kind === 'file');
}

describe('rollouts: in the YAML', () => {
  let t: TestBanyan | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('starts from the spec, is owned by the file, completes once, and is not run again', async () => {
    t = await startTestBanyan(yaml(spec('[30, 60, 100]', '300ms')), { rolloutPollMs: 50 });
    const { banyan } = t;
    await eventually(async () => expect((await rolloutOf(banyan))?.state).toBe('completed'), 15_000);
    const r = (await rolloutOf(banyan))!;
    expect(r.owner).toMatchObject({ kind: 'file', spec: 'checkout-v2' });
    expect(r.startedBy).toBe('file (rollouts: checkout-v2)');
    expect(r.log?.map((s) => [s.percent, s.outcome])).toEqual([
      [30, 'passed'],
      [60, 'passed'],
      [100, 'passed'],
    ]);
    expect(servedWeights(banyan, 'checkout')).toBe('monolith=0,checkout-v2=100');
    // an unrelated edit of the file re-reads the same spec: it has run, so nothing starts again
    fs.writeFileSync(t.file, yaml(spec('[30, 60, 100]', '300ms')).replace('[10.0.0.1:8080]', '[10.0.0.9:8080]'));
    await banyan.reload();
    const rollouts = await banyan.store.listRollouts({ limit: 10 });
    expect(rollouts.filter((x) => x.owner?.kind === 'file')).toHaveLength(1);
    const audit = (await banyan.store.listAudit()).map((e) => e.action).filter((a) => a.startsWith('rollout.'));
    expect(audit.filter((a) => a === 'rollout.start')).toHaveLength(1);
  });

  it('an edited spec updates the running rollout; a removed spec aborts it back to the starting weights', async () => {
    t = await startTestBanyan(yaml(spec('[20, 40, 100]', '1h')), { rolloutPollMs: 50 });
    const { banyan } = t;
    await eventually(async () => expect(await rolloutOf(banyan)).toMatchObject({ state: 'running', percent: 20, phase: 'baking' }));
    expect(servedWeights(banyan, 'checkout')).toBe('monolith=80,checkout-v2=20');

    fs.writeFileSync(t.file, yaml(spec('[20, 50, 75, 100]', '2h')));
    await banyan.reload();
    await eventually(async () => expect(await rolloutOf(banyan)).toMatchObject({ steps: [20, 50, 75, 100], intervalMs: 7_200_000, percent: 20 }));
    const updated = (await rolloutOf(banyan))!;
    expect(updated.owner).toMatchObject({ kind: 'file', spec: 'checkout-v2' });
    expect((await banyan.store.listAudit()).some((e) => e.action === 'rollout.spec-update' && e.target === updated.route)).toBe(true);

    fs.writeFileSync(t.file, yaml());
    await banyan.reload();
    await eventually(async () => expect((await rolloutOf(banyan))?.state).toBe('aborted'));
    expect((await rolloutOf(banyan))?.endReason).toBe("spec 'checkout-v2' was removed from the YAML");
    expect(servedWeights(banyan, 'checkout')).toBe('monolith=90,checkout-v2=10');
    expect(await banyan.store.getOverride(updated.route)).toBeUndefined();
  });

  it('refuses apply and rollback through the API while serve follows the files', async () => {
    t = await startTestBanyan(yaml(), { adminToken: 'tok' });
    const { banyan } = t;
    const res = await adminCall(banyan.ports.admin, 'tok', 'POST', '/api/v1/config/apply', {
      files: [{ file: 'routes.yaml', text: yaml().replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20') }],
      author: 'ci',
      message: 'try',
    });
    expect(res.status).toBe(409);
    const body = res.body as { error: string };
    expect(body.error).toContain(`serves its config from ${t.file} and follows edits there`);
    expect(body.error).toContain('--config-owner store');
    expect(servedWeights(banyan, 'checkout')).toBe('monolith=90,checkout-v2=10');
    expect((await banyan.store.listConfigVersions()).length).toBe(1);
  });
});
