/**
 * Admission as the gate before the store: a change it refuses is never stored as live, an override is
 * admitted before it is written, a stored version that no longer passes never stops a restart, and a
 * change that removes most of what is served is held until confirmed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/index.js';
import { loadConfigFromString } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { ControlPlane } from '../../src/server/control.js';
import { ConfigPipeline } from '../../src/server/pipeline.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { routesYaml, startHarness, type Harness } from '../admin/harness.js';

const author = 'alice@laptop';
const deepRateLimit = (depth: number) => {
  let d = '      - key: leaf\n        rate_limit: { unit: second, requests_per_unit: 1 }\n';
  for (let i = depth - 1; i >= 0; i--) d = `      - key: k${i}\n        descriptors:\n${d.replace(/^/gm, '    ')}`;
  return `${routesYaml()}ratelimit:\n  - domain: d\n    descriptors:\n${d}`;
};

describe('the wire round-trip is a backstop behind the schema', () => {
  const base = () => structuredClone(loadConfigFromString(routesYaml(), 'routes.yaml').config!) as Config;

  it('a uint32 that would wrap is an error at the cluster that holds it', () => {
    const config = base();
    config.clusters[0].circuitBreaker = { maxRequests: 2 ** 32 };
    const r = new Admission().admit(config, { file: 'routes.yaml', line: 1, col: 1 });
    expect(r.snapshot).toBeUndefined();
    expect(r.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        line: config.clusters[0].pos.line,
        col: config.clusters[0].pos.col,
        message: expect.stringMatching(/Cluster "monolith" circuit_breakers\.thresholds\[0\]\.max_requests\.value: 4294967296 does not fit the proxy's uint32 field: it would be sent as 0/),
      }),
    ]);
  });

  it('a weight that would wrap is an error at that backend entry, not just the route', () => {
    const config = base();
    const route = config.listeners[0].hosts[0].routes[0];
    if (route.action.kind !== 'forward') throw new Error('fixture');
    route.action.backends[1].weight = 2 ** 32 + 1;
    const r = new Admission().admit(config, { file: 'routes.yaml', line: 1, col: 1 });
    const pos = route.action.backends[1].pos;
    expect(r.diagnostics).toContainEqual(expect.objectContaining({ line: pos.line, col: pos.col, message: expect.stringContaining('it would be sent as 1') }));
  });

  it('every golden-style config of the example passes with nothing to say', () => {
    const r = new Admission().admit(loadConfigFromString(routesYaml(), 'routes.yaml').config!, { file: 'routes.yaml', line: 1, col: 1 });
    expect(r.snapshot).toBeDefined();
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });
});

describe('admission before the store commits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a config that validates but cannot be encoded is refused with its position and never stored', async () => {
    const before = await h.store.latestConfigVersion();
    const served = h.snapshots.length;
    const r = await h.call('POST', '/api/v1/config/apply', { files: [{ file: 'routes.yaml', text: deepRateLimit(300) }], author, message: 'deep' });
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual([expect.stringMatching(/^routes\.yaml:\d+:5: error: RateLimitConfig "d": cannot be encoded for the wire/)]);
    expect((await h.store.latestConfigVersion())!.version).toBe(before!.version);
    expect(h.snapshots.length).toBe(served);
    expect(h.pipeline.current!.hash).toBe(before!.hash);
  });

  it('a relative shift whose weight would wrap to 0 is refused and nothing is stored', async () => {
    const r = await h.call('PUT', '/api/v1/routes/checkout/weights', {
      backends: [{ cluster: 'checkout-v2', weight: 4294967296 }, { cluster: 'monolith', weight: 1 }],
      relative: true,
      author,
      reason: 'all to v2',
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/weight for 'checkout-v2' is 4294967296, above 4294967295/);
    expect(await h.store.listOverrides()).toEqual([]);
  });

  it('a change removing most routes is held (409, nothing stored) until confirmRemoval', async () => {
    const route = (n: number) => `      - name: r${n}\n        match: { prefix: /r${n} }\n        to: monolith\n`;
    const yaml = (n: number) => `listeners:\n  - name: edge\n    port: 10000\n    routes:\n${Array.from({ length: n }, (_, i) => route(i)).join('')}clusters:\n  - name: monolith\n    endpoints: [10.0.0.1:8080]\n`;
    const wide = await h.call('POST', '/api/v1/config/apply', { files: [{ file: 'routes.yaml', text: yaml(6) }], author, message: 'six routes', confirmRemoval: true });
    expect(wide.status).toBe(200);
    const before = (await h.store.latestConfigVersion())!.version;
    const files = [{ file: 'routes.yaml', text: yaml(2) }];
    const held = await h.call('POST', '/api/v1/config/apply', { files, author, message: 'shrink' });
    expect(held.status).toBe(409);
    expect(held.body.details).toEqual([expect.stringMatching(/^routes\.yaml:1:1: warning: this change removes 4 of 6 routes \(edge\/\*\/r2, .*\), more than 50%: confirm with --confirm-removal/)]);
    expect((await h.store.latestConfigVersion())!.version).toBe(before);
    // Removing less than half goes through without a word.
    expect((await h.call('POST', '/api/v1/config/apply', { files: [{ file: 'routes.yaml', text: yaml(4) }], author, message: 'trim' })).status).toBe(200);
    const confirmed = await h.call('POST', '/api/v1/config/apply', { files: [{ file: 'routes.yaml', text: yaml(1) }], author, message: 'shrink', confirmRemoval: true });
    expect(confirmed.status).toBe(200);
    expect((await h.store.latestConfigVersion())!.version).toBe(before + 2);
  });
});

describe('a stored version that today\'s admission refuses never stops a restart', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-gate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the newest stored version that passes, and says so', async () => {
    const store = await EmbeddedStore.open({ dir: path.join(dir, 'data') });
    // What an older Banyan could store: valid YAML whose resource cannot be encoded.
    const good = await store.appendConfigVersion({ content: [{ file: 'routes.yaml', text: routesYaml(70, 30) }], author, message: 'good' });
    await store.appendConfigVersion({ content: [{ file: 'routes.yaml', text: deepRateLimit(300) }], author, message: 'poison' });
    const lines: string[] = [];
    const log = createLogger('test', 'error');
    const logged = log.child({});
    logged.error = ((obj: unknown, msg?: string) => void lines.push(String(msg ?? obj))) as typeof logged.error;
    const pipeline = new ConfigPipeline({ snapshot: () => undefined }, createLogger('test', 'silent'), createRegistry());
    const control = new ControlPlane(store, pipeline, logged);
    try {
      await control.start();
      expect(pipeline.current!.hash).toBe(good.hash);
      expect(lines).toContainEqual(expect.stringContaining(`serving version ${good.version}, the newest that is accepted`));
    } finally {
      control.stop();
      await store.close();
    }
  });
});
