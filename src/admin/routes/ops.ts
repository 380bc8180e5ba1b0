/**
 * The operator workflow on top of the store and the control plane: route weights, candidate
 * configs, history and rollback, rollouts and the audit log. Reads are open; every change needs the
 * bearer token (the Router enforces it), except dry runs that change nothing.
 */
import type { RolloutRunner } from '../../rollout/runner.js';
import type { ControlPlane } from '../../server/control.js';
import type { ConfigPipeline } from '../../server/pipeline.js';
import type { Store } from '../../store/types.js';
import type { ProxyStatus } from '../../xds/status.js';
import type { Router } from '../router.js';
import { mountConfigOpsRoutes } from './config-ops.js';
import { mountHistoryRoutes } from './history.js';
import { mountRolloutRoutes } from './rollouts.js';
import { mountWeightRoutes } from './weights.js';

export interface OpsDeps {
  control: ControlPlane;
  store: Store;
  runner: RolloutRunner;
  pipeline: ConfigPipeline;
  proxies(): ProxyStatus[];
}

export function mountOpsRoutes(router: Router, deps: OpsDeps): void {
  mountWeightRoutes(router, deps);
  mountConfigOpsRoutes(router, deps);
  mountHistoryRoutes(router, deps);
  mountRolloutRoutes(router, deps);
}
