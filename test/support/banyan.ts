import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBanyan, type RunningBanyan, type ServeOptions } from '../../src/server/banyan.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { createLogger } from '../../src/telemetry/logger.js';

export interface TestBanyan {
  dir: string;
  /** The served YAML file (written before start). */
  file: string;
  banyan: RunningBanyan;
  /** Stops the server and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * The options every in-process `banyan serve` of the tests starts from: xDS and admin on loopback,
 * free ports, a short debounce, no file watching, a logger named `name` that is silent unless
 * BANYAN_LOG_LEVEL says otherwise. `overrides` add or replace any option.
 */
export function loopbackServe(name: string, overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {
    host: '127.0.0.1',
    xdsPort: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    debounceMs: 20,
    watch: false,
    logger: createLogger(name, process.env.BANYAN_LOG_LEVEL ?? 'silent'),
    ...overrides,
  };
}

/**
 * `banyan serve` in-process on free ports, with its YAML and embedded store in a fresh temp dir.
 * `yaml` may be a function of that dir, for configs that name files next to themselves.
 * `overrides` replace any option (e.g. `watch`, `ratelimitPort: 0`, `postgresUrl`).
 */
export async function startTestBanyan(
  yaml: string | ((dir: string) => string),
  overrides: Partial<ServeOptions> = {},
): Promise<TestBanyan> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-test-'));
  const file = path.join(dir, 'routes.yaml');
  fs.writeFileSync(file, typeof yaml === 'function' ? yaml(dir) : yaml);
  try {
    const banyan = await startBanyan(loopbackServe('test', { config: file, watch: true, dataDir: path.join(dir, 'state'), logger: createLogger('test', 'silent'), ...overrides }));
    return {
      dir,
      file,
      banyan,
      async stop() {
        await banyan.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface RouteConfigShape {
  virtual_hosts: { routes: { name: string; route?: { cluster?: string; weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] } } }[] }[];
}

/** What `route` of `listener` sends now, as "cluster=weight,..." from the compiled RouteConfiguration. */
export function servedWeights(b: RunningBanyan, route: string, listener = 'edge', group = 'default'): string {
  const rc = b.pipeline.current!.snapshot.groups.get(group)!.get(TypeUrl.RouteConfiguration)!.get(listener) as unknown as RouteConfigShape;
  const r = rc.virtual_hosts.flatMap((vh) => vh.routes).find((x) => x.name === route);
  if (!r?.route) throw new Error(`no forwarding route ${route} in ${listener}`);
  if (r.route.cluster) return `${r.route.cluster}=100`;
  return r.route.weighted_clusters!.clusters.map((c) => `${c.name}=${c.weight.value}`).join(',');
}
