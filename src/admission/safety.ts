/**
 * Changes that are valid but rarely meant: removing most listeners, routes or clusters at once, or
 * every endpoint of a cluster traffic still goes to. A truncated file, a wrong branch checked out or
 * a directory half-copied look exactly like that, so such a change is held until the operator
 * confirms it (`banyan apply --confirm-removal`); a file edit alone never confirms.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Config, SourcePos } from '../config/model.js';

/** Share of listeners, routes or clusters a change may remove without confirmation. */
export const DEFAULT_MAX_REMOVAL_SHARE = 0.5;

interface Inventory {
  listeners: Map<string, SourcePos>;
  routes: Map<string, SourcePos>;
  clusters: Map<string, { pos: SourcePos; endpoints: number }>;
  usedClusters: Set<string>;
}

function inventory(config: Config): Inventory {
  const routes = new Map<string, SourcePos>();
  const usedClusters = new Set<string>();
  for (const l of config.listeners) {
    for (const h of l.hosts) {
      for (const r of h.routes) {
        routes.set(`${l.name}/${h.name}/${r.name}`, r.pos);
        if (r.action.kind === 'forward') for (const b of r.action.backends) usedClusters.add(b.cluster);
      }
    }
  }
  return {
    listeners: new Map(config.listeners.map((l) => [l.name, l.pos])),
    routes,
    clusters: new Map(config.clusters.map((c) => [c.name, { pos: c.pos, endpoints: c.endpoints.length }])),
    usedClusters,
  };
}

/**
 * What `next` removes from `previous` beyond `maxShare`, as warnings positioned in `next` (or at
 * `fallback` when what is gone has no place left). Empty when the change may go ahead unconfirmed.
 */
export function removalFindings(previous: Config, next: Config, fallback: SourcePos, maxShare = DEFAULT_MAX_REMOVAL_SHARE): Diagnostic[] {
  const before = inventory(previous);
  const after = inventory(next);
  const out: Diagnostic[] = [];
  const held = (pos: SourcePos, message: string) => out.push({ severity: 'warning', file: pos.file, line: pos.line, col: pos.col, message });
  for (const kind of ['listeners', 'routes', 'clusters'] as const) {
    const was = [...before[kind].keys()];
    const gone = was.filter((name) => !after[kind].has(name));
    if (was.length > 0 && gone.length / was.length > maxShare) {
      const shown = gone.slice(0, 5).join(', ') + (gone.length > 5 ? `, … (${gone.length - 5} more)` : '');
      held(fallback, `this change removes ${gone.length} of ${was.length} ${kind} (${shown}), more than ${Math.round(maxShare * 100)}%: confirm with --confirm-removal if that is intended`);
    }
  }
  for (const [name, c] of after.clusters) {
    const was = before.clusters.get(name);
    if (was && was.endpoints > 0 && c.endpoints === 0 && after.usedClusters.has(name)) {
      held(c.pos, `this change removes every endpoint of cluster "${name}", which routes still send traffic to: confirm with --confirm-removal if that is intended`);
    }
  }
  return out;
}
