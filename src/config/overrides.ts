/**
 * Runtime weight overrides on top of the YAML: pure functions, no I/O. An override replaces one
 * route's backends. It remembers a hash of the route's YAML backends from when it was set, so that
 * when the operator later edits those backends in YAML the YAML wins and the override is reported
 * stale (the caller clears it with a warning) instead of silently masking the edit.
 */
import { createHash } from 'node:crypto';
import type { Config, ForwardAction, Listener, Route, VirtualHost, WeightedBackend } from './model.js';
import { backendWeightProblem, backendWeightSetProblem } from './bounds.js';

export interface BackendWeight {
  cluster: string;
  weight: number;
}

/** The part of a stored override that matters here (store/types.ts Override satisfies it). */
export interface OverrideLike {
  route: string;
  backends: BackendWeight[];
  baseHash: string;
}

export interface AppliedOverride<O extends OverrideLike = OverrideLike> {
  override: O;
  /** The YAML backends the override replaced. */
  yamlBackends: BackendWeight[];
}

export interface StaleOverride<O extends OverrideLike = OverrideLike> {
  override: O;
  reason: 'backends-changed' | 'route-removed' | 'route-ambiguous' | 'unknown-cluster';
  /** Human-readable, for the warning the caller logs when clearing it. */
  message: string;
}

/** Bad operator input for an override or a rollout (unknown route/backend, bad weights). */
export class OverrideError extends Error {
  constructor(message: string) {
    super(message);
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

/** Finds the route `ref` names (`route`, `listener/route` or `listener/host/route`); throws OverrideError. */
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
    const hint = closest(ref, routes.map((l) => l.ref));
    throw new OverrideError(`unknown route '${ref}'${hint ? `; did you mean '${hint}'?` : ''}`);
  }
  if (matches.length > 1) {
    throw new OverrideError(`route '${ref}' is ambiguous: it matches ${matches.map((l) => `'${l.ref}'`).join(', ')}; use one of those`);
  }
  return matches[0];
}

/** The route's backends as written in YAML, or an error when the route does not forward. */
export function yamlBackends(location: RouteLocation): BackendWeight[] {
  const action = location.route.action;
  if (action.kind !== 'forward') {
    throw new OverrideError(`route '${location.ref}' is a ${action.kind} route; only routes that forward to backends have weights`);
  }
  return action.backends.map((b) => ({ cluster: b.cluster, weight: b.weight }));
}

/** sha256 of a route's YAML backends (cluster and weight, in order): an override's baseHash. */
export function routeBackendsHash(backends: readonly BackendWeight[]): string {
  return createHash('sha256')
    .update(JSON.stringify(backends.map((b) => [b.cluster, b.weight])))
    .digest('hex');
}

/**
 * Validates an operator's override against the config: the route exists and forwards, every backend
 * is a defined cluster. Returns what to store (canonical route reference and baseHash).
 */
export function prepareOverride(config: Config, ref: string, backends: readonly BackendWeight[]): OverrideLike {
  const location = resolveRoute(config, ref);
  const base = yamlBackends(location);
  checkClusters(config, backends.map((b) => b.cluster));
  checkWeights(backends);
  return { route: location.ref, backends: backends.map((b) => ({ ...b })), baseHash: routeBackendsHash(base) };
}

/** Throws when any name is not a cluster defined in the config. */
export function checkClusters(config: Config, names: readonly string[]): void {
  const known = config.clusters.map((c) => c.name);
  for (const name of names) {
    if (!known.includes(name)) {
      const hint = closest(name, known);
      throw new OverrideError(`unknown backend '${name}': no cluster of that name${hint ? `; did you mean '${hint}'?` : ''}`);
    }
  }
}

function checkWeights(backends: readonly BackendWeight[]): void {
  if (backends.length === 0) throw new OverrideError('give at least one BACKEND=WEIGHT');
  const seen = new Set<string>();
  for (const b of backends) {
    if (seen.has(b.cluster)) throw new OverrideError(`backend '${b.cluster}' is given twice`);
    seen.add(b.cluster);
    const problem = backendWeightProblem(b);
    if (problem) throw new OverrideError(problem);
  }
  const problem = backendWeightSetProblem(backends);
  if (problem) throw new OverrideError(problem);
}

/**
 * Parses CLI arguments `BACKEND=WEIGHT ...`. Percentages (the default) must sum to 100; with
 * `relative` any non-negative whole numbers are taken as proportions.
 */
export function parseWeights(args: readonly string[], opts: { relative?: boolean } = {}): BackendWeight[] {
  const backends = args.map((arg) => {
    const m = /^([^=\s]+)=(.*)$/.exec(arg);
    if (!m) throw new OverrideError(`expected BACKEND=WEIGHT, got '${arg}'`);
    const text = m[2].trim().replace(/%$/, '');
    const weight = text === '' ? NaN : Number(text);
    if (!Number.isFinite(weight)) throw new OverrideError(`weight for '${m[1]}' is not a number: '${m[2]}'`);
    if (weight < 0) throw new OverrideError(`weight for '${m[1]}' is negative (${weight}); weights must be >= 0`);
    if (!Number.isInteger(weight)) throw new OverrideError(`weight for '${m[1]}' must be a whole number, got ${weight}`);
    return { cluster: m[1], weight };
  });
  checkWeights(backends);
  if (!opts.relative) {
    const sum = backends.reduce((s, b) => s + b.weight, 0);
    if (sum !== 100) {
      throw new OverrideError(`percentages sum to ${sum}, not 100; fix them or pass --relative to use them as proportions`);
    }
  }
  return backends;
}

/**
 * Lays overrides over the config. Returns a new Config (the input is not modified), the overrides
 * applied, and those that are stale and were not applied: the route's YAML backends changed since
 * the override was set, the route is gone or now ambiguous, or a backend is no longer a cluster.
 * Stale overrides are reported rather than thrown so a YAML reload is never blocked by them.
 */
export function applyOverrides<O extends OverrideLike>(
  config: Config,
  overrides: readonly O[],
): { config: Config; applied: AppliedOverride<O>[]; stale: StaleOverride<O>[] } {
  const out = structuredClone(config);
  const applied: AppliedOverride<O>[] = [];
  const stale: StaleOverride<O>[] = [];
  for (const override of overrides) {
    let location: RouteLocation;
    let base: BackendWeight[];
    try {
      location = resolveRoute(out, override.route);
      base = yamlBackends(location);
    } catch (err) {
      const ambiguous = (err as Error).message.includes('ambiguous');
      stale.push({
        override,
        reason: ambiguous ? 'route-ambiguous' : 'route-removed',
        message: `override on route '${override.route}' no longer applies: ${(err as Error).message}`,
      });
      continue;
    }
    if (routeBackendsHash(base) !== override.baseHash) {
      stale.push({
        override,
        reason: 'backends-changed',
        message: `override on route '${override.route}' is stale: the YAML changed this route's backends since it was set`,
      });
      continue;
    }
    const missing = override.backends.find((b) => !out.clusters.some((c) => c.name === b.cluster));
    if (missing) {
      stale.push({
        override,
        reason: 'unknown-cluster',
        message: `override on route '${override.route}' no longer applies: cluster '${missing.cluster}' is not defined`,
      });
      continue;
    }
    const action = location.route.action as ForwardAction;
    const posOf = (cluster: string) => action.backends.find((b) => b.cluster === cluster)?.pos ?? location.route.pos;
    action.backends = override.backends.map((b): WeightedBackend => ({ cluster: b.cluster, weight: b.weight, pos: posOf(b.cluster) }));
    applied.push({ override, yamlBackends: base });
  }
  return { config: out, applied, stale };
}

/** The closest candidate by edit distance, if it is close enough to be a plausible typo. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
