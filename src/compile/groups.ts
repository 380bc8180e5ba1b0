/**
 * Proxy groups: which listeners a proxy is served.
 *
 * README "Proxy groups" quotes this block:
 *
 *   A proxy joins the FIRST group (in file order) whose `match` accepts its node. Within a group,
 *   `match.cluster`, `match.id` and every `match.metadata` key must all accept the node (an empty
 *   list or map accepts anything); a list accepts the node when any of its patterns does. Patterns
 *   are exact strings or `*` globs (`edge-*`, `*`). Envoy's node.cluster is its `--service-cluster`
 *   flag (or `node.cluster` in the bootstrap), node.id its `--service-node`.
 *   A proxy that matches no group joins the group `default`. Unless you define a group named
 *   `default` yourself, it serves every socket listener — and so does `default` when no groups are
 *   configured at all, which makes a single-file config with no `groups:` section just work.
 *   A group with an empty `listeners` list serves every socket listener; a group that lists only api
 *   listeners serves no socket listener (a group for proxyless gRPC clients alone).
 *   Api listeners (proxyless gRPC) are in every group: gRPC clients ask for them by name (their
 *   target authority), so they never reach a proxy that does not ask for them, and a gRPC client
 *   gets its listener whichever group its node lands in.
 */
import type { Config, Listener, ProxyGroup } from '../config/model.js';
import type { NodeInfo } from './types.js';

export const DEFAULT_GROUP = 'default';

export interface GroupPlan {
  name: string;
  listeners: Listener[];
}

/** The groups to compile, each with its listeners in config order. The default group always exists. */
export function planGroups(config: Config): GroupPlan[] {
  const socket = config.listeners.filter((l) => l.kind === 'socket');
  const api = config.listeners.filter((l) => l.kind === 'api');
  const plans = config.groups.map((g) => ({
    name: g.name,
    listeners: [...(g.listeners.length ? config.listeners.filter((l) => l.kind === 'socket' && g.listeners.includes(l.name)) : socket), ...api],
  }));
  if (!plans.some((p) => p.name === DEFAULT_GROUP)) plans.push({ name: DEFAULT_GROUP, listeners: [...socket, ...api] });
  return plans;
}

/** Builds `groupOf` for a snapshot: first matching group wins, otherwise `default`. */
export function groupSelector(groups: readonly ProxyGroup[]): (node: NodeInfo) => string {
  const compiled = groups.map((g) => ({
    name: g.name,
    cluster: g.match.cluster.map(globToRegExp),
    id: g.match.id.map(globToRegExp),
    metadata: Object.entries(g.match.metadata).map(([key, pattern]) => [key, globToRegExp(pattern)] as const),
  }));
  return (node) => {
    for (const g of compiled) {
      if (g.cluster.length && !g.cluster.some((re) => re.test(node.cluster))) continue;
      if (g.id.length && !g.id.some((re) => re.test(node.id))) continue;
      if (!g.metadata.every(([key, re]) => typeof node.metadata[key] === 'string' && re.test(node.metadata[key] as string))) continue;
      return g.name;
    }
    return DEFAULT_GROUP;
  };
}

/** `*` matches any run of characters (including none); everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(globToRegexSource(pattern), 's');
}

/** A glob as an anchored regular expression both JavaScript and RE2 (Envoy's safe_regex) read the same. */
export function globToRegexSource(pattern: string): string {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return `^${body}$`;
}
