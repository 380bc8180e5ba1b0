/**
 * Runtime weight overrides on top of the YAML: pure functions, no I/O. An override replaces one
 * route's backends. It remembers a hash of the route's YAML backends from when it was set, so that
 * when the operator later edits those backends in YAML the YAML wins and the override is reported
 * stale (the caller clears it with a warning) instead of silently masking the edit. Which route a
 * reference names is routes.ts's rule; which weights are valid and when an override is stale, weights.ts's.
 */
import type { Config, ForwardAction, WeightedBackend } from './model.js';
import { resolveRoute, routeBackendsHash, forwardBackends, type BackendWeight } from './routes.js';
import { checkClusters, checkWeights, overrideFit, type OverrideLike, type StaleReason, type WeightsMode } from './weights.js';

// Older homes of these names, still imported by store/types.ts, diff/config.ts and server/pipeline.ts.
export type { BackendWeight, OverrideLike };
export { listRoutes } from './routes.js';

export interface AppliedOverride<O extends OverrideLike = OverrideLike> {
  override: O;
  /** The YAML backends the override replaced. */
  yamlBackends: BackendWeight[];
}

export interface StaleOverride<O extends OverrideLike = OverrideLike> {
  override: O;
  reason: StaleReason;
  /** Human-readable, for the warning the caller logs when clearing it. */
  message: string;
}

/**
 * Validates an operator's override against the config: the route exists and forwards, the weights
 * are valid (percentages unless `relative`), every backend is a defined cluster. Returns what to
 * store (canonical route reference and baseHash); throws OverrideError.
 */
export function prepareOverride(config: Config, ref: string, backends: readonly BackendWeight[], mode: WeightsMode = { relative: true }): OverrideLike {
  const location = resolveRoute(config, ref);
  const base = forwardBackends(location);
  checkWeights(backends, mode);
  checkClusters(config, backends.map((b) => b.cluster));
  return { route: location.ref, backends: backends.map((b) => ({ ...b })), baseHash: routeBackendsHash(base) };
}

/**
 * Lays overrides over the config. Returns a new Config (the input is not modified), the overrides
 * applied, and those that are stale (weights.ts overrideFit) and were not applied. Stale overrides
 * are reported rather than thrown so a YAML reload is never blocked by them.
 */
export function applyOverrides<O extends OverrideLike>(
  config: Config,
  overrides: readonly O[],
): { config: Config; applied: AppliedOverride<O>[]; stale: StaleOverride<O>[] } {
  const out = structuredClone(config);
  const applied: AppliedOverride<O>[] = [];
  const stale: StaleOverride<O>[] = [];
  for (const override of overrides) {
    const fit = overrideFit(out, override);
    if (!fit.applies) {
      stale.push({ override, reason: fit.reason, message: fit.message });
      continue;
    }
    const { route } = fit.location;
    const action = route.action as ForwardAction;
    const posOf = (cluster: string) => action.backends.find((b) => b.cluster === cluster)?.pos ?? route.pos;
    action.backends = override.backends.map((b): WeightedBackend => ({ cluster: b.cluster, weight: b.weight, pos: posOf(b.cluster) }));
    applied.push({ override, yamlBackends: fit.yamlBackends });
  }
  return { config: out, applied, stale };
}
