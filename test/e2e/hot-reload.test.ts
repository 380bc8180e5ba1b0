/**
 * Hot reload through the file watcher: a burst of edits becomes one reload and one push; an invalid
 * edit is counted, shown in status and changes nothing; the next valid edit is served.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { eventually } from '../support/eventually.js';
import { servedWeights, startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { routesYaml } from '../admin/harness.js';

async function metric(b: RunningBanyan, name: string): Promise<number> {
  const m = (await b.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
}

const weights = (b: RunningBanyan) => servedWeights(b, 'checkout');

describe('hot reload', () => {
  let t: TestBanyan;
  let file: string;
  let banyan: RunningBanyan;

  beforeAll(async () => {
    t = await startTestBanyan(routesYaml(90, 10), { debounceMs: 150 });
    ({ file, banyan } = t);
  });

  afterAll(() => t?.stop());

  it('debounces a burst of edits into one reload that serves the last one', async () => {
    const reloadsBefore = await metric(banyan, 'banyan_config_reloads_total');
    const versionsBefore = (await banyan.store.listConfigVersions()).length;
    for (const w of [80, 70, 60, 50, 40]) fs.writeFileSync(file, routesYaml(w, 100 - w));
    await eventually(() => expect(weights(banyan)).toBe('monolith=40,checkout-v2=60'), 5_000);
    expect(await metric(banyan, 'banyan_config_reloads_total')).toBe(reloadsBefore + 1);
    expect((await banyan.store.listConfigVersions()).length).toBe(versionsBefore + 1);
  });

  it('keeps serving through an invalid edit, reports it, and serves the next valid one', async () => {
    const errorsBefore = await metric(banyan, 'banyan_config_load_errors_total');
    const served = weights(banyan);
    fs.writeFileSync(file, routesYaml(30, 70).replace('clusters:', 'clustres:'));
    await eventually(async () => expect(await metric(banyan, 'banyan_config_load_errors_total')).toBe(errorsBefore + 1), 5_000);
    expect(weights(banyan)).toBe(served);
    const status = await (await fetch(`http://127.0.0.1:${banyan.ports.admin}/api/v1/status`)).json();
    expect(status.lastRejected.errors.join('\n')).toMatch(new RegExp(`${file}:\\d+:\\d+: error: unknown key "clustres"`));
    fs.writeFileSync(file, routesYaml(30, 70));
    await eventually(() => expect(weights(banyan)).toBe('monolith=30,checkout-v2=70'), 5_000);
    const after = await (await fetch(`http://127.0.0.1:${banyan.ports.admin}/api/v1/status`)).json();
    expect(after.lastRejected).toBeNull();
  });

  it('holds an edit that removes most of the config: nothing is stored or served until it is confirmed', async () => {
    const versions = (await banyan.store.listConfigVersions()).length;
    const served = weights(banyan);
    const gutted = `listeners:\n  - name: edge\n    port: 10000\n    routes:\n      - name: rest\n        match: { prefix: / }\n        to: monolith\nclusters:\n  - name: monolith\n    endpoints: [10.0.0.1:8080]\n  - name: spare\n    endpoints: [10.0.0.9:8080]\n  - name: spare2\n    endpoints: [10.0.0.8:8080]\n`;
    fs.writeFileSync(file, gutted.replace('name: rest', 'name: everything'));
    const status = await eventually(async () => {
      const s = await (await fetch(`http://127.0.0.1:${banyan.ports.admin}/api/v1/status`)).json();
      expect(s.lastHeld).not.toBeNull();
      return s;
    }, 5_000);
    expect(status.lastHeld.reasons.join('\n')).toMatch(/this change removes 2 of 2 routes \(edge\/\*\/checkout, edge\/\*\/rest\), more than 50%/);
    expect(weights(banyan)).toBe(served);
    expect((await banyan.store.listConfigVersions()).length).toBe(versions);
    // The next whole, ordinary edit is applied and clears the hold.
    fs.writeFileSync(file, routesYaml(20, 80));
    await eventually(() => expect(weights(banyan)).toBe('monolith=20,checkout-v2=80'), 5_000);
    const after = await (await fetch(`http://127.0.0.1:${banyan.ports.admin}/api/v1/status`)).json();
    expect(after.lastHeld).toBeNull();
  });
});
