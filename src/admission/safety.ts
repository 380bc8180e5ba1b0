/**
 * Changes that are valid but rarely meant: removing most listeners, routes or clusters at once (every
 * endpoint of a kept cluster cannot go: the schema requires at least one). A truncated file, a wrong
 * branch checked out or a directory half-copied look exactly like that, so such a change is held until the operator
 * confirms it (`banyan apply --confirm-removal`); a file edit alone never confirms.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Config, SourcePos } from '../config/model.js';

/** Share of listeners, routes or clusters a change may remove without confirmation. */
export const DEFAULT_MAX_REMOVAL_SHARE = 0.5;

type Kind = 'listeners' | 'routes' | 'clusters';

function inventory(config: Config): Record<Kind, Set<string>> {
  const routes = new Set<string>();
  for (const l of config.listeners) for (const h of l.hosts) for (const r of h.routes) routes.add(`${l.name}/${h.name}/${r.name}`);
  return { listeners: new Set(config.listeners.map((l) => l.name)), routes, clusters: new Set(config.clusters.map((c) => c.name)) };
}

/** What `next` removes from `previous` beyond `maxShare`, as warnings at `fallback`. Empty when the change may go ahead unconfirmed. */
export function removalFindings(previous: Config, next: Config, fallback: SourcePos, maxShare = DEFAULT_MAX_REMOVAL_SHARE): Diagnostic[] {
  const before = inventory(previous);
  const after = inventory(next);
  const out: Diagnostic[] = [];
  for (const kind of ['listeners', 'routes', 'clusters'] as const) {
    const was = [...before[kind].keys()];
    const gone = was.filter((name) => !after[kind].has(name));
    if (was.length > 0 && gone.length / was.length > maxShare) {
      const shown = gone.slice(0, 5).join(', ') + (gone.length > 5 ? `, … (${gone.length - 5} more)` : '');
      out.push({ severity: 'warning', ...fallback, message: `this change removes ${gone.length} of ${was.length} ${kind} (${shown}), more than ${Math.round(maxShare * 100)}%: confirm with --confirm-removal if that is intended` });
    }
  }
  return out;
}
