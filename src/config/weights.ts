/**
 * A route's backend weights as operators give them at runtime (`banyan shift`, the admin API,
 * rollouts): which weights are valid, percentages versus proportions, and when an override no
 * longer fits the YAML under it. The wire limits themselves are bounds.ts's, shared with the schema.
 */
import type { Config } from './model.js';
import { backendWeightProblem, backendWeightSetProblem } from './bounds.js';
import { OverrideError, resolveRoute, routeBackendsHash, forwardBackends, type BackendWeight, type RouteLocation } from './routes.js';
import { didYouMean } from './suggest.js';

/** The part of a stored override that matters here (store/types.ts Override satisfies it). */
export interface OverrideLike {
  route: string;
  backends: BackendWeight[];
  baseHash: string;
}

export interface WeightsMode {
  /** Weights are proportions (`a=3 b=1`); otherwise they are percentages and must sum to 100. */
  relative?: boolean;
}

/** Throws OverrideError `bad-weights` unless `backends` are weights Banyan can serve for one route. */
export function checkWeights(backends: readonly BackendWeight[], mode: WeightsMode = {}): void {
  const problem = weightsProblem(backends, mode);
  if (problem) throw new OverrideError('bad-weights', problem);
}

function weightsProblem(backends: readonly BackendWeight[], mode: WeightsMode): string | undefined {
  if (backends.length === 0) return 'give at least one BACKEND=WEIGHT';
  const seen = new Set<string>();
  for (const b of backends) {
    if (seen.has(b.cluster)) return `backend '${b.cluster}' is given twice`;
    seen.add(b.cluster);
    // bounds.ts says "whole number >= 0" for both slips; a minus sign is the commoner one and deserves its own words.
    if (b.weight < 0) return `weight for '${b.cluster}' is negative (${b.weight}); weights must be >= 0`;
    const problem = backendWeightProblem(b);
    if (problem) return problem;
  }
  const problem = backendWeightSetProblem(backends);
  if (problem) return problem;
  const sum = backends.reduce((s, b) => s + b.weight, 0);
  if (!mode.relative && sum !== 100) {
    return `percentages sum to ${sum}, not 100; fix them or pass --relative (API: relative: true) to use them as proportions`;
  }
  return undefined;
}

/** Parses CLI arguments `BACKEND=WEIGHT ...` (a trailing `%` is allowed) and checks them as checkWeights does. */
export function parseWeights(args: readonly string[], mode: WeightsMode = {}): BackendWeight[] {
  const backends = args.map((arg) => {
    const m = /^([^=\s]+)=(.*)$/.exec(arg);
    if (!m) throw new OverrideError('bad-weights', `expected BACKEND=WEIGHT, got '${arg}'`);
    const text = m[2].trim().replace(/%$/, '');
    const weight = text === '' ? NaN : Number(text);
    if (!Number.isFinite(weight)) throw new OverrideError('bad-weights', `weight for '${m[1]}' is not a number: '${m[2]}'`);
    return { cluster: m[1], weight };
  });
  checkWeights(backends, mode);
  return backends;
}

/** Throws OverrideError `unknown-backend` when any name is not a cluster defined in the config. */
export function checkClusters(config: Config, names: readonly string[]): void {
  const known = config.clusters.map((c) => c.name);
  for (const name of names) {
    if (!known.includes(name)) {
      throw new OverrideError('unknown-backend', `unknown backend '${name}': no cluster of that name${didYouMean(name, known, "'")}`);
    }
  }
}

export type StaleReason = 'backends-changed' | 'route-removed' | 'route-ambiguous' | 'unknown-cluster';

export type OverrideFit =
  | { applies: true; location: RouteLocation; yamlBackends: BackendWeight[] }
  | { applies: false; reason: StaleReason; message: string };

/**
 * Whether an override still fits `config` (the YAML, before overrides). It is stale once the YAML
 * changed the route's backends since it was set (the YAML wins), the route is gone, no longer
 * forwards or became ambiguous, or one of its backends is no longer a cluster.
 */
export function overrideFit(config: Config, override: OverrideLike): OverrideFit {
  let location: RouteLocation;
  let base: BackendWeight[];
  try {
    location = resolveRoute(config, override.route);
    base = forwardBackends(location);
  } catch (err) {
    if (!(err instanceof OverrideError)) throw err;
    return {
      applies: false,
      reason: err.code === 'ambiguous-route' ? 'route-ambiguous' : 'route-removed',
      message: `override on route '${override.route}' no longer applies: ${err.message}`,
    };
  }
  if (routeBackendsHash(base) !== override.baseHash) {
    return {
      applies: false,
      reason: 'backends-changed',
      message: `override on route '${override.route}' is stale: the YAML changed this route's backends since it was set`,
    };
  }
  const missing = override.backends.find((b) => !config.clusters.some((c) => c.name === b.cluster));
  if (missing) {
    return { applies: false, reason: 'unknown-cluster', message: `override on route '${override.route}' no longer applies: cluster '${missing.cluster}' is not defined` };
  }
  return { applies: true, location, yamlBackends: base };
}
