/**
 * What a RateLimitConfig consumer that is not Banyan can honour. Every proxy group carries the
 * `ratelimit:` domains as RateLimitConfig resources, and a node says itself what it is: any group can
 * be reached by envoyproxy/ratelimit (whose node is just `CONFIG_GRPC_XDS_NODE_ID`), which reads only
 * the reference's fields. So a domain whose rules the reference's fields cannot carry is flagged here,
 * at the descriptor, from rateLimitConfigLosses (the one list of what is lost):
 * - `weaker` (the reference would be more permissive: share_threshold, a window longer than a year):
 *   an error, unless the domain says `compat: reference`;
 * - `stricter` (served as a stricter-or-equal rendering: a custom window, sliding, GCRA, several
 *   limits) and `failure-mode` (fail_open): a warning, unless `compat: reference`;
 * - `stats` (value_to_metric): nothing, only stats differ.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Config } from '../config/model.js';
import { formatRateLimitConfigLoss, rateLimitConfigLosses } from '../config/ratelimit/resource.js';

export function rateLimitConsumerDiagnostics(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of config.ratelimit) {
    if (d.compat === 'reference') continue;
    for (const l of rateLimitConfigLosses(d)) {
      if (l.effect === 'stats') continue;
      const severity = l.effect === 'weaker' ? 'error' : 'warning';
      const why =
        l.effect === 'weaker'
          ? 'a RateLimitConfig consumer that is not Banyan (envoyproxy/ratelimit over xDS) would enforce a weaker limit'
          : 'a RateLimitConfig consumer that is not Banyan (envoyproxy/ratelimit over xDS) enforces it otherwise';
      out.push({ severity, ...l.pos, message: `rate limit domain "${d.domain}": ${formatRateLimitConfigLoss(l)}; ${why} (set \`compat: reference\` on the domain to accept)` });
    }
  }
  return out;
}
