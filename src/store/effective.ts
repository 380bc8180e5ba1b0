import type { Config } from '../config/model.js';
import { applyOverrides, type AppliedOverride, type StaleOverride } from '../config/overrides.js';
import type { Logger } from '../telemetry/logger.js';
import type { Override, Store } from './types.js';

/**
 * The config proxies should run: the YAML with the store's overrides on top. Stale overrides (the
 * YAML changed the route under them) are cleared in the store with a warning, as the operator
 * workflow promises. Call it at start, after a YAML reload, and on every store watch event.
 */
export async function effectiveConfig(
  store: Store,
  yaml: Config,
  opts: { actor?: string; logger?: Logger } = {},
): Promise<{ config: Config; applied: AppliedOverride<Override>[]; stale: StaleOverride<Override>[] }> {
  const result = applyOverrides(yaml, await store.listOverrides());
  for (const s of result.stale) {
    opts.logger?.warn({ route: s.override.route, reason: s.reason }, `${s.message}; clearing it`);
    await store.clearOverride(s.override.route, opts.actor ?? 'banyan', s.message);
  }
  return result;
}
