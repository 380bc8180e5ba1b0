/**
 * The operator workflow on top of the control plane: route weights, candidate configs, history and
 * rollback, rollouts and the audit log. Reads are open; every change needs the bearer token (the
 * Router enforces it), except dry runs that change nothing.
 */
import type { AdminOperations } from '../operations.js';
import type { Router } from '../router.js';
import { mountConfigOpsRoutes } from './config-ops.js';
import { mountHistoryRoutes } from './history.js';
import { mountRolloutRoutes } from './rollouts.js';
import { mountWeightRoutes } from './weights.js';

export function mountOpsRoutes(router: Router, ops: AdminOperations): void {
  mountWeightRoutes(router, ops);
  mountConfigOpsRoutes(router, ops);
  mountHistoryRoutes(router, ops);
  mountRolloutRoutes(router, ops);
}
