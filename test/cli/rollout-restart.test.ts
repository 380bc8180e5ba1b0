import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/admin-client.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { eventually } from '../support/eventually.js';
import { routesYaml } from './config.yaml.js';
import { banyan } from './run.js';
import { startOpsServer, type OpsServer } from './server.js';

const TOKEN = 'restart-token';

describe('a rollout across a control-plane restart', () => {
  let dir: string | undefined;
  let server: OpsServer | undefined;
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resumes at the right step after a restart: no step skipped or repeated', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-restart-'));
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
    const opts = { config: path.join(dir, 'routes.yaml'), dataDir: path.join(dir, 'data'), token: TOKEN };
    server = await startOpsServer(opts);
    const env = () => ({ BANYAN_SERVER: server!.adminUrl, BANYAN_TOKEN: TOKEN });
    const get = async (p: string) => (await fetch(`${server!.adminUrl}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

    const start = await banyan(['rollout', 'start', 'checkout', '--to', 'checkout-v2', '--steps', '20,40,60,80', '--interval', '2s', '-o', 'json'], env());
    expect(start.code).toBe(0);
    const id = JSON.parse(start.stdout).id;
    await eventually(async () => {
      const r = await get(`/api/v1/rollouts/${id}`);
      // Past the first timed step and not finished: the restart lands mid-rollout.
      expect(r.percent).toBeGreaterThanOrEqual(40);
      expect(r.state).toBe('running');
    }, 15_000);

    await server.stop();
    server = undefined;
    // What the stopped control plane left behind, read from its data directory.
    const store = await EmbeddedStore.open({ dir: opts.dataDir });
    const before = (await store.getRollout(id))!;
    await store.close();
    server = await startOpsServer(opts);

    // Straight after the restart the rollout is where it stopped (or one due step on), never back at the start.
    const after = await get(`/api/v1/rollouts/${id}`);
    expect(after.currentStep - before.currentStep).toBeGreaterThanOrEqual(0);
    expect(after.currentStep - before.currentStep).toBeLessThanOrEqual(1);
    const routes = await get('/api/v1/routes');
    expect(routes.routes.find((r: { ref: string }) => r.ref === 'checkout').percent['checkout-v2']).toBe(after.percent);

    // --watch prints the live view each time it changes, until the awaited state.
    const done = await banyan(['rollout', 'status', id, '--watch', '--wait-for', 'completed', '--timeout', '30s'], env());
    expect(done.code).toBe(EXIT.ok);
    const views = done.stdout.split('\n\n').filter(Boolean);
    expect(views.at(-1)).toMatch(new RegExp(`^rollout ${id}  checkout → checkout-v2  completed  owner cli$`, 'm'));
    expect(views.at(-1)).toMatch(/^weights\s+monolith=20% checkout-v2=80%$/m);
    if (after.percent < 80) expect(views.length).toBeGreaterThan(1);

    const steps = (await get('/api/v1/audit')).entries
      .filter((e: { action: string }) => /^rollout\.(start|step|complete)$/.test(e.action))
      .reverse()
      .map((e: { action: string; details: { percent: number } }) => `${e.action}:${e.details.percent}`);
    expect(steps).toEqual(['rollout.start:20', 'rollout.step:40', 'rollout.step:60', 'rollout.step:80', 'rollout.complete:80']);
  });
});
