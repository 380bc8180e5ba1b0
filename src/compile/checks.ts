import type { Cluster, Config, Listener } from '../config/model.js';
import type { CompileContext } from './context.js';

/** Names of every cluster a listener's routes send traffic to, mirrors included. */
export function referencedClusters(listener: Listener): string[] {
  return listener.hosts.flatMap((h) =>
    h.routes.flatMap((r) => (r.action.kind === 'forward' ? [...r.action.backends.map((b) => b.cluster), ...r.action.mirrors.map((m) => m.cluster)] : [])),
  );
}

/**
 * Findings about clusters: unused ones and unknown references. What proxyless gRPC clients cannot
 * honour in a cluster is an error in admission (src/admission/grpc.ts), not a warning here.
 */
export function checkClusters(config: Config, clusters: ReadonlyMap<string, Cluster>, ctx: CompileContext): void {
  const referenced = new Set(config.listeners.flatMap(referencedClusters));
  for (const c of config.clusters) {
    if (!referenced.has(c.name)) ctx.warn(c.pos, `cluster "${c.name}" is not used by any route, so no proxy is sent it`);
  }
  for (const l of config.listeners) {
    for (const host of l.hosts) {
      for (const route of host.routes) {
        if (route.action.kind !== 'forward') continue;
        for (const target of [...route.action.backends, ...route.action.mirrors]) {
          if (!clusters.has(target.cluster)) ctx.warn(target.pos, `route "${route.name}" sends traffic to unknown cluster "${target.cluster}"`);
        }
      }
    }
  }
}
