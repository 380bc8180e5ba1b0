import { TypeUrl } from '../proto/envoy.js';

/**
 * Make-before-break push order on an aggregated stream (xDS protocol, "eventual consistency
 * considerations"): secrets (SDS) first, since clusters and listeners name them and Envoy keeps a
 * cluster or listener warming until its secrets arrive; then clusters, their endpoints, listeners,
 * routes. Other types (e.g. rate limit config) follow in a stable order.
 */
const FIRST: readonly string[] = [TypeUrl.Secret, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

export function pushOrder(types: Iterable<string>): string[] {
  const rank = (t: string) => {
    const i = FIRST.indexOf(t);
    return i < 0 ? FIRST.length : i;
  };
  return [...types].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Types whose updates can stop a proxy from using a cluster; cluster removals wait for them. */
export const ROUTING_TYPES: ReadonlySet<string> = new Set([TypeUrl.Listener, TypeUrl.RouteConfiguration]);
