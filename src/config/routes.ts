/**
 * How operators address a route: `route`, `listener/route` or `listener/host/route`, whichever is
 * the shortest that is unambiguous. The CLI, the admin API, the control plane, rollouts and the
 * override layer all resolve references here, so a typo gets the same answer everywhere.
 */
import { createHash } from 'node:crypto';
import { BanyanError } from '../errors.js';
import type { Config, Listener, Route, VirtualHost } from './model.js';
import { didYouMean } from './suggest.js';

export interface BackendWeight {
  cluster: string;
  weight: number;
}

/** Bad operator input for a route's weights: which route, which backends, what weights. */
export class OverrideError extends BanyanError<'unknown-route' | 'ambiguous-route' | 'not-forward' | 'unknown-backend' | 'bad-weights'> {
  constructor(code: OverrideError['code'], message: string) {
    super(code, message);
    this.name = 'OverrideError';
  }
}

export interface RouteLocation {
  /** Shortest unambiguous reference: `route`, `listener/route` or `listener/host/route`. */
  ref: string;
  listener: Listener;
  host: VirtualHost;
  route: Route;
}

/** Every route in the config with its shortest unambiguous reference. */
export function listRoutes(config: Config): RouteLocation[] {
  const all: Omit<RouteLocation, 'ref'>[] = [];
  for (const listener of config.listeners)
    for (const host of listener.hosts) for (const route of host.routes) all.push({ listener, host, route });
  const count = (key: (l: Omit<RouteLocation, 'ref'>) => string) => {
    const m = new Map<string, number>();
    for (const l of all) m.set(key(l), (m.get(key(l)) ?? 0) + 1);
    return m;
  };
  const byName = count((l) => l.route.name);
  const byListener = count((l) => `${l.listener.name}/${l.route.name}`);
  return all.map((l) => {
    const two = `${l.listener.name}/${l.route.name}`;
    const ref =
      byName.get(l.route.name) === 1 ? l.route.name : byListener.get(two) === 1 ? two : `${l.listener.name}/${l.host.name}/${l.route.name}`;
    return { ...l, ref };
  });
}

/** Finds the route `ref` names; throws OverrideError `unknown-route` (with a did-you-mean) or `ambiguous-route`. */
export function resolveRoute(config: Config, ref: string): RouteLocation {
  const routes = listRoutes(config);
  const parts = ref.split('/');
  const matches = routes.filter((l) => {
    if (parts.length === 1) return l.route.name === parts[0];
    if (parts.length === 2) return l.listener.name === parts[0] && l.route.name === parts[1];
    if (parts.length === 3) return l.listener.name === parts[0] && l.host.name === parts[1] && l.route.name === parts[2];
    return false;
  });
  if (matches.length === 0) {
    throw new OverrideError('unknown-route', `unknown route '${ref}'${didYouMean(ref, routes.map((l) => l.ref), "'")}`);
  }
  if (matches.length > 1) {
    throw new OverrideError('ambiguous-route', `route '${ref}' is ambiguous: it matches ${matches.map((l) => `'${l.ref}'`).join(', ')}; use one of those`);
  }
  return matches[0];
}

/** The backends the route forwards to in `location`'s config; throws OverrideError `not-forward` for redirects and direct responses. */
export function forwardBackends(location: RouteLocation): BackendWeight[] {
  const action = location.route.action;
  if (action.kind !== 'forward') {
    throw new OverrideError('not-forward', `route '${location.ref}' is a ${action.kind} route; only routes that forward to backends have weights`);
  }
  return action.backends.map((b) => ({ cluster: b.cluster, weight: b.weight }));
}

/** sha256 of a route's YAML backends (cluster and weight, in order): an override's baseHash. */
export function routeBackendsHash(backends: readonly BackendWeight[]): string {
  return createHash('sha256')
    .update(JSON.stringify(backends.map((b) => [b.cluster, b.weight])))
    .digest('hex');
}

