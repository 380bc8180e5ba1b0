import type { Diagnostic } from './diagnostics.js';
import type { Config, Route } from './model.js';
import { where } from './semantic.js';

/**
 * Envoy takes the first matching route of a virtual host, so a route is dead when an earlier one
 * matches every request it could. We only claim what is certain: an unconditional earlier route
 * whose prefix covers the later route's prefix or path, an identical path or regex, or a catch-all.
 * These are warnings: the config is valid, just probably not what was meant.
 */
export function findUnreachableRoutes(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const listener of config.listeners) {
    for (const host of listener.hosts) {
      const unconditional: Route[] = [];
      for (const later of host.routes) {
        const earlier = unconditional.find((r) => covers(r, later));
        if (isUnconditional(later)) unconditional.push(later);
        if (!earlier) continue;
        out.push({
          severity: 'warning',
          ...later.pos,
          message: `route "${later.name}" is unreachable: earlier route "${earlier.name}" (${where(earlier.pos)}) matches every request it would`,
        });
      }
    }
  }
  return out;
}

function isUnconditional(r: Route): boolean {
  return r.match.headers.length === 0 && r.match.query.length === 0 && !r.match.grpc;
}

const CATCH_ALL_REGEX = new Set(['.*', '^.*$', '/.*', '.+']);

function covers(earlier: Route, later: Route): boolean {
  const a = earlier.match;
  const b = later.match;
  if (a.prefix === '' || a.prefix === '/' || (a.regex !== undefined && CATCH_ALL_REGEX.has(a.regex))) return true;
  // A case-insensitive later route matches paths a case-sensitive earlier one does not.
  if (a.caseSensitive && !b.caseSensitive) return false;
  const fold = (s: string) => (a.caseSensitive ? s : s.toLowerCase());
  if (a.prefix !== undefined) {
    const target = b.prefix ?? b.path;
    return target !== undefined && fold(target).startsWith(fold(a.prefix));
  }
  if (a.path !== undefined) return b.path !== undefined && fold(b.path) === fold(a.path);
  return a.regex !== undefined && b.regex === a.regex;
}
