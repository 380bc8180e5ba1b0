import type { Config } from '../config/model.js';
import { TypeUrl } from '../proto/envoy.js';
import { buildCluster, type ClusterOptions } from './cluster.js';
import { checkClusters, referencedClusters } from './checks.js';
import { createContext } from './context.js';
import { buildLoadAssignment } from './endpoint.js';
import { FEATURES } from './features.js';
import { groupSelector, planGroups } from './groups.js';
import { buildListener } from './listener.js';
import { clusterSecrets, listenerSecrets, secretResources, serviceSecrets } from './tls.js';
import { rateLimitConfigResources } from './ratelimit.js';
import { buildRouteConfiguration } from './route.js';
import type * as envoy from './envoy-types.js';
import type { CompiledSnapshot, ResourceSet } from './types.js';
import { byName } from './util.js';

/** How a config is compiled beyond what it says itself (the default: the config alone). */
export type CompileOptions = ClusterOptions;

/**
 * Config → what every proxy group is served. Pure and deterministic: no I/O, no clocks, resources
 * sorted by name, and equal input gives deep-equal output. A resource that several groups share is
 * the same object in each, so the xDS layer can encode it once.
 * Every group also carries the `ratelimit:` domains as RateLimitConfig resources, for rate limit
 * service replicas that subscribe over ADS (whatever group their node lands in).
 */
export function compile(config: Config, opts: CompileOptions = {}): CompiledSnapshot {
  const { ctx, warnings } = createContext(config);
  const clusters = new Map(config.clusters.map((c) => [c.name, c]));
  const listeners = new Map<string, envoy.Listener>();
  const routes = new Map<string, envoy.RouteConfiguration>();
  for (const l of config.listeners) {
    listeners.set(l.name, buildListener(l, ctx));
    routes.set(l.name, buildRouteConfiguration(l, ctx));
  }
  const clusterResources = new Map(config.clusters.map((c) => [c.name, buildCluster(c, opts)]));
  const assignments = new Map(config.clusters.filter((c) => c.discovery === 'eds').map((c) => [c.name, buildLoadAssignment(c)]));
  const featureClusters = FEATURES.flatMap((f) => f.clusters(config));
  const rateLimitConfigs = rateLimitConfigResources(config);
  const secrets = secretResources(config);

  checkClusters(config, clusters, ctx);
  for (const fc of featureClusters) {
    const clash = clusters.get(fc.name!);
    if (clash) ctx.warn(clash.pos, `cluster name "${fc.name}" is reserved for Banyan's own service; rename this cluster`);
  }

  const groups = new Map<string, ResourceSet>();
  for (const plan of planGroups(config)) {
    const used = [...new Set(plan.listeners.flatMap(referencedClusters))].filter((name) => clusters.has(name));
    const set: ResourceSet = new Map();
    set.set(TypeUrl.Cluster, byName([...used.map((n) => clusterResources.get(n)!), ...featureClusters], (c) => c.name!));
    set.set(TypeUrl.ClusterLoadAssignment, byName(used.flatMap((n): envoy.ClusterLoadAssignment[] => (assignments.has(n) ? [assignments.get(n)!] : [])), (a) => a.cluster_name!));
    set.set(TypeUrl.Listener, byName(plan.listeners.map((l) => listeners.get(l.name)!), (l) => l.name!));
    set.set(TypeUrl.RouteConfiguration, byName(plan.listeners.map((l) => routes.get(l.name)!), (r) => r.name!));
    set.set(TypeUrl.RateLimitConfig, new Map(rateLimitConfigs));
    // Only the secrets this group's listeners and clusters name: a proxy never holds another group's keys.
    const named = new Set([...plan.listeners.flatMap(listenerSecrets), ...used.flatMap((n) => clusterSecrets(clusters.get(n)!)), ...serviceSecrets(config, featureClusters)]);
    if (named.size) set.set(TypeUrl.Secret, byName([...named].filter((n) => secrets.has(n)).map((n) => secrets.get(n)!), (s) => s.name!));
    groups.set(plan.name, set);
  }

  return {
    groups,
    groupOf: groupSelector(config.groups),
    warnings,
    apiListenerNames: new Set(config.listeners.filter((l) => l.kind === 'api').map((l) => l.name)),
  };
}
