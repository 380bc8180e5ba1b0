/**
 * banyan_store_up, banyan_store_operation_failures_total{op} and
 * banyan_store_last_success_timestamp_seconds: a real `banyan serve` (in process) on a real PostgreSQL
 * that is stopped and started again; and on the embedded store, a refusal is the store answering.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { RevisionConflictError } from '../../src/store/errors.js';
import { withHealth } from '../../src/store/health.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import type { Registry } from 'prom-client';
import { routesYaml } from '../cli/config.yaml.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

let dir: string;
let pg: PostgresServer | undefined;
let b: RunningBanyan | undefined;
let pgStopped = false;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-store-health-'));
  await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
  pg = await startPostgres();
  const url = await pg.createDatabase('health');
  b = await startBanyan(loopbackServe('store-health', {
    config: path.join(dir, 'routes.yaml'),
    postgresUrl: url,
    fleetIntervalMs: 100,
  }));
}, 60_000);
afterAll(async () => {
  // the database comes back first so that the replica can leave the fleet cleanly
  if (pgStopped) await pg?.start();
  await b?.stop();
  await pg?.destroy();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

describe('store health', () => {
  it('store_up flips to 0 while PostgreSQL is stopped, failures are counted, and it is back to 1 after', async () => {
    const r = b!.registry;
    await eventually(async () => expect(await value(r, 'banyan_store_up', { backend: 'postgres' })).toBe(1));
    expect(await value(r, 'banyan_store_operation_failures_total')).toBe(0);
    await pg!.stop();
    pgStopped = true;
    const stoppedAt = Date.now() / 1000;
    // the fleet status renews every 100 ms: that is what meets the outage
    await eventually(async () => expect(await value(r, 'banyan_store_up')).toBe(0), 15_000);
    expect(await value(r, 'banyan_store_operation_failures_total')).toBeGreaterThan(0);
    expect(await value(r, 'banyan_store_operation_failures_total', { op: 'renewReplicaStatus', backend: 'postgres' })).toBeGreaterThan(0);
    const lastBefore = await value(r, 'banyan_store_last_success_timestamp_seconds');
    expect(lastBefore).toBeLessThanOrEqual(stoppedAt + 1);

    await pg!.start();
    pgStopped = false;
    await eventually(async () => expect(await value(r, 'banyan_store_up')).toBe(1), 30_000);
    expect(await value(r, 'banyan_store_last_success_timestamp_seconds')).toBeGreaterThan(stoppedAt);
  }, 60_000);

  it('on the embedded store a revision conflict is an answer, not a failure; a closed store fails', async () => {
    const registry = createRegistry();
    const store = withHealth(await EmbeddedStore.open({ dir: path.join(dir, 'embedded') }), registry, 'embedded');
    await expect(store.updateRollout({ id: 'nope', revision: 1 } as never, 1, { actor: 't', action: 'x' } as never)).rejects.toBeInstanceOf(RevisionConflictError);
    expect(await value(registry, 'banyan_store_up', { backend: 'embedded' })).toBe(1);
    expect(await value(registry, 'banyan_store_operation_failures_total')).toBe(0);
    await store.close();
    await expect(store.clearOverride('checkout', 'test')).rejects.toThrow(/closed/);
    expect(await value(registry, 'banyan_store_up')).toBe(0);
    expect(await value(registry, 'banyan_store_operation_failures_total', { op: 'clearOverride', backend: 'embedded' })).toBe(1);
  });
});
