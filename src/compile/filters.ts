import { loadProtos } from '../proto/envoy.js';
import type { HttpFilter } from './envoy-types.js';
import type { HttpFeature } from './types.js';

/**
 * The one order of HTTP filters in every HttpConnectionManager Banyan emits. Envoy runs decoder
 * filters in list order and a filter that answers locally (a preflight, a 401, a 429) stops the
 * request there, so the order decides which filters a request ever reaches. Features fill slots in
 * this table (by filter name) and never order themselves; a filter not listed here cannot be emitted.
 */
export const HTTP_FILTER_TABLE = [
  {
    name: 'envoy.filters.http.cors',
    why:
      'First: it answers a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) itself, and a browser ' +
      'never sends credentials on a preflight, so anything before it that wants a token would refuse every preflight. ' +
      'Its encoder side also adds the CORS headers to every later local reply (401, 429), which the page needs to read them.',
  },
  {
    name: 'envoy.filters.http.fault',
    why:
      'Reserved for fault injection, before every auth and rate limit filter: an injected abort or delay stands for ' +
      'the network or upstream failing, so it must not spend an ext_authz call or a rate limit budget, and chaos ' +
      'tests must not need tokens to see the fault.',
  },
  {
    name: 'envoy.filters.http.local_ratelimit',
    why:
      'Before ext_authz: a local bucket is a per-proxy capacity guard (one bucket per route, not per client) that ' +
      'costs nothing to evaluate, so it sheds a flood before that flood costs an ext_authz round trip and loads ' +
      'the authz service. Per-client budgets are the global rate limit, which comes after auth.',
  },
  {
    name: 'envoy.filters.http.ext_authz',
    why:
      'Before the global rate limit: unauthenticated traffic is refused here and never spends a client\'s rate limit ' +
      'budget (nor a call to the rate limit service).',
  },
  {
    name: 'envoy.filters.http.ratelimit',
    why: 'After auth, so only authenticated requests count against the shared budgets; the last filter that may refuse.',
  },
  {
    name: 'envoy.filters.http.router',
    why: 'Last, always: the router forwards the request and is terminal; Envoy rejects a chain where it is not last.',
  },
] as const;

export type HttpFilterName = (typeof HTTP_FILTER_TABLE)[number]['name'];

const POSITION = new Map<string, number>(HTTP_FILTER_TABLE.map((e, i) => [e.name, i]));

/**
 * Filters contributed by features (and the router) in table order. Two contributions for one slot,
 * or a filter the table does not list, are compiler bugs and throw.
 */
export function orderHttpFilters(filters: readonly HttpFilter[]): HttpFilter[] {
  const seen = new Set<string>();
  for (const f of filters) {
    const name = String(f.name);
    if (!POSITION.has(name)) throw new Error(`HTTP filter "${name}" has no slot in HTTP_FILTER_TABLE (src/compile/filters.ts)`);
    if (seen.has(name)) throw new Error(`HTTP filter "${name}" contributed twice to one filter chain`);
    seen.add(name);
  }
  return [...filters].sort((a, b) => POSITION.get(String(a.name))! - POSITION.get(String(b.name))!);
}

/** A feature, with its protos made part of the protobufjs root as soon as the feature exists. */
export function defineHttpFeature(feature: HttpFeature): HttpFeature {
  loadProtos(feature.protos);
  return feature;
}
