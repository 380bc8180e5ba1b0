/**
 * The Envoy message types the compiler builds, generated at build time from the protos Banyan loads
 * (`npm run gen:types`, scripts/gen-proto-types.mjs → src/proto/generated/, never committed). These are
 * proto-loader's input ("permissive") types with keepCase: protobufjs object form, the shape
 * encodeMessage takes. Only types are imported from the generated tree, so nothing here exists at run time.
 */
import type { _envoy_config_route_v3_RateLimit_Action } from '../proto/generated/envoy/config/route/v3/RateLimit.js';
import type { Cors } from '../proto/generated/envoy/extensions/filters/http/cors/v3/Cors.js';
import type { CorsPolicy } from '../proto/generated/envoy/extensions/filters/http/cors/v3/CorsPolicy.js';
import type { HTTPFault } from '../proto/generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js';
import type { ExtAuthz } from '../proto/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.js';
import type { ExtAuthzPerRoute } from '../proto/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthzPerRoute.js';
import type { LocalRateLimit } from '../proto/generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.js';
import type { RateLimit as RateLimitFilter } from '../proto/generated/envoy/extensions/filters/http/ratelimit/v3/RateLimit.js';
import type { Router } from '../proto/generated/envoy/extensions/filters/http/router/v3/Router.js';
import type { HttpConnectionManager } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js';
import type { StdoutAccessLog } from '../proto/generated/envoy/extensions/access_loggers/stream/v3/StdoutAccessLog.js';
import type { UpstreamTlsContext } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js';
import type { DownstreamTlsContext } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.js';
import type { HttpProtocolOptions } from '../proto/generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.js';

export type { Bootstrap } from '../proto/generated/envoy/config/bootstrap/v3/Bootstrap.js';
export type { Cluster } from '../proto/generated/envoy/config/cluster/v3/Cluster.js';
export type { ConfigSource } from '../proto/generated/envoy/config/core/v3/ConfigSource.js';
export type { GrpcService } from '../proto/generated/envoy/config/core/v3/GrpcService.js';
export type { AccessLog } from '../proto/generated/envoy/config/accesslog/v3/AccessLog.js';
export type { Address } from '../proto/generated/envoy/config/core/v3/Address.js';
export type { Http2ProtocolOptions } from '../proto/generated/envoy/config/core/v3/Http2ProtocolOptions.js';
export type { TransportSocket } from '../proto/generated/envoy/config/core/v3/TransportSocket.js';
export type { ClusterLoadAssignment } from '../proto/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js';
export type { LbEndpoint } from '../proto/generated/envoy/config/endpoint/v3/LbEndpoint.js';
export type { Listener } from '../proto/generated/envoy/config/listener/v3/Listener.js';
export type { DirectResponseAction } from '../proto/generated/envoy/config/route/v3/DirectResponseAction.js';
export type { HeaderMatcher } from '../proto/generated/envoy/config/route/v3/HeaderMatcher.js';
export type { QueryParameterMatcher } from '../proto/generated/envoy/config/route/v3/QueryParameterMatcher.js';
export type { RateLimit as RouteRateLimit } from '../proto/generated/envoy/config/route/v3/RateLimit.js';
export type { RedirectAction } from '../proto/generated/envoy/config/route/v3/RedirectAction.js';
export type { Route } from '../proto/generated/envoy/config/route/v3/Route.js';
export type { RouteAction } from '../proto/generated/envoy/config/route/v3/RouteAction.js';
export type { RouteConfiguration } from '../proto/generated/envoy/config/route/v3/RouteConfiguration.js';
export type { RouteMatch } from '../proto/generated/envoy/config/route/v3/RouteMatch.js';
export type { VirtualHost } from '../proto/generated/envoy/config/route/v3/VirtualHost.js';
export type { HttpFilter } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js';
export type { CertificateValidationContext } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext.js';
export type { SubjectAltNameMatcher } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/SubjectAltNameMatcher.js';
export type { Secret } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
export type { SdsSecretConfig } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/SdsSecretConfig.js';
export type { ListenerFilter } from '../proto/generated/envoy/config/listener/v3/ListenerFilter.js';
export type { FilterChain } from '../proto/generated/envoy/config/listener/v3/FilterChain.js';
export type { CommonTlsContext } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js';
export type { StringMatcher } from '../proto/generated/envoy/type/matcher/v3/StringMatcher.js';
export type { StatusCode__Output as StatusCodeName } from '../proto/generated/envoy/type/v3/StatusCode.js';
export type { FractionalPercent } from '../proto/generated/envoy/type/v3/FractionalPercent.js';
export type { Duration } from '../proto/generated/google/protobuf/Duration.js';
export type { RateLimitConfig } from '../proto/generated/ratelimit/config/ratelimit/v3/RateLimitConfig.js';
export type { RateLimitDescriptor } from '../proto/generated/ratelimit/config/ratelimit/v3/RateLimitDescriptor.js';
export type { RateLimitPolicy } from '../proto/generated/ratelimit/config/ratelimit/v3/RateLimitPolicy.js';
export type { Cors, CorsPolicy, ExtAuthz, ExtAuthzPerRoute, HttpConnectionManager, HttpProtocolOptions, LocalRateLimit, RateLimitFilter, Router, StdoutAccessLog, UpstreamTlsContext, DownstreamTlsContext };

/**
 * envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector, which Banyan sends empty (its
 * proto is loaded by src/proto/envoy.ts; no generated type is needed for an empty message).
 */
export type TlsInspector = Record<string, never>;

/**
 * google.protobuf.Any as the compiler writes it: protobufjs's wrapper form, `{'@type': url, ...fields}`.
 * The generated Any (what message fields hold) allows it too, besides the wire form {type_url, value};
 * build one with `typed()` (util.ts), which checks the fields against the type the URL names.
 */
export type TypedAny = { '@type': string } & Record<string, unknown>;

/**
 * RateLimit.Action with the action Banyan declares beyond the proto snapshot it loads
 * (src/ratelimit/envoy-additions.ts: query_parameters = 12, as in Envoy's current API).
 */
export type RouteRateLimitAction = _envoy_config_route_v3_RateLimit_Action & {
  query_parameters?: { query_parameter_name?: string; descriptor_key?: string; skip_if_absent?: boolean };
};

/** Every message Banyan puts in an Any, by type URL: what `typed(url, value)` checks `value` against. */
export interface TypedConfigs {
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': HttpConnectionManager;
  'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router': Router;
  'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors': Cors;
  'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy': CorsPolicy;
  'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault': HTTPFault;
  'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz': ExtAuthz;
  'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute': ExtAuthzPerRoute;
  'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit': RateLimitFilter;
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit': LocalRateLimit;
  'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog': StdoutAccessLog;
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext': UpstreamTlsContext;
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext': DownstreamTlsContext;
  'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': TlsInspector;
  'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions': HttpProtocolOptions;
}
export type TypedConfigUrl = keyof TypedConfigs;
