import type { RolloutProgress, RolloutStatus } from '../admin/operations.js';
import { listRoutes, forwardBackends, type BackendWeight } from '../config/routes.js';
import { TypeUrl } from '../proto/envoy.js';
import { rolloutWeights } from '../rollout/machine.js';
import type { Rollout } from '../store/types.js';
import type { ProxyStatus } from '../xds/status.js';
import type { ConfigPipeline } from './pipeline.js';

/** A rollout with its weights now and, while it runs, which proxies have taken them. */
export function rolloutStatus(pipeline: ConfigPipeline, proxies: readonly ProxyStatus[], rollout: Rollout): RolloutStatus {
  const weights = rolloutWeights(rollout);
  const active = rollout.state === 'running' || rollout.state === 'paused';
  return { rollout, weights, proxies: active ? progress(pipeline, proxies, rollout.route, weights) : null };
}

/**
 * Which proxies have ACKed the RDS version that carries the rollout's current weights. Until this
 * replica serves those weights (the store change is still being applied) every proxy is pending.
 * Only proxies that receive the route count: their group serves the route's RouteConfiguration
 * and they subscribe to it.
 */
function progress(pipeline: ConfigPipeline, proxies: readonly ProxyStatus[], route: string, weights: BackendWeight[]): RolloutProgress {
  const current = pipeline.current;
  const served = current ? listRoutes(current.effective).find((l) => l.ref === route) : undefined;
  const servedWeights = served?.route.action.kind === 'forward' ? forwardBackends(served) : [];
  const live = JSON.stringify(servedWeights) === JSON.stringify(weights);
  // compile/route.ts names each RouteConfiguration after its listener (the listener's route_config_name).
  const routeConfig = served?.listener.name;
  const accepted: string[] = [];
  const pending: RolloutProgress['pending'] = [];
  for (const p of proxies) {
    const rds = p.types.find((t) => t.typeUrl === TypeUrl.RouteConfiguration);
    if (!rds || routeConfig === undefined) continue;
    const groupServes = p.group !== undefined && current!.snapshot.groups.get(p.group)?.get(TypeUrl.RouteConfiguration)?.has(routeConfig);
    if (!groupServes || !(rds.subscribed.includes(routeConfig) || rds.subscribed.includes('*'))) continue;
    if (live && rds.state === 'SYNCED') accepted.push(p.nodeId);
    else pending.push({ nodeId: p.nodeId, state: live ? rds.state : 'STALE', ...(rds.lastNack ? { error: rds.lastNack.message } : {}) });
  }
  return { weightsServed: live, accepted, pending };
}
