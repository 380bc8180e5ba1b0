/**
 * Two `banyan serve` replicas on one real PostgreSQL: a change sent to one is served by both, and a
 * PostgreSQL outage leaves serving untouched while changes fail cleanly, then work again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { eventually } from '../support/eventually.js';
import { routesYaml } from '../admin/harness.js';
import { servedWeights as served } from '../support/banyan.js';

const TOKEN = 'replica-token';

/** The weights a replica's compiled snapshot sends for route `checkout`. */
function servedWeights(b: RunningBanyan): Record<string, number> {
  return Object.fromEntries(served(b, 'checkout').split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
}

async function shift(b: RunningBanyan, backends: { cluster: string; weight: number }[]): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${b.ports.admin}/api/v1/routes/checkout/weights`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ backends, author: 'test', reason: 'replica test' }),
  });
  return { status: res.status, body: await res.json() };
}

describe('two replicas on one PostgreSQL', () => {
  let pg: PostgresServer;
  let dir: string;
  const replicas: RunningBanyan[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-replicas-'));
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, routesYaml(90, 10));
    const url = await pg.createDatabase('banyan');
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startBanyan({
          // The first replica brings the YAML; the second follows the shared store alone.
          config: i === 0 ? file : undefined,
          host: '127.0.0.1',
          xdsPort: 0,
          adminHost: '127.0.0.1',
          adminPort: 0,
          adminToken: TOKEN,
          debounceMs: 20,
          watch: false,
          postgresUrl: url,
          logger: createLogger(`replica-${i}`, 'silent'),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const r of replicas) await r.stop().catch(() => undefined);
    await pg?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same config on both replicas', () => {
    expect(servedWeights(replicas[0])).toEqual({ monolith: 90, 'checkout-v2': 10 });
    expect(servedWeights(replicas[1])).toEqual({ monolith: 90, 'checkout-v2': 10 });
  });

  it('a shift sent to one replica is served by both within 1 s', async () => {
    const sent = Date.now();
    const res = await shift(replicas[0], [
      { cluster: 'monolith', weight: 40 },
      { cluster: 'checkout-v2', weight: 60 },
    ]);
    expect(res.status).toBe(200);
    await eventually(() => expect(servedWeights(replicas[1])).toEqual({ monolith: 40, 'checkout-v2': 60 }), 1_000, 10);
    expect(Date.now() - sent).toBeLessThan(1_000);
    expect(servedWeights(replicas[0])).toEqual({ monolith: 40, 'checkout-v2': 60 });
  });

  it('with PostgreSQL down: keeps serving, refuses changes with a clear error, recovers when it is back', async () => {
    const before = servedWeights(replicas[0]);
    const versionBefore = replicas[0].cache.get('default', TypeUrl.RouteConfiguration).version;
    await pg.stop();
    try {
      const res = await shift(replicas[0], [
        { cluster: 'monolith', weight: 10 },
        { cluster: 'checkout-v2', weight: 90 },
      ]);
      expect(res.status).toBe(503);
      expect(res.body.error).toMatch(/state store unavailable, nothing was changed/);
      expect(servedWeights(replicas[0])).toEqual(before);
      expect(servedWeights(replicas[1])).toEqual(before);
      expect(replicas[0].cache.get('default', TypeUrl.RouteConfiguration).version).toBe(versionBefore);
    } finally {
      await pg.start();
    }
    await eventually(async () => expect((await shift(replicas[0], [{ cluster: 'monolith', weight: 10 }, { cluster: 'checkout-v2', weight: 90 }])).status).toBe(200), 15_000, 200);
    await eventually(() => expect(servedWeights(replicas[1])).toEqual({ monolith: 10, 'checkout-v2': 90 }), 5_000);
  });
});
