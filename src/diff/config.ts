/**
 * The operator-level diff between two configs: what someone reviewing a change reads — routes,
 * their weights, clusters, listeners — rather than the Envoy resources they compile to.
 */
import type { Config, Listener, Route } from '../config/model.js';
import { listRoutes } from '../config/overrides.js';
import { changedKeys, diffNamed, isEmptyNamedDiff, plural, type NamedDiff } from './canonical.js';

/** A backend's share of its route's traffic, in percent (weights in YAML are relative). */
export interface WeightChange {
  cluster: string;
  before: number;
  after: number;
}

export interface RouteChange {
  /** Shortest unambiguous reference (as `banyan shift` takes it). */
  ref: string;
  /** Changed fields in the operator's terms: `to` (backends), `match`, `timeoutMs`, `retry`, ... */
  fields: string[];
  /** Only backends whose share changed; empty when `to` did not change shares. */
  weights: WeightChange[];
}

export interface ConfigDiff {
  routes: { added: string[]; removed: string[]; changed: RouteChange[] };
  clusters: NamedDiff;
  listeners: NamedDiff;
  ratelimitDomains: NamedDiff;
  authProviders: NamedDiff;
  groups: NamedDiff;
  /** `rollouts:` entries by name: a changed spec is what a file-owned rollout follows. */
  rollouts: NamedDiff;
  empty: boolean;
  /** One line, e.g. "2 routes changed, 1 cluster added; checkout: monolith 90→50, checkout-v2 10→50". */
  summary: string;
}

const POS = new Set(['pos']);

const EMPTY_CONFIG: Config = {
  listeners: [],
  clusters: [],
  groups: [],
  ratelimit: [],
  auth: { providers: [] },
  services: { ratelimit: { address: '', port: 0 }, authz: { address: '', port: 0 } },
  rollouts: [],
};

/** `before` undefined means "nothing before" (the first version in history). */
export function diffConfigs(before: Config | undefined, after: Config): ConfigDiff {
  const a = before ?? EMPTY_CONFIG;
  const routes = diffRoutes(a, after);
  const clusters = diffNamed(byName(a.clusters), byName(after.clusters), POS);
  const listeners = diffNamed(listenerShapes(a), listenerShapes(after), POS);
  const ratelimitDomains = diffNamed(byKey(a.ratelimit, (d) => d.domain), byKey(after.ratelimit, (d) => d.domain), POS);
  const authProviders = diffNamed(byName(a.auth.providers), byName(after.auth.providers), POS);
  const groups = diffNamed(byName(a.groups), byName(after.groups), POS);
  // `?? []`: a Config built before rollouts existed (a stored snapshot, a test builder) has none.
  const rollouts = diffNamed(byName(a.rollouts ?? []), byName(after.rollouts ?? []), POS);
  const empty =
    routes.added.length + routes.removed.length + routes.changed.length === 0 &&
    [clusters, listeners, ratelimitDomains, authProviders, groups, rollouts].every(isEmptyNamedDiff);
  const diff: Omit<ConfigDiff, 'summary'> = { routes, clusters, listeners, ratelimitDomains, authProviders, groups, rollouts, empty };
  return { ...diff, summary: summarize(diff) };
}

function diffRoutes(a: Config, b: Config): ConfigDiff['routes'] {
  // Keyed by full path, so a route whose short ref changes (a same-named route appeared) still matches.
  const index = (c: Config) => new Map(listRoutes(c).map((l) => [`${l.listener.name}/${l.host.name}/${l.route.name}`, l]));
  const before = index(a);
  const after = index(b);
  const added = [...after].filter(([k]) => !before.has(k)).map(([, l]) => l.ref);
  const removed = [...before].filter(([k]) => !after.has(k)).map(([, l]) => l.ref);
  const changed: RouteChange[] = [];
  for (const [key, old] of before) {
    const now = after.get(key);
    if (!now) continue;
    const fields = routeFields(old.route, now.route);
    if (fields.length > 0) changed.push({ ref: now.ref, fields, weights: weightChanges(old.route, now.route) });
  }
  return { added, removed, changed };
}

/** Changed fields, with the action's own fields lifted to the top (`to`, `timeoutMs`, ...). */
function routeFields(a: Route, b: Route): string[] {
  const fields = changedKeys(a, b, POS).filter((f) => f !== 'action');
  if (a.action.kind !== b.action.kind) return [...fields, 'action'].sort();
  for (const f of changedKeys(a.action, b.action, POS)) fields.push(f === 'backends' ? 'to' : f);
  return fields.sort();
}

/** Share of each backend in percent; zero for a route that does not forward. */
function shares(route: Route): Map<string, number> {
  if (route.action.kind !== 'forward') return new Map();
  return percentages(route.action.backends);
}

export function percentages(backends: readonly { cluster: string; weight: number }[]): Map<string, number> {
  const total = backends.reduce((s, x) => s + x.weight, 0);
  return new Map(backends.map((x) => [x.cluster, total === 0 ? 0 : Math.round((x.weight * 1000) / total) / 10]));
}

function weightChanges(a: Route, b: Route): WeightChange[] {
  const before = shares(a);
  const after = shares(b);
  if (before.size === 0 || after.size === 0) return [];
  const clusters = [...new Set([...before.keys(), ...after.keys()])];
  return clusters
    .map((cluster) => ({ cluster, before: before.get(cluster) ?? 0, after: after.get(cluster) ?? 0 }))
    .filter((w) => w.before !== w.after);
}

/** A listener without its routes: those are diffed one by one above. */
function listenerShapes(c: Config): Map<string, object> {
  return new Map(
    c.listeners.map((l: Listener) => [l.name, { ...l, hosts: l.hosts.map((h) => ({ name: h.name, domains: h.domains, cors: h.cors })) }]),
  );
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return byKey(items, (i) => i.name);
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  return new Map(items.map((i) => [key(i), i]));
}

function countsOf(noun: string, d: { added: unknown[]; removed: unknown[]; changed: unknown[] }): string[] {
  const out: string[] = [];
  if (d.changed.length) out.push(`${plural(d.changed.length, noun)} changed`);
  if (d.added.length) out.push(`${plural(d.added.length, noun)} added`);
  if (d.removed.length) out.push(`${plural(d.removed.length, noun)} removed`);
  return out;
}

function summarize(d: Omit<ConfigDiff, 'summary'>): string {
  if (d.empty) return 'no changes';
  const counts = [
    ...countsOf('route', d.routes),
    ...countsOf('cluster', d.clusters),
    ...countsOf('listener', d.listeners),
    ...countsOf('rate limit domain', d.ratelimitDomains),
    ...countsOf('auth provider', d.authProviders),
    ...countsOf('proxy group', d.groups),
    ...countsOf('rollout', d.rollouts),
  ];
  const weights = d.routes.changed
    .filter((r) => r.weights.length > 0)
    .map((r) => `${r.ref}: ${r.weights.map((w) => `${w.cluster} ${w.before}→${w.after}`).join(', ')}`);
  return [counts.join(', '), ...weights].join('; ');
}
