import type { Cluster, Endpoint } from '../config/model.js';
import type * as envoy from './envoy-types.js';
import { compareStrings, socketAddress, wrap } from './util.js';

/**
 * A ClusterLoadAssignment: endpoints grouped by zone into LocalityLbEndpoints. Every locality gets a
 * load_balancing_weight (the sum of its endpoints' weights, so traffic splits as if the list were
 * flat): proxyless gRPC clients fail with "priority policy has empty priority list" without one,
 * and reject a ClusterLoadAssignment whose endpoints lack a locality ("endpoints[0].locality unset").
 */
export function buildLoadAssignment(cluster: Cluster): envoy.ClusterLoadAssignment {
  const zones = new Map<string, Endpoint[]>();
  for (const ep of cluster.endpoints) {
    const zone = ep.zone ?? '';
    zones.set(zone, [...(zones.get(zone) ?? []), ep]);
  }
  const localities = [...zones.entries()].sort(([a], [b]) => compareStrings(a, b));
  return {
    cluster_name: cluster.name,
    endpoints: localities.map(([zone, eps]) => ({
      // gRPC clients NACK a LocalityLbEndpoints without a locality, even an empty one.
      locality: zone ? { zone } : {},
      lb_endpoints: eps.map(lbEndpoint),
      load_balancing_weight: wrap(eps.reduce((sum, ep) => sum + (ep.weight ?? 1), 0)),
    })),
  };
}

function lbEndpoint(ep: Endpoint): envoy.LbEndpoint {
  const out: envoy.LbEndpoint = { endpoint: { address: socketAddress(ep.host, ep.port) } };
  if (ep.weight !== undefined) out.load_balancing_weight = wrap(ep.weight);
  return out;
}
