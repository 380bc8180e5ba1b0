import type { Registry } from 'prom-client';
import { bearerAuthorizer, type TokenEntry } from '../admin/auth.js';
import { defaultAllowedHosts, DEFAULT_MAX_CONFIG_BODY, Router } from '../admin/router.js';
import { mountCoreRoutes, type CoreDeps } from '../admin/routes/core.js';
import { mountOpsRoutes } from '../admin/routes/ops.js';
import { AdminServer, type AdminTlsOptions } from '../admin/server.js';
import type { RolloutRunner } from '../rollout/runner.js';
import type { Store } from '../store/types.js';
import type { XdsServer } from '../xds/server.js';
import { ServerOperations } from './admin-operations.js';
import type { ControlPlane } from './control.js';
import { fleetProxies, fleetRefusals, type FleetPublisher } from './fleet.js';
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

/** Who may call the admin API and what it accepts (`serve --admin-*`). */
export interface AdminSecurity {
  /** The single admin token (`--admin-token-file`, BANYAN_ADMIN_TOKEN): named `admin`. */
  token?: string;
  /** Named tokens with roles (`--admin-tokens-file`). */
  tokens?: TokenEntry[];
  /** Host names beyond loopback and the bind address (`--admin-allowed-host`). */
  allowedHosts?: string[];
  /** Cap on config uploads in bytes (`--admin-max-body`). */
  maxConfigBody?: number;
}

/** The admin HTTP API over the control plane: tokens and roles, Host allow-list, body caps. */
export async function serveAdmin(
  deps: AdminDeps,
  host: string,
  port: number,
  security: AdminSecurity = {},
  tls: AdminTlsOptions = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const sec = security;
  const { control, store, runner, xds, fleet, registries } = deps;
  const view = new PipelineView(control.pipeline, () => xds.status(), fleet, () => xds.refused());
  const tokens = [...(sec.token ? [{ name: 'admin', role: 'admin' as const, token: sec.token }] : []), ...(sec.tokens ?? [])];
  const router = new Router(bearerAuthorizer(tokens), {
    allowedHosts: defaultAllowedHosts(host, sec.allowedHosts),
    maxConfigBody: sec.maxConfigBody ?? DEFAULT_MAX_CONFIG_BODY,
  });
  mountCoreRoutes(router, { view, registries, fleet: fleetView(fleet) });
  const fleetState = { pipeline: control.pipeline, replica: fleet.replica, servedKey: () => control.servedKey(), replicas: () => fleet.fleet() };
  const ops = new ServerOperations(control, store, runner, view, fleetState);
  mountOpsRoutes(router, ops);
  const admin = new AdminServer(router, tls);
  return {
    port: await admin.listen(port, host),
    async close() {
      await admin.close();
      await ops.close();
    },
  };
}

/** What `GET /api/v1/proxies` reads of the fleet: its proxies and its refusals, each naming its replica, from one store read. */
export function fleetView(fleet: Pick<FleetPublisher, 'fleet'>): NonNullable<CoreDeps['fleet']> {
  return {
    async proxiesAndRefusals() {
      const replicas = await fleet.fleet();
      return { proxies: fleetProxies(replicas), refused: fleetRefusals(replicas) };
    },
  };
}
