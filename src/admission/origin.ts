/**
 * Where in the operator's YAML a value of a compiled resource came from. The compiler builds one
 * RouteConfiguration per listener (virtual hosts and routes in YAML order), one Cluster and one
 * ClusterLoadAssignment per cluster, one RateLimitConfig per domain (descriptors in YAML order); this
 * walks a violation's field path back down the same structure and returns the deepest element that
 * has a position, so the diagnostic names the route or backend entry, not just the file.
 */
import type { Config, RateLimitDescriptor, SourcePos } from '../config/model.js';
import { TypeUrl } from '../proto/envoy.js';

type Step = { field: string; index?: number };

function steps(path: string): Step[] {
  const out: Step[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]+)((?:\[[^\]]+\])*)$/.exec(part);
    if (!m) continue;
    const indices = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    out.push({ field: m[1], index: indices[0] });
  }
  return out;
}

const at = (s: Step[], field: string): number | undefined => s.find((x) => x.field === field)?.index;

/** The position that produced `path` of resource `name` of `typeUrl`, or undefined when none is known. */
export function originOf(config: Config, typeUrl: string, name: string, path: string): SourcePos | undefined {
  const s = steps(path);
  switch (typeUrl) {
    case TypeUrl.Listener: {
      const listener = config.listeners.find((l) => l.name === name);
      // A TLS listener has one filter chain per certificate, in YAML order.
      return listener?.tls?.certificates[at(s, 'filter_chains') ?? -1]?.pos ?? listener?.pos;
    }
    case TypeUrl.Secret:
      return config.secrets?.find((x) => x.name === name)?.pos;
    case TypeUrl.RouteConfiguration: {
      const listener = config.listeners.find((l) => l.name === name);
      if (!listener) return undefined;
      const host = listener.hosts[at(s, 'virtual_hosts') ?? -1];
      if (!host) return listener.pos;
      const route = host.routes[at(s, 'routes') ?? -1];
      if (!route) return host.pos;
      if (route.action.kind === 'forward') {
        const backend = route.action.backends[at(s, 'clusters') ?? -1];
        if (backend && s.some((x) => x.field === 'weighted_clusters')) return backend.pos;
        const mirror = route.action.mirrors[at(s, 'request_mirror_policies') ?? -1];
        if (mirror) return mirror.pos;
      }
      const limit = route.ratelimit[at(s, 'rate_limits') ?? -1];
      return limit?.pos ?? route.pos;
    }
    case TypeUrl.Cluster:
    case TypeUrl.ClusterLoadAssignment:
      return config.clusters.find((c) => c.name === name)?.pos ?? serviceOrigin(config, name);
    case TypeUrl.RateLimitConfig: {
      const domain = config.ratelimit.find((d) => d.domain === name);
      if (!domain) return undefined;
      let pos = domain.pos;
      let level: RateLimitDescriptor[] = domain.descriptors;
      for (const step of s) {
        if (step.field !== 'descriptors' || step.index === undefined) continue;
        const d = level[step.index];
        if (!d) break;
        pos = d.pos;
        level = d.descriptors;
      }
      return pos;
    }
  }
  return undefined;
}

/** Banyan's own service clusters come from the first listener that turns the feature on. */
function serviceOrigin(config: Config, name: string): SourcePos | undefined {
  if (name === 'banyan_ratelimit') return config.listeners.find((l) => l.ratelimit)?.pos;
  if (name === 'banyan_authz') return config.listeners.find((l) => l.authz)?.pos;
  return undefined;
}
