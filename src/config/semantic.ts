import { DescriptorMatcher } from './ratelimit/match.js';
import type { Diagnostic } from './diagnostics.js';
import type { Reference } from './fragment.js';
import type { Config, Listener, RateLimitAction, RateLimitDescriptor, Route, RouteRateLimit, SourcePos } from './model.js';
import { didYouMean } from './suggest.js';
import { fractionalPercentProblem } from './bounds.js';

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
  out.push(...checkRouteRateLimits(config), ...checkMirrorPercents(config), ...reportAuthzDefaults(config));
  return out;
}

// ---------------------------------------------------------------- settings that would silently do nothing

/**
 * Route rate limits that can never be enforced: on a listener without the rate limit filter, or
 * building a descriptor that no entry of the listener's domain matches (the rate limit service
 * answers OK for it, forever).
 */
function checkRouteRateLimits(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  const domains = new Map(config.ratelimit.map((d) => [d.domain, d]));
  // Only whether some entry matches matters here, not which limit.
  const table = new DescriptorMatcher(config.ratelimit, () => true);
  for (const l of config.listeners) {
    for (const route of l.hosts.flatMap((h) => h.routes)) {
      // What proxyless gRPC (api) listeners cannot honour is admission's rule (src/admission/grpc.ts).
      if (!route.ratelimit.length || l.kind === 'api') continue;
      if (!l.ratelimit) {
        out.push({
          severity: 'error',
          ...route.ratelimit[0].pos,
          message: `route "${route.name}" has rate limit descriptors, but listener "${l.name}" has no \`ratelimit:\` (no rate limit filter), so they are never enforced; add \`ratelimit: { domain: ... }\` to the listener`,
        });
        continue;
      }
      const domain = domains.get(l.ratelimit.domain);
      for (const rl of route.ratelimit) {
        // An unknown domain is reported as a reference; domains defined elsewhere cannot be checked.
        if (domain && !reachable(table, domain.domain, possibleEntries(rl, route), domain.descriptors)) {
          out.push({ severity: 'error', ...rl.pos, message: unmatchedMessage(route, rl, domain.domain, domain.descriptors) });
        }
      }
    }
  }
  return out;
}

/** The descriptor entry an action makes: its key, and its value when fixed by the config (else any). */
interface PossibleEntry {
  key: string;
  /** undefined: the value is the request's (a header, the client address). */
  values?: string[];
}

/** Envoy's descriptor keys per action (RateLimit.Action in route_components.proto, defaults included). */
function possibleEntry(a: RateLimitAction, route: Route): PossibleEntry {
  switch (a.type) {
    case 'remote_address':
    case 'masked_remote_address':
      return { key: a.type };
    case 'destination_cluster':
      return { key: a.type, values: route.action.kind === 'forward' ? route.action.backends.map((b) => b.cluster) : undefined };
    case 'request_headers':
    case 'query_parameters':
      return { key: a.key };
    case 'generic_key':
      return { key: a.key ?? 'generic_key', values: [a.value] };
    case 'header_value_match':
      return { key: a.key ?? 'header_match', values: [a.value] };
  }
}

function possibleEntries(rl: RouteRateLimit, route: Route): PossibleEntry[] {
  return rl.actions.map((a) => possibleEntry(a, route));
}

/** Past this many value combinations a descriptor is assumed to match rather than enumerated. */
const MAX_COMBINATIONS = 4096;
/** A request value equal to no configured value: it takes a wildcard or the bare key, if any. */
const OTHER_VALUE = '\u0000';

/**
 * Whether some request can make `entries` match a limit, decided by the rate limit service's own
 * matcher (DescriptorMatcher.lookup: exact value, then wildcards, then the bare key, level by level, the
 * limit at the last entry). A request-dependent value is tried as every value the domain names for
 * its key (wildcards made concrete) and as a value it names nowhere, so value-specific entries
 * count: `plan: free` is reached by an x-plan header, as in envoyproxy/ratelimit's own examples.
 */
function reachable(table: DescriptorMatcher<unknown>, domain: string, entries: PossibleEntry[], descriptors: readonly RateLimitDescriptor[]): boolean {
  const named = valuesByKey(descriptors);
  const choices = entries.map((e) => e.values ?? [...(named.get(e.key) ?? []), OTHER_VALUE]);
  if (choices.reduce((n, c) => n * c.length, 1) > MAX_COMBINATIONS) return true;
  const walk = (i: number, picked: { key: string; value: string }[]): boolean =>
    i === entries.length
      ? table.lookup(domain, picked) !== undefined
      : choices[i].some((value) => walk(i + 1, [...picked, { key: entries[i].key, value }]));
  return entries.length > 0 && walk(0, []);
}

function valuesByKey(descriptors: readonly RateLimitDescriptor[], out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  for (const d of descriptors) {
    if (d.value !== undefined) {
      if (!out.has(d.key)) out.set(d.key, new Set());
      out.get(d.key)!.add(d.value.replaceAll('*', ''));
    }
    valuesByKey(d.descriptors, out);
  }
  return out;
}

function unmatchedMessage(route: Route, rl: RouteRateLimit, domain: string, descriptors: readonly RateLimitDescriptor[]): string {
  const entries = possibleEntries(rl, route);
  const shown = entries.map((e) => (e.values?.length === 1 ? `${e.key}=${e.values[0]}` : e.key)).join(', ');
  const keys = [...new Set(allKeys(descriptors))];
  const unknown = entries.find((e) => !keys.includes(e.key));
  const hint = unknown
    ? `: domain "${domain}" has no descriptor key "${unknown.key}"${didYouMean(unknown.key, keys)}`
    : `: its keys exist in domain "${domain}", but not nested in this order with these values`;
  return `rate limit descriptor [${shown}] of route "${route.name}" matches no descriptor of domain "${domain}", so it is never limited${hint}`;
}

function allKeys(descriptors: readonly RateLimitDescriptor[]): string[] {
  return descriptors.flatMap((d) => [d.key, ...allKeys(d.descriptors)]);
}

function checkMirrorPercents(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const route of config.listeners.flatMap((l) => l.hosts.flatMap((h) => h.routes))) {
    if (route.action.kind !== 'forward') continue;
    for (const m of route.action.mirrors) {
      const problem = fractionalPercentProblem(m.percent);
      if (problem) out.push({ severity: 'error', ...m.pos, message: `mirror of route "${route.name}" to "${m.cluster}" at ${problem}` });
    }
  }
  return out;
}

/** How far a listener's `authz:` reaches: every route without `auth:` needs a valid token. */
function reportAuthzDefaults(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const l of config.listeners) {
    if (!l.authz || l.kind !== 'socket') continue;
    const routes = l.hosts.flatMap((h) => h.routes);
    const covered = routes.filter((r) => r.auth === undefined);
    if (!covered.length) continue;
    const catchAll = covered.find(isCatchAll);
    out.push({
      severity: 'info',
      ...l.pos,
      message:
        `listener "${l.name}" has authz:, so every route without \`auth:\` requires a valid JWT from any provider: ` +
        `${covered.length} of ${routes.length} route${routes.length === 1 ? '' : 's'}${catchAll ? `, catch-all "${catchAll.name}" included` : ''}; ` +
        'write `auth: none` on a route that must stay public',
    });
  }
  return out;
}

function isCatchAll(r: Route): boolean {
  return r.match.prefix === '/' && !r.match.headers.length && !r.match.query.length && !r.match.grpc;
}

function unique(items: readonly { name: string; pos: SourcePos }[], what: string, error: (pos: SourcePos, message: string) => void, scope = ''): void {
  const seen = new Map<string, SourcePos>();
  for (const item of items) {
    const first = seen.get(item.name);
    if (first) error(item.pos, `duplicate ${what} "${item.name}"${scope} (first defined at ${where(first)})`);
    else seen.set(item.name, item.pos);
  }
}

/**
 * Whether a listener's proxies call Banyan's own `service`: the rate limit filter for `ratelimit:`,
 * ext_authz for `authz:` or for any route that requires a JWT (implicit authz). Socket listeners
 * only: proxyless gRPC listeners run just the router. The one rule; compile's features follow it.
 */
export function callsService(listener: Listener, service: 'ratelimit' | 'authz'): boolean {
  if (listener.kind !== 'socket') return false;
  if (service === 'ratelimit') return listener.ratelimit !== undefined;
  return listener.authz !== undefined || listener.hosts.some((h) => h.routes.some((r) => r.auth?.kind === 'jwt'));
}

export function where(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}
