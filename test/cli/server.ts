import * as grpc from '@grpc/grpc-js';
import { AdminServer } from '../../src/admin/server.js';
import { Router } from '../../src/admin/router.js';
import { bearerAuthorizer } from '../../src/admin/auth.js';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { mountOpsRoutes } from '../../src/admin/routes/ops.js';
import { RolloutRunner } from '../../src/rollout/runner.js';
import { ControlPlane } from '../../src/server/control.js';
import { bindGrpcServer, shutdownGrpcServer } from '../../src/server/grpc.js';
import { ConfigPipeline } from '../../src/server/pipeline.js';
import { readConfigFiles } from '../../src/server/source.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry, prom } from '../../src/telemetry/metrics.js';
import { SnapshotCache } from '../../src/xds/cache.js';
import { XdsServer } from '../../src/xds/server.js';

export interface OpsServer {
  adminUrl: string;
  xdsAddress: string;
  pipeline: ConfigPipeline;
  stop(): Promise<void>;
}

/**
 * The control plane as `banyan serve` assembles it — store first, then config, rollouts, xDS and the
 * admin API — on free ports, over an embedded store in `dataDir` (so a restart keeps the state).
 */
export async function startOpsServer(opts: { config: string; dataDir: string; token: string; adminPort?: number }): Promise<OpsServer> {
  const log = createLogger('banyan-test', process.env.BANYAN_LOG_LEVEL ?? 'silent');
  const registry = createRegistry();
  const store = await EmbeddedStore.open({ dir: opts.dataDir });
  const cache = new SnapshotCache({ logger: log, registry });
  const xds = new XdsServer({ cache, logger: log, registry });
  const pipeline = new ConfigPipeline({ snapshot: (s) => cache.setSnapshot(s) }, log, registry, prom);
  const control = new ControlPlane(store, pipeline, log);
  await control.start(await readConfigFiles(opts.config));
  const runner = new RolloutRunner({ store, logger: log });
  await runner.start();

  const grpcServer = new grpc.Server();
  xds.addToServer(grpcServer);
  const xdsPort = await bindGrpcServer(grpcServer, '127.0.0.1', 0);

  const router = new Router(bearerAuthorizer(opts.token));
  mountCoreRoutes(router, { pipeline, registries: [registry], proxies: () => xds.status(), ready: () => !!pipeline.current }, prom);
  mountOpsRoutes(router, { control, store, runner, pipeline, proxies: () => xds.status() });
  const admin = new AdminServer(router);
  const adminPort = await admin.listen(opts.adminPort ?? 0, '127.0.0.1');

  return {
    adminUrl: `http://127.0.0.1:${adminPort}`,
    xdsAddress: `127.0.0.1:${xdsPort}`,
    pipeline,
    async stop() {
      runner.stop();
      control.stop();
      await admin.close();
      xds.close();
      await shutdownGrpcServer(grpcServer, 200);
      await store.close();
    },
  };
}
