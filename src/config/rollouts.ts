/**
 * Checks on `rollouts:` that need every file: names unique, the route resolves (routes.ts, exactly as
 * `banyan rollout start` resolves it) and forwards, at most one rollout per route, and a target with
 * something to move. An unknown `to` is reported as a cluster reference (semantic.ts), with its
 * did-you-mean. Each finding points at the key it is about.
 */
import type { Diagnostic } from './diagnostics.js';
import type { RolloutSite } from './fragment.js';
import type { Config, SourcePos } from './model.js';
import { forwardBackends, OverrideError, resolveRoute, type RouteLocation } from './routes.js';
import { where } from './semantic.js';

export function checkRollouts(config: Config, sites: readonly RolloutSite[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (pos: SourcePos, message: string) => out.push({ severity: 'error', ...pos, message });
  const names = new Map<string, SourcePos>();
  const routes = new Map<string, RolloutSite>();
  const clusters = new Set(config.clusters.map((c) => c.name));

  for (const site of sites) {
    const { spec } = site;
    const first = names.get(spec.name);
    if (first) error(site.name, `duplicate rollout "${spec.name}" (first defined at ${where(first)})`);
    else names.set(spec.name, site.name);

    let location: RouteLocation;
    let backends: { cluster: string; weight: number }[];
    try {
      location = resolveRoute(config, spec.route);
      backends = forwardBackends(location);
    } catch (err) {
      if (!(err instanceof OverrideError)) throw err;
      error(site.route, `rollout "${spec.name}": ${err.message}`);
      continue;
    }

    const key = `${location.listener.name}/${location.host.name}/${location.route.name}`;
    const other = routes.get(key);
    if (other) {
      error(site.route, `rollout "${spec.name}" is on route '${location.ref}', which rollout "${other.spec.name}" (${where(other.route)}) already rolls out; a route takes one rollout at a time`);
      continue;
    }
    routes.set(key, site);

    if (!clusters.has(spec.to)) continue; // reported as an unknown cluster reference
    const total = backends.reduce((s, b) => s + b.weight, 0);
    const others = backends.filter((b) => b.cluster !== spec.to && b.weight > 0);
    if (total > 0 && others.length === 0) {
      error(site.to, `rollout "${spec.name}": '${spec.to}' already receives all of route '${location.ref}' traffic; there is nothing to shift (remove the rollout, or give the route another backend)`);
    }
  }
  return out;
}
