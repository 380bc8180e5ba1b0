import type { Registry } from 'prom-client';
import { bearerAuthorizer } from '../admin/auth.js';
import { Router } from '../admin/router.js';
import { mountCoreRoutes } from '../admin/routes/core.js';
import { mountOpsRoutes } from '../admin/routes/ops.js';
import { AdminServer, type AdminTlsOptions } from '../admin/server.js';
import type { RolloutRunner } from '../rollout/runner.js';
import type { Store } from '../store/types.js';
import type { XdsServer } from '../xds/server.js';
import { ServerOperations } from './admin-operations.js';
import type { ControlPlane } from './control.js';
import type { FleetPublisher } from './fleet.js';
import { PipelineView } from './served-view.js';

export interface AdminDeps {
  control: ControlPlane;
  store: Store;
  runner: RolloutRunner;
  xds: XdsServer;
  /** This replica's view of every replica's proxies (GET /api/v1/proxies). */
  fleet: FleetPublisher;
  registries: Registry[];
}

/** The admin HTTP API over the control plane; changes need `token` when one is set. */
export async function serveAdmin(deps: AdminDeps, host: string, port: number, token?: string, tls: AdminTlsOptions = {}): Promise<{ port: number; close(): Promise<void> }> {
  const { control, store, runner, xds, fleet, registries } = deps;
  const view = new PipelineView(control.pipeline, () => xds.status(), fleet);
  const router = new Router(bearerAuthorizer(token));
  mountCoreRoutes(router, { view, registries });
  const fleetState = { pipeline: control.pipeline, replica: fleet.replica, servedKey: () => control.servedKey(), replicas: () => fleet.fleet() };
  mountOpsRoutes(router, new ServerOperations(control, store, runner, view, fleetState));
  const admin = new AdminServer(router, tls);
  return { port: await admin.listen(port, host), close: () => admin.close() };
}
