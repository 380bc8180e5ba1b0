import type { Diagnostic } from './diagnostics.js';
import type { Reference } from './fragment.js';
import type { Config, SourcePos } from './model.js';
import { didYouMean } from './suggest.js';

/**
 * Checks that need the whole config (every file): unique names, references that resolve, listeners
 * that do not collide. Each finding points at the second definition or at the reference.
 */
export function checkConfig(config: Config, references: readonly Reference[], rateLimitDomains: readonly string[] | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (pos: SourcePos, message: string) => out.push({ severity: 'error', ...pos, message });

  unique(config.listeners, 'listener', error);
  unique(config.clusters, 'cluster', error);
  unique(config.auth.providers, 'auth provider', error);
  unique(config.groups, 'group', error);
  for (const l of config.listeners) {
    unique(l.hosts, 'virtual host', error, ` in listener "${l.name}"`);
    unique(l.hosts.flatMap((h) => h.routes), 'route', error, ` in listener "${l.name}"`);
    // Envoy NACKs a route configuration in which two virtual hosts claim one domain.
    const domains = new Map<string, string>();
    for (const h of l.hosts) {
      for (const d of h.domains) {
        const owner = domains.get(d.toLowerCase());
        if (owner !== undefined) error(h.pos, `domain "${d}" is already served by virtual host "${owner}" in listener "${l.name}"`);
        else domains.set(d.toLowerCase(), h.name);
      }
    }
  }

  const bound = new Map<string, { name: string; pos: SourcePos }>();
  for (const l of config.listeners) {
    if (l.kind !== 'socket') continue;
    const key = `${l.address}:${l.port}`;
    const first = bound.get(key);
    if (first) error(l.pos, `listener "${l.name}" binds ${key}, already bound by listener "${first.name}" (${where(first.pos)})`);
    else bound.set(key, { name: l.name, pos: l.pos });
  }

  const defined: Record<Reference['kind'], string[] | undefined> = {
    cluster: config.clusters.map((c) => c.name),
    provider: config.auth.providers.map((p) => p.name),
    listener: config.listeners.map((l) => l.name),
    // Domains are only checked when the config defines some: they may live in another service's config.
    domain: rateLimitDomains && rateLimitDomains.length > 0 ? [...rateLimitDomains] : undefined,
  };
  const sets = new Map(Object.entries(defined).map(([k, names]) => [k, names && new Set(names)]));
  const noun: Record<Reference['kind'], string> = { cluster: 'cluster', provider: 'auth provider', listener: 'listener', domain: 'rate limit domain' };
  for (const ref of references) {
    const known = sets.get(ref.kind);
    if (!known || known.has(ref.name)) continue;
    out.push({ severity: 'error', ...ref.pos, path: ref.path, message: `${ref.from} refers to unknown ${noun[ref.kind]} "${ref.name}"${didYouMean(ref.name, defined[ref.kind]!)}` });
  }
  return out;
}

function unique(items: readonly { name: string; pos: SourcePos }[], what: string, error: (pos: SourcePos, message: string) => void, scope = ''): void {
  const seen = new Map<string, SourcePos>();
  for (const item of items) {
    const first = seen.get(item.name);
    if (first) error(item.pos, `duplicate ${what} "${item.name}"${scope} (first defined at ${where(first)})`);
    else seen.set(item.name, item.pos);
  }
}

export function where(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}
