import type { Cluster, Config, Listener } from '../config/model.js';
import type { CompileContext } from './context.js';

/** Names of every cluster a listener's routes send traffic to, mirrors included. */
export function referencedClusters(listener: Listener): string[] {
  return listener.hosts.flatMap((h) =>
    h.routes.flatMap((r) => (r.action.kind === 'forward' ? [...r.action.backends.map((b) => b.cluster), ...r.action.mirrors.map((m) => m.cluster)] : [])),
  );
}

/** Findings about clusters: unused ones, unknown references, and ones proxyless gRPC clients reject. */
export function checkClusters(config: Config, clusters: ReadonlyMap<string, Cluster>, ctx: CompileContext): void {
  const referenced = new Set(config.listeners.flatMap(referencedClusters));
  // One finding per (api listener, cluster), at its first reference.
  const checkedForProxyless = new Set<string>();
  for (const c of config.clusters) {
    if (!referenced.has(c.name)) ctx.warn(c.pos, `cluster "${c.name}" is not used by any route, so no proxy is sent it`);
  }
  for (const l of config.listeners) {
    for (const host of l.hosts) {
      for (const route of host.routes) {
        if (route.action.kind !== 'forward') continue;
        for (const target of [...route.action.backends, ...route.action.mirrors]) {
          const cluster = clusters.get(target.cluster);
          if (!cluster) ctx.warn(target.pos, `route "${route.name}" sends traffic to unknown cluster "${target.cluster}"`);
          else if (l.kind === 'api' && !checkedForProxyless.has(`${l.name}\0${cluster.name}`)) {
            checkedForProxyless.add(`${l.name}\0${cluster.name}`);
            for (const problem of proxylessProblems(cluster)) {
              ctx.warn(target.pos, `cluster "${target.cluster}" ${problem}, which proxyless gRPC clients (listener "${l.name}") reject`);
            }
          }
        }
      }
    }
  }
}

/** What gRPC's xDS client (grpc-js-xds 1.14's CDS validation) NACKs in a cluster Banyan can emit. */
function proxylessProblems(c: Cluster): string[] {
  const problems: string[] = [];
  if (c.discovery === 'strict_dns') problems.push('uses DNS discovery (give it IP endpoints)');
  if (c.lbPolicy !== 'round_robin' && c.lbPolicy !== 'ring_hash') problems.push(`uses lb ${c.lbPolicy} (only round_robin and ring_hash are supported)`);
  if (c.tls) problems.push('uses upstream TLS from files (gRPC needs certificate provider instances)');
  return problems;
}
