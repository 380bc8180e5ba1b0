import type { RolloutProgress, RolloutStatus } from '../admin/operations.js';
import { listRoutes, forwardBackends, type BackendWeight } from '../config/routes.js';
import { TypeUrl } from '../proto/envoy.js';
import { rolloutWeights, type SyncReport } from '../rollout/machine.js';
import type { ReplicaStatus, Rollout } from '../store/types.js';
import type { ConfigPipeline } from './pipeline.js';

/** What the sync gate reads: this replica's pipeline and served key, and every live replica's status. */
export interface FleetState {
  pipeline: ConfigPipeline;
  /** This replica's served key (ControlPlane.servedKey()). */
  servedKey(): string;
  replica: string;
  /** Every live replica's status; this replica's own as it holds it now. */
  replicas(): Promise<ReplicaStatus[]>;
}

/**
 * Whether every proxy that serves the rollout's route, on every replica, runs its current weights.
 *
 * A replica counts once it serves exactly what this one serves (equal served keys) and this one
 * serves the rollout's weights: RDS versions are content hashes, so a proxy SYNCED on RDS on such a
 * replica has ACKed the bytes carrying the weights. A proxy counts when its group serves the route's
 * RouteConfiguration and it subscribes to it. A NACK of that RouteConfiguration is reported with the
 * proxy's error.
 */
export async function fleetSync(fleet: FleetState, r: Rollout): Promise<SyncReport> {
  const weights = rolloutWeights(r);
  const current = fleet.pipeline.current;
  const served = current ? listRoutes(current.effective).find((l) => l.ref === r.route) : undefined;
  const live = !!served && served.route.action.kind === 'forward' && sameWeights(forwardBackends(served), weights);
  const report: SyncReport = { synced: false, accepted: [], pending: [], nacks: [] };
  if (!live || !current || !served) return { ...report, detail: `replica ${fleet.replica} is still applying the weights` };
  // compile/route.ts names each RouteConfiguration after its listener (the listener's route_config_name).
  const routeConfig = served.listener.name;
  const mine = fleet.servedKey();
  const lagging: string[] = [];
  for (const replica of await fleet.replicas()) {
    const sameConfig = replica.replica === fleet.replica || replica.servedKey === mine;
    if (!sameConfig) lagging.push(replica.replica);
    for (const p of replica.proxies) {
      const rds = p.types.find((t) => t.typeUrl === TypeUrl.RouteConfiguration);
      if (!rds || p.group === undefined) continue;
      const groupServes = current.snapshot.groups.get(p.group)?.get(TypeUrl.RouteConfiguration)?.has(routeConfig);
      if (!groupServes || !(rds.subscribed.includes(routeConfig) || rds.subscribed.includes('*'))) continue;
      const who = { nodeId: p.nodeId, replica: replica.replica };
      if (sameConfig && rds.state === 'SYNCED') report.accepted.push(p.nodeId);
      else if (sameConfig && rds.state === 'NACKED') {
        const error = rds.lastNack?.message ?? 'rejected';
        report.nacks.push({ ...who, error });
        report.pending.push({ ...who, state: 'NACKED', error });
      } else report.pending.push({ ...who, state: sameConfig ? rds.state : 'STALE' });
    }
  }
  const synced = lagging.length === 0 && report.pending.length === 0;
  return { ...report, synced, ...(lagging.length ? { detail: `replica${lagging.length > 1 ? 's' : ''} ${lagging.join(', ')} still applying the change` } : {}) };
}

/**
 * The fleet as read at most once per `ttlMs`: one runner pass observes every active rollout, and
 * each would otherwise read every replica's status from the store again.
 */
export function recentReplicas(read: () => Promise<ReplicaStatus[]>, ttlMs: number, now: () => number = Date.now): () => Promise<ReplicaStatus[]> {
  let last: { at: number; value: Promise<ReplicaStatus[]> } | undefined;
  return () => {
    const t = now();
    if (!last || t - last.at >= ttlMs) {
      const value = read();
      last = { at: t, value };
      // a failed read is not remembered: the next call tries again
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}

/** A rollout with its weights, what is served now, and while it runs which proxies have taken them. */
export async function rolloutStatus(fleet: FleetState, r: Rollout): Promise<RolloutStatus> {
  const weights = rolloutWeights(r);
  const current = fleet.pipeline.current;
  const route = current ? listRoutes(current.effective).find((l) => l.ref === r.route) : undefined;
  const served = route?.route.action.kind === 'forward' ? forwardBackends(route) : [];
  const active = r.state === 'running' || r.state === 'paused';
  // an ended rollout's last screen still says what every proxy has: its final weights, or the ones it restored
  const ended = r.state === 'completed' || r.state === 'aborted' || r.state === 'undone' || r.state === 'rolled-back';
  const recent = ended && Date.now() - r.updatedAt < 10 * 60_000;
  return { rollout: r, weights, served, proxies: active || recent ? progress(sameWeights(served, weights), await fleetSync(fleet, r)) : null };
}

function progress(weightsServed: boolean, s: SyncReport): RolloutProgress {
  return { weightsServed, synced: s.synced, accepted: s.accepted, pending: s.pending, ...(s.detail ? { detail: s.detail } : {}) };
}

function sameWeights(a: readonly BackendWeight[], b: readonly BackendWeight[]): boolean {
  const norm = (x: readonly BackendWeight[]) => JSON.stringify(x.filter((w) => w.weight > 0).map((w) => [w.cluster, w.weight]).sort());
  return norm(a) === norm(b);
}

