import type { Cors, Listener } from '../config/model.js';
import type * as envoy from './envoy-types.js';
import { defineHttpFeature, type HttpFilterName } from './filters.js';
import { compact, typed, wrap } from './util.js';

export const CORS_FILTER: HttpFilterName = 'envoy.filters.http.cors';
const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

export function listenerUsesCors(listener: Listener): boolean {
  return listener.kind === 'socket' && listener.hosts.some((h) => h.cors || h.routes.some((r) => r.cors));
}

/**
 * CORS: the filter on every socket listener with a `cors:` policy on any of its hosts or routes. The
 * filter itself carries no settings; policies travel per virtual host and per route in
 * typed_per_filter_config (corsPolicy, placed by route.ts). Proxyless gRPC listeners never get it.
 */
export const corsFeature = defineHttpFeature({
  name: 'cors',
  protos: ['envoy/extensions/filters/http/cors/v3/cors.proto'],

  httpFilters(listener) {
    return listenerUsesCors(listener) ? [{ name: CORS_FILTER, typed_config: typed(CORS_TYPE, {}) }] : [];
  },

  route() {
    return {};
  },

  clusters() {
    return [];
  },
});

/** A CorsPolicy for typed_per_filter_config. Origins: exact, `*` for any, `~regex` for a regex. */
export function corsPolicy(cors: Cors): envoy.TypedAny {
  return typed(
    CORS_POLICY_TYPE,
    compact({
      allow_origin_string_match: cors.allowOrigins.map(originMatcher),
      allow_methods: cors.allowMethods.length ? cors.allowMethods.join(',') : undefined,
      allow_headers: cors.allowHeaders.length ? cors.allowHeaders.join(',') : undefined,
      expose_headers: cors.exposeHeaders.length ? cors.exposeHeaders.join(',') : undefined,
      max_age: cors.maxAgeSeconds !== undefined ? String(cors.maxAgeSeconds) : undefined,
      allow_credentials: cors.allowCredentials ? wrap(true) : undefined,
    }),
  );
}

function originMatcher(origin: string): envoy.StringMatcher {
  if (origin === '*') return { safe_regex: { regex: '.*' } };
  if (origin.startsWith('~')) return { safe_regex: { regex: origin.slice(1) } };
  return { exact: origin };
}
