import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AdminServer } from '../../src/admin/server.js';
import { Router, type RouterSecurity } from '../../src/admin/router.js';
import { bearerAuthorizer, type TokenEntry } from '../../src/admin/auth.js';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { mountOpsRoutes } from '../../src/admin/routes/ops.js';
import { RolloutRunner } from '../../src/rollout/runner.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { ServerOperations } from '../../src/server/admin-operations.js';
import { ControlPlane } from '../../src/server/control.js';
import { ConfigPipeline } from '../../src/server/pipeline.js';
import { PipelineView } from '../../src/server/served-view.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/types.js';
import type { ProxyStatus } from '../../src/xds/status.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry } from '../../src/telemetry/metrics.js';

export const TOKEN = 'test-token';

/** Routes YAML with one weighted route; `checkout` splits monolith/checkout-v2 as given. */
export function routesYaml(monolith = 90, v2 = 10, extraCluster = false): string {
  return `listeners:
  - name: edge
    port: 10000
    hosts:
      - domains: ["*"]
        routes:
          - name: checkout
            match: { prefix: /checkout }
            to:
              - { cluster: monolith, weight: ${monolith} }
              - { cluster: checkout-v2, weight: ${v2} }
          - name: rest
            match: { prefix: / }
            to: monolith
clusters:
  - name: monolith
    endpoints: [10.0.0.1:8080]
  - name: checkout-v2
    endpoints: [10.0.0.2:8080]
${extraCluster ? '  - name: search-v2\n    endpoints: [10.0.0.3:8080]\n' : ''}`;
}

export interface Harness {
  url: string;
  store: Store;
  control: ControlPlane;
  pipeline: ConfigPipeline;
  snapshots: CompiledSnapshot[];
  ops: ServerOperations;
  /** What the ops routes see as connected proxies (the xDS server's status in production). */
  proxies: ProxyStatus[];
  call(method: string, p: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/** The ops routes over a real embedded store, pipeline and control plane, served on a free port. */
/** `wrap` lets a test put a fault-injecting layer around the real store. */
/** `security`: named tokens instead of the single TOKEN, and the Router's Host allow-list and body caps. */
export async function startHarness(wrap: (s: Store) => Store = (s) => s, security: { tokens?: TokenEntry[]; router?: RouterSecurity } = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-admin-'));
  const log = createLogger('test', 'silent');
  const store = wrap(await EmbeddedStore.open({ dir: path.join(dir, 'data') }));
  const snapshots: CompiledSnapshot[] = [];
  const pipeline = new ConfigPipeline({ snapshot: (s) => snapshots.push(s) }, log, createRegistry());
  const control = new ControlPlane(store, pipeline, log);
  await control.start([{ file: 'routes.yaml', text: routesYaml() }]);
  const runner = new RolloutRunner({ store, logger: log });
  await runner.start();
  const router = new Router(bearerAuthorizer(security.tokens ?? TOKEN), security.router);
  const proxies: ProxyStatus[] = [];
  // one replica: the fleet is this harness's proxies
  const fleet = {
    pipeline,
    replica: 'local',
    servedKey: () => control.servedKey(),
    replicas: async () => [{ replica: 'local', servedKey: control.servedKey(), reportedAt: Date.now(), expiresAt: Date.now() + 10_000, proxies }],
  };
  const view = new PipelineView(pipeline, () => proxies);
  mountCoreRoutes(router, { view, registries: [createRegistry()] });
  const ops = new ServerOperations(control, store, runner, view, fleet);
  mountOpsRoutes(router, ops);
  const admin = new AdminServer(router);
  const port = await admin.listen(0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    store,
    control,
    pipeline,
    snapshots,
    ops,
    proxies,
    async call(method, p, body, token = TOKEN) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(url + p, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      await admin.close();
      await ops.close();
      runner.stop();
      control.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
