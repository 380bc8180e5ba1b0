import type {
  DirectResponseAction,
  ForwardAction,
  HeaderMutation,
  Listener,
  RedirectAction,
  Route,
  RouteMatch,
  VirtualHost,
} from '../config/model.js';
import type { CompileContext } from './context.js';
import { CORS_FILTER, corsPolicy } from './cors.js';
import { FEATURES } from './features.js';
import type * as envoy from './envoy-types.js';
import { headerMatcher, queryMatcher } from './matchers.js';
import { compact, duration, fractionalPercent, wrap } from './util.js';

/** One RouteConfiguration per listener, named after it (the listener's RDS route_config_name). */
export function buildRouteConfiguration(listener: Listener, ctx: CompileContext): envoy.RouteConfiguration {
  return {
    name: listener.name,
    virtual_hosts: listener.hosts.map((host) => buildVirtualHost(host, listener, ctx)),
  };
}

function buildVirtualHost(host: VirtualHost, listener: Listener, ctx: CompileContext): envoy.VirtualHost {
  // What api listeners cannot honour is refused by admission (src/admission/grpc.ts); here only what they are sent.
  const proxyless = listener.kind === 'api';
  return compact({
    name: host.name,
    // gRPC clients match domains against their target authority; `*` accepts whatever name they dialled.
    domains: host.domains.length ? host.domains : ['*'],
    routes: host.routes.map((route) => buildRoute(route, listener, ctx)),
    typed_per_filter_config: !proxyless && host.cors ? { [CORS_FILTER]: corsPolicy(host.cors) } : undefined,
  });
}

function buildRoute(route: Route, listener: Listener, ctx: CompileContext): envoy.Route {
  const proxyless = listener.kind === 'api';
  const perFilter: Record<string, envoy.TypedAny> = {};
  if (route.cors && !proxyless) perFilter[CORS_FILTER] = corsPolicy(route.cors);
  const out: envoy.Route = { name: route.name, match: buildMatch(route.match) };
  switch (route.action.kind) {
    case 'forward':
      out.route = forwardAction(route.action, proxyless);
      break;
    case 'redirect':
      out.redirect = redirectAction(route.action);
      break;
    case 'direct':
      out.direct_response = directResponse(route.action);
      break;
  }
  // gRPC clients NACK per-filter config for filters they do not run, and api listeners run only the router.
  if (!proxyless) {
    for (const feature of FEATURES) {
      const extra = feature.route(route, listener, ctx.config);
      Object.assign(perFilter, extra.typedPerFilterConfig ?? {});
      if (extra.routeAction && Object.keys(extra.routeAction).length) {
        if (out.route) Object.assign(out.route, extra.routeAction);
        else ctx.warn(route.pos, `${feature.name} settings on route "${route.name}" are ignored: only forwarding routes carry them`);
      }
    }
  }
  Object.assign(out, headerMutations(route.requestHeaders, 'request'), headerMutations(route.responseHeaders, 'response'));
  if (Object.keys(perFilter).length) out.typed_per_filter_config = perFilter;
  return out;
}

export function buildMatch(match: RouteMatch): envoy.RouteMatch {
  const out: envoy.RouteMatch = {};
  if (match.prefix !== undefined) out.prefix = match.prefix;
  else if (match.path !== undefined) out.path = match.path;
  else if (match.regex !== undefined) out.safe_regex = { regex: match.regex };
  else out.prefix = '/';
  if (!match.caseSensitive) out.case_sensitive = wrap(false);
  if (match.headers.length) out.headers = match.headers.map(headerMatcher);
  if (match.query.length) out.query_parameters = match.query.map(queryMatcher);
  if (match.grpc) out.grpc = {};
  return out;
}

function forwardAction(a: ForwardAction, proxyless: boolean): envoy.RouteAction {
  const out: envoy.RouteAction = {};
  if (a.backends.length === 1) out.cluster = a.backends[0].cluster;
  else out.weighted_clusters = { clusters: a.backends.map((b) => ({ name: b.cluster, weight: wrap(b.weight) })) };
  if (a.timeoutMs !== undefined) {
    // gRPC clients ignore `timeout` and take their deadline cap from max_stream_duration (gRFC A18).
    if (proxyless) out.max_stream_duration = { max_stream_duration: duration(a.timeoutMs) };
    else out.timeout = duration(a.timeoutMs);
  }
  if (a.idleTimeoutMs !== undefined) out.idle_timeout = duration(a.idleTimeoutMs);
  if (a.retry) {
    out.retry_policy = compact({
      retry_on: a.retry.on.join(','),
      num_retries: wrap(a.retry.attempts),
      per_try_timeout: a.retry.perTryTimeoutMs !== undefined ? duration(a.retry.perTryTimeoutMs) : undefined,
      retriable_status_codes: a.retry.retriableStatusCodes.length ? a.retry.retriableStatusCodes : undefined,
      retry_back_off: a.retry.backoff ? { base_interval: duration(a.retry.backoff.baseMs), max_interval: duration(a.retry.backoff.maxMs) } : undefined,
    });
  }
  if (a.mirrors.length) {
    out.request_mirror_policies = a.mirrors.map((m) => ({ cluster: m.cluster, runtime_fraction: { default_value: fractionalPercent(m.percent) } }));
  }
  if (a.prefixRewrite !== undefined) out.prefix_rewrite = a.prefixRewrite;
  if (a.hostRewrite !== undefined) out.host_rewrite_literal = a.hostRewrite;
  return out;
}

const REDIRECT_CODES: Record<number, NonNullable<envoy.RedirectAction['response_code']>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function redirectAction(a: RedirectAction): envoy.RedirectAction {
  return compact({
    scheme_redirect: a.scheme,
    host_redirect: a.host,
    port_redirect: a.port,
    path_redirect: a.path,
    prefix_rewrite: a.path === undefined ? a.prefixRewrite : undefined,
    response_code: REDIRECT_CODES[a.status] ?? 'MOVED_PERMANENTLY',
    strip_query: a.stripQuery || undefined,
  });
}

function directResponse(a: DirectResponseAction): envoy.DirectResponseAction {
  return a.body !== undefined ? { status: a.status, body: { inline_string: a.body } } : { status: a.status };
}

function headerMutations(m: HeaderMutation, side: 'request' | 'response'): envoy.Route {
  const out: envoy.Route = {};
  if (m.add.length) {
    out[`${side}_headers_to_add` as const] = m.add.map((h) => ({
      header: { key: h.name, value: h.value },
      append_action: h.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
    }));
  }
  if (m.remove.length) out[`${side}_headers_to_remove` as const] = m.remove;
  return out;
}
