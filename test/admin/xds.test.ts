import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthorizer } from '../../src/admin/auth.js';
import { Router } from '../../src/admin/router.js';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { AdminServer } from '../../src/admin/server.js';
import { ConfigPipeline } from '../../src/server/pipeline.js';
import { PipelineView } from '../../src/server/served-view.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry } from '../../src/telemetry/metrics.js';

/** GET /api/v1/xds serves what the golden files hold: canonical JSON of the wire, per group. */
const GOLDEN = path.join(import.meta.dirname, '../golden');
const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'out/groups.json'), 'utf8')) as { groups: Record<string, Record<string, Record<string, unknown>>> };

let admin: AdminServer;
let pipeline: ConfigPipeline;
let base: string;

beforeAll(async () => {
  pipeline = new ConfigPipeline({ snapshot: () => {} }, createLogger('test', 'silent'), createRegistry());
  const router = new Router(bearerAuthorizer(undefined));
  mountCoreRoutes(router, { view: new PipelineView(pipeline, () => []), registries: [] });
  admin = new AdminServer(router);
  base = `http://127.0.0.1:${await admin.listen(0)}`;
});

afterAll(async () => {
  await admin.close();
});

async function get(p: string): Promise<{ status: number; text: string }> {
  const res = await fetch(base + p);
  return { status: res.status, text: await res.text() };
}

describe('GET /api/v1/xds', () => {
  it('is 503 before any config', async () => {
    expect((await get('/api/v1/xds')).status).toBe(503);
  });

  it("equals the golden file's groups, resource by resource, key order included", async () => {
    const result = pipeline.apply([{ file: 'in/groups.yaml', text: fs.readFileSync(path.join(GOLDEN, 'in/groups.yaml'), 'utf8') }]);
    expect(result.ok).toBe(true);
    const res = await get('/api/v1/xds');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as typeof golden.groups;
    expect(body).toEqual(golden.groups);
    for (const [group, types] of Object.entries(golden.groups)) {
      for (const [typeUrl, named] of Object.entries(types)) {
        for (const [name, resource] of Object.entries(named)) {
          expect(JSON.stringify(body[group][typeUrl][name]), `${group} ${typeUrl} ${name}`).toBe(JSON.stringify(resource));
        }
      }
    }
    // The form Envoy's config_dump prints, not protobufjs's: durations as strings.
    expect(res.text).not.toContain('"seconds"');
  });

  it('narrows to ?group= and names the groups it has when asked for another', async () => {
    const edge = await get('/api/v1/xds?group=edge');
    expect(JSON.parse(edge.text)).toEqual({ edge: golden.groups.edge });
    const missing = await get('/api/v1/xds?group=nope');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('have: ');
  });
});
