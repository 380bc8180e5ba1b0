/**
 * The operator workflow on top of the control plane: route weights, candidate configs, history and
 * rollback, rollouts and the audit log. Each route states the role it needs (admin/auth.ts; the Router
 * enforces it): reads and dry runs read, shifts and rollouts operate, apply and rollback admin.
 */
import type { AdminOperations } from '../operations.js';
import type { Router } from '../router.js';
import { mountConfigOpsRoutes } from './config-ops.js';
import { mountHistoryRoutes } from './history.js';
import { mountRevocationRoutes } from './revocations.js';
import { mountRolloutRoutes } from './rollouts.js';
import { mountWeightRoutes } from './weights.js';

export function mountOpsRoutes(router: Router, ops: AdminOperations): void {
  mountWeightRoutes(router, ops);
  mountConfigOpsRoutes(router, ops);
  mountHistoryRoutes(router, ops);
  mountRolloutRoutes(router, ops);
  mountRevocationRoutes(router, ops);
}
