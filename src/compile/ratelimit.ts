import type { Config, HeaderMatch, Listener, RateLimitAction, Route, RouteRateLimit } from '../config/model.js';
import { toRateLimitConfig } from '../config/ratelimit/resource.js';
import { callsService } from '../config/semantic.js';
import { envoyRoot, TypeUrl } from '../proto/envoy.js';
import { headerMatcher } from './matchers.js';
import { serviceCluster } from './tls.js';
import { defineHttpFeature, type HttpFilterName } from './filters.js';
import type * as envoy from './envoy-types.js';
import type { HttpFeature } from './types.js';
import { compact, duration, typed, wrap } from './util.js';

export const RATELIMIT_CLUSTER = 'banyan_ratelimit';
export const RATELIMIT_FILTER: HttpFilterName = 'envoy.filters.http.ratelimit';
export const LOCAL_RATELIMIT_FILTER: HttpFilterName = 'envoy.filters.http.local_ratelimit';
const RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';
const LOCAL_RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
export const RATELIMIT_CONFIG_TYPE = TypeUrl.RateLimitConfig;

const hasLocalLimits = (listener: Listener): boolean => listener.hosts.some((h) => h.routes.some((r) => r.localRateLimit));

/**
 * The Envoy side of rate limiting: the global ratelimit filter and its cluster for listeners with a
 * `ratelimit` setting, route rate_limits actions that build the descriptors, and the local (per-proxy)
 * token bucket filter, enabled per route through typed_per_filter_config.
 */
export const ratelimitFeature = defineHttpFeature({
  name: 'ratelimit',
  protos: ['envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto', 'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto'],

  httpFilters(listener) {
    const filters: envoy.HttpFilter[] = [];
    if (hasLocalLimits(listener)) {
      // Empty bucket = no limit here; each route that sets localRateLimit turns it on for itself.
      filters.push({ name: LOCAL_RATELIMIT_FILTER, typed_config: typed(LOCAL_RATELIMIT_TYPE, { stat_prefix: 'local_rate_limit' }) });
    }
    const rl = listener.ratelimit;
    if (rl) {
      filters.push({
        name: RATELIMIT_FILTER,
        typed_config: typed(RATELIMIT_TYPE, {
          domain: rl.domain,
          timeout: duration(rl.timeoutMs),
          failure_mode_deny: rl.failureMode === 'deny',
          enable_x_ratelimit_headers: rl.headers ? 'DRAFT_VERSION_03' : 'OFF',
          rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: RATELIMIT_CLUSTER } }, transport_api_version: 'V3' },
        }),
      });
    }
    return filters;
  },

  route(route) {
    const out: ReturnType<HttpFeature['route']> = {};
    if (route.ratelimit.length) out.routeAction = { rate_limits: route.ratelimit.map(rateLimitEntry) };
    if (route.localRateLimit) out.typedPerFilterConfig = { [LOCAL_RATELIMIT_FILTER]: localRateLimit(route) };
    return out;
  },

  clusters(config) {
    if (!config.listeners.some((l) => callsService(l, 'ratelimit'))) return [];
    return [serviceCluster(RATELIMIT_CLUSTER, config.services.ratelimit)];
  },
});

function rateLimitEntry(rl: RouteRateLimit): envoy.RouteRateLimit {
  const out: envoy.RouteRateLimit = { actions: rl.actions.map(action) };
  if (rl.stage) out.stage = wrap(rl.stage);
  return out;
}

/** One descriptor entry source, as Envoy's RateLimit.Action. */
export function action(a: RateLimitAction): envoy.RouteRateLimitAction {
  switch (a.type) {
    case 'remote_address':
      return { remote_address: {} };
    case 'destination_cluster':
      return { destination_cluster: {} };
    case 'masked_remote_address':
      return { masked_remote_address: { v4_prefix_mask_len: wrap(a.v4PrefixLen), v6_prefix_mask_len: wrap(a.v6PrefixLen) } };
    case 'request_headers':
      return { request_headers: { header_name: a.header, descriptor_key: a.key, skip_if_absent: a.skipIfAbsent } };
    case 'generic_key':
      return { generic_key: compact({ descriptor_value: a.value, descriptor_key: a.key || undefined }) };
    case 'header_value_match':
      return {
        header_value_match: compact({
          descriptor_value: a.value,
          descriptor_key: a.key || undefined,
          expect_match: wrap(a.expectMatch),
          headers: a.headers.map((h: HeaderMatch) => headerMatcher(h)),
        }),
      };
    case 'query_parameters':
      // Newer than the Envoy API snapshot Banyan loads: declared when the protos load (proto/envoy-additions.ts).
      return { query_parameters: { query_parameter_name: a.param, descriptor_key: a.key, skip_if_absent: a.skipIfAbsent } };
  }
}

function localRateLimit(route: Route): envoy.TypedAny {
  const l = route.localRateLimit!;
  const always = { default_value: { numerator: 100, denominator: 'HUNDRED' } } as const;
  return typed(
    LOCAL_RATELIMIT_TYPE,
    compact({
      stat_prefix: 'local_rate_limit',
      token_bucket: { max_tokens: l.maxTokens, tokens_per_fill: wrap(l.tokensPerFill), fill_interval: duration(l.fillIntervalMs) },
      filter_enabled: { ...always, runtime_key: 'local_rate_limit_enabled' },
      filter_enforced: { ...always, runtime_key: 'local_rate_limit_enforced' },
      status: l.statusCode !== 429 ? { code: statusCodeName(l.statusCode) } : undefined,
    }),
  );
}

/** envoy.type.v3.StatusCode enum names (e.g. 503 → ServiceUnavailable); the values are the codes. */
function statusCodeName(code: number): envoy.StatusCodeName {
  const name = envoyRoot().lookupEnum('envoy.type.v3.StatusCode').valuesById[code];
  if (!name) throw new Error(`HTTP status ${code} has no envoy.type.v3.StatusCode name`);
  // protobufjs types enum names as string; this one is a name of the very enum the type is generated from.
  return name as envoy.StatusCodeName;
}

// ---------------------------------------------------------------- rate limit config over xDS

/**
 * Banyan's `ratelimit:` domains as RateLimitConfig resources (type URL RATELIMIT_CONFIG_TYPE), one
 * per domain and named after it, for standalone rate limit replicas that subscribe over ADS. The
 * wire mapping itself is config/ratelimit/resource.ts, shared with the replicas that read it.
 */
export function rateLimitConfigResources(config: Config): Map<string, envoy.RateLimitConfig> {
  const sorted = [...config.ratelimit].sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  return new Map(sorted.map((d) => [d.domain, toRateLimitConfig(d)]));
}
