/**
 * Planted-violation corpus for Envoy's protoc-gen-validate (PGV) rules: each case is a resource that
 * Banyan really compiles (from a golden config under test/golden/in/, or the rendered bootstrap) with
 * ONE field changed so that it breaks exactly one `(validate.rules)` annotation of Envoy's protos.
 *
 * Pure data and builders, no test code: test/oracle/oracle.test.ts checks each case against
 * go-control-plane's ValidateAll, and Banyan's own admission stage can be checked against the same
 * cases. `expectPath` is the oracle's path of the violated field: proto field names, `[i]` for a list
 * index, `[key]` for a map key, the oneof's name for a required oneof, and `field(TypeName)` for the
 * content of a google.protobuf.Any.
 *
 * `rule` names the violated rule as `<kind>.<rule>` (e.g. `uint32.lte`, `repeated.items.string.in`),
 * with `(wrapper)` when the field is a google.protobuf.*Value wrapper and `(in Any)` when the field sits
 * inside an Any.
 *
 * Rule kinds that occur in Envoy's protos but cannot be planted here:
 * - string prefix/suffix: only on RateLimit.HitsAddend.format, a field newer than the Envoy API tree
 *   Banyan encodes with (@grpc/grpc-js-xds's), so encodeMessage cannot write it.
 * - Timestamp, int32/int64/sint/fixed, float, string max_len/min_bytes/not_in/contains and the
 *   well-known hostname/ip/address/uri/email rules, map max_pairs/values, any in/not_in: no field of
 *   the messages Banyan emits (or that those reach) carries them.
 * - string.well_known_regex with ignore_empty: a relaxation (the empty string passes); the case below
 *   violates the strict regex itself.
 * - uint32 values above 2^32-1 are not plantable at all: protobufjs wraps them modulo 2^32 when encoding
 *   (and int32 nanos above 2^31-1 turn negative), so every uint32 case uses a value that fits.
 * - An enum name that the enum lacks is dropped by protobufjs's fromObject (the field is then unset),
 *   so enum.defined_only cases use an undefined *number*, which protobufjs encodes as given.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderBootstrap } from '../../src/compile/bootstrap.js';
import { compile } from '../../src/compile/index.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { TypeUrl } from '../../src/proto/envoy.js';

export interface PlantedCase {
  name: string;
  rule: string;
  typeUrl: string;
  resource: Record<string, unknown>;
  expectPath: string;
}

/** An unmutated resource a case starts from; it must pass validation. */
export interface PlantedBase {
  /** `<golden config>/<resource name>`, or `bootstrap/edge`. */
  name: string;
  typeUrl: string;
  resource: Record<string, unknown>;
}

export const BOOTSTRAP_TYPE_URL = 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap';

const GOLDEN_IN = fileURLToPath(new URL('../golden/in/', import.meta.url));

const snapshots = new Map<string, CompiledSnapshot>();

function snapshot(config: string): CompiledSnapshot {
  let s = snapshots.get(config);
  if (!s) {
    const file = `${config}.yaml`;
    const loaded = loadConfigFromString(fs.readFileSync(`${GOLDEN_IN}${file}`, 'utf8'), file);
    if (!loaded.config) throw new Error(`test/golden/in/${file} does not load`);
    s = compile(loaded.config);
    snapshots.set(config, s);
  }
  return s;
}

/** A deep copy of a compiled resource: "<config>/<name>" of the given type, from the default group. */
function compiled(typeUrl: string, ref: string): Record<string, unknown> {
  const [config, name] = ref.split('/');
  const s = snapshot(config);
  for (const set of s.groups.values()) {
    const r = set.get(typeUrl as never)?.get(name);
    if (r) return deepCopy(r) as Record<string, unknown>;
  }
  throw new Error(`no ${typeUrl} named "${name}" in test/golden/in/${config}.yaml`);
}

function bootstrap(): Record<string, unknown> {
  return deepCopy(
    renderBootstrap({ nodeId: 'edge-1', group: 'edge', kind: 'edge', xdsHost: 'banyan.internal', xdsPort: 18000, adminPort: 9901 }),
  ) as Record<string, unknown>;
}

/**
 * A copy sharing no object with the original, nor within itself: the compiler reuses objects (one
 * FractionalPercent for both filter_enabled and filter_enforced), and a mutation must change one field.
 */
function deepCopy(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(deepCopy);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepCopy(v)]));
  return value;
}

type Mutable = any;

interface Source {
  typeUrl: string;
  /** "<golden config>/<resource name>" or "bootstrap/edge". */
  ref: string;
}

const cluster = (ref: string): Source => ({ typeUrl: TypeUrl.Cluster, ref });
const cla = (ref: string): Source => ({ typeUrl: TypeUrl.ClusterLoadAssignment, ref });
const listener = (ref: string): Source => ({ typeUrl: TypeUrl.Listener, ref });
const routes = (ref: string): Source => ({ typeUrl: TypeUrl.RouteConfiguration, ref });
const BOOTSTRAP: Source = { typeUrl: BOOTSTRAP_TYPE_URL, ref: 'bootstrap/edge' };

function load(src: Source): Record<string, unknown> {
  return src.ref === BOOTSTRAP.ref ? bootstrap() : compiled(src.typeUrl, src.ref);
}

interface Spec {
  name: string;
  rule: string;
  from: Source;
  expectPath: string;
  mutate: (r: Mutable) => void;
}

// Paths of the Anys the cases reach into.
const HCM = 'filter_chains[0].filters[0].typed_config(HttpConnectionManager)';
const UPSTREAM_HTTP = 'typed_extension_protocol_options[envoy.extensions.upstreams.http.v3.HttpProtocolOptions](HttpProtocolOptions)';
const UTLS = 'transport_socket.typed_config(UpstreamTlsContext)';
const LOCAL_RL = 'virtual_hosts[0].routes[0].typed_per_filter_config[envoy.filters.http.local_ratelimit](LocalRateLimit)';
const AUTHZ_PER_ROUTE = (route: number) => `virtual_hosts[0].routes[${route}].typed_per_filter_config[envoy.filters.http.ext_authz](ExtAuthzPerRoute)`;

const hcm = (r: Mutable): Mutable => r.filter_chains[0].filters[0].typed_config;
const upstreamHttp = (r: Mutable): Mutable => r.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
const localRl = (r: Mutable): Mutable => r.virtual_hosts[0].routes[0].typed_per_filter_config['envoy.filters.http.local_ratelimit'];
const authzPerRoute = (r: Mutable, route: number): Mutable => r.virtual_hosts[0].routes[route].typed_per_filter_config['envoy.filters.http.ext_authz'];
const headerOption = (i: number) => ({ header: { key: `x-extra-${i}`, value: 'v' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });

const SPECS: Spec[] = [
  // ---- Cluster -------------------------------------------------------------------------------
  { name: 'cluster name empty', rule: 'string.min_len', from: cluster('features/monolith'), expectPath: 'name', mutate: (r) => (r.name = '') },
  {
    name: 'cluster connect_timeout zero',
    rule: 'duration.gt',
    from: cluster('features/monolith'),
    expectPath: 'connect_timeout',
    mutate: (r) => (r.connect_timeout = { seconds: 0 }),
  },
  {
    name: 'cluster connect_timeout not a valid Duration (nanos out of range)',
    rule: 'duration.valid',
    from: cluster('features/monolith'),
    expectPath: 'connect_timeout',
    mutate: (r) => (r.connect_timeout = { seconds: 1, nanos: 1_000_000_000 }),
  },
  { name: 'cluster lb_policy undefined', rule: 'enum.defined_only', from: cluster('features/monolith'), expectPath: 'lb_policy', mutate: (r) => (r.lb_policy = 99) },
  {
    name: 'cluster dns_lookup_family undefined',
    rule: 'enum.defined_only',
    from: cluster('tls/partner-api'),
    expectPath: 'dns_lookup_family',
    mutate: (r) => (r.dns_lookup_family = 42),
  },
  {
    name: 'outlier max_ejection_percent over 100',
    rule: 'uint32.lte (wrapper)',
    from: cluster('outlier-detection/auth'),
    expectPath: 'outlier_detection.max_ejection_percent',
    mutate: (r) => (r.outlier_detection.max_ejection_percent = { value: 101 }),
  },
  {
    name: 'outlier interval zero',
    rule: 'duration.gt',
    from: cluster('outlier-detection/auth'),
    expectPath: 'outlier_detection.interval',
    mutate: (r) => (r.outlier_detection.interval = { seconds: 0 }),
  },
  {
    name: 'ring hash maximum_ring_size over 8M',
    rule: 'uint64.lte (wrapper)',
    from: cluster('outlier-detection/auth'),
    expectPath: 'ring_hash_lb_config.maximum_ring_size',
    mutate: (r) => (r.ring_hash_lb_config = { maximum_ring_size: { value: 8_388_609 } }),
  },
  {
    name: 'healthy_panic_threshold over 100%',
    rule: 'double.lte',
    from: cluster('features/monolith'),
    expectPath: 'common_lb_config.healthy_panic_threshold.value',
    mutate: (r) => (r.common_lb_config = { healthy_panic_threshold: { value: 100.5 } }),
  },
  {
    name: 'healthy_panic_threshold negative',
    rule: 'double.gte',
    from: cluster('features/monolith'),
    expectPath: 'common_lb_config.healthy_panic_threshold.value',
    mutate: (r) => (r.common_lb_config = { healthy_panic_threshold: { value: -1 } }),
  },
  {
    name: 'per_upstream_preconnect_ratio under 1',
    rule: 'double.gte (wrapper)',
    from: cluster('features/monolith'),
    expectPath: 'preconnect_policy.per_upstream_preconnect_ratio',
    mutate: (r) => (r.preconnect_policy = { per_upstream_preconnect_ratio: { value: 0.5 } }),
  },
  {
    name: 'per_upstream_preconnect_ratio over 3',
    rule: 'double.lte (wrapper)',
    from: cluster('features/monolith'),
    expectPath: 'preconnect_policy.per_upstream_preconnect_ratio',
    mutate: (r) => (r.preconnect_policy = { per_upstream_preconnect_ratio: { value: 3.5 } }),
  },
  {
    name: 'override_host_status with an undefined health status',
    rule: 'repeated.items.enum.defined_only',
    from: cluster('features/monolith'),
    expectPath: 'common_lb_config.override_host_status.statuses[1]',
    mutate: (r) => (r.common_lb_config = { override_host_status: { statuses: ['HEALTHY', 77] } }),
  },
  {
    name: 'health check without healthy_threshold',
    rule: 'message.required',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].healthy_threshold',
    mutate: (r) => delete r.health_checks[0].healthy_threshold,
  },
  {
    name: 'health check without timeout',
    rule: 'duration.required',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].timeout',
    mutate: (r) => delete r.health_checks[0].timeout,
  },
  {
    name: 'health check host with a control character',
    rule: 'string.well_known_regex HTTP_HEADER_VALUE strict:true',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].http_health_check.host',
    mutate: (r) => (r.health_checks[0].http_health_check.host = 'auth\u0001.internal'),
  },
  {
    name: 'health check path with DEL',
    rule: 'string.well_known_regex HTTP_HEADER_VALUE strict:true',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].http_health_check.path',
    mutate: (r) => (r.health_checks[0].http_health_check.path = '/healthz\u007f'),
  },
  {
    name: 'health check path empty',
    rule: 'string.min_len',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].http_health_check.path',
    mutate: (r) => (r.health_checks[0].http_health_check.path = ''),
  },
  {
    name: 'health check method CONNECT',
    rule: 'enum.not_in',
    from: cluster('health-check/auth'),
    expectPath: 'health_checks[0].http_health_check.method',
    mutate: (r) => (r.health_checks[0].http_health_check.method = 'CONNECT'),
  },
  {
    name: 'upstream TLS sni over 255 bytes',
    rule: 'string.max_bytes (in Any)',
    from: cluster('tls/internal-tls'),
    expectPath: `${UTLS}.sni`,
    mutate: (r) => (r.transport_socket.typed_config.sni = `${'a'.repeat(250)}.internal.example`),
  },
  {
    name: 'SAN matcher with san_type unspecified',
    rule: 'enum.not_in (in Any)',
    from: cluster('tls/internal-tls'),
    expectPath: `${UTLS}.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type`,
    mutate: (r) => (r.transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type = 'SAN_TYPE_UNSPECIFIED'),
  },
  {
    name: 'verify_certificate_spki too short',
    rule: 'repeated.items.string.min_len (in Any)',
    from: cluster('tls/internal-tls'),
    expectPath: `${UTLS}.common_tls_context.validation_context.verify_certificate_spki[0]`,
    mutate: (r) => (r.transport_socket.typed_config.common_tls_context.validation_context.verify_certificate_spki = ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A']),
  },
  {
    name: 'verify_certificate_hash too long',
    rule: 'repeated.items.string.max_bytes (in Any)',
    from: cluster('tls/internal-tls'),
    expectPath: `${UTLS}.common_tls_context.validation_context.verify_certificate_hash[0]`,
    mutate: (r) => (r.transport_socket.typed_config.common_tls_context.validation_context.verify_certificate_hash = ['ab:'.repeat(32)]),
  },
  {
    name: 'override_auto_sni_header not a header name',
    rule: 'string.well_known_regex HTTP_HEADER_NAME strict:true (in map Any)',
    from: cluster('features/banyan_authz'),
    expectPath: `${UPSTREAM_HTTP}.upstream_http_protocol_options.override_auto_sni_header`,
    mutate: (r) => (upstreamHttp(r).upstream_http_protocol_options = { override_auto_sni_header: 'x sni' }),
  },
  {
    name: 'common_http_protocol_options max_headers_count zero',
    rule: 'uint32.gte (wrapper, in map Any)',
    from: cluster('features/banyan_authz'),
    expectPath: `${UPSTREAM_HTTP}.common_http_protocol_options.max_headers_count`,
    mutate: (r) => (upstreamHttp(r).common_http_protocol_options = { max_headers_count: { value: 0 } }),
  },
  {
    name: 'QUIC idle_network_timeout over 600s',
    rule: 'duration.lte (in map Any)',
    from: cluster('features/banyan_authz'),
    expectPath: `${UPSTREAM_HTTP}.explicit_http_config.http3_protocol_options.quic_protocol_options.idle_network_timeout`,
    mutate: (r) => (upstreamHttp(r).explicit_http_config = { http3_protocol_options: { quic_protocol_options: { idle_network_timeout: { seconds: 601 } } } }),
  },
  {
    name: 'load balancing policy without typed_config',
    rule: 'any.required',
    from: cluster('features/monolith'),
    expectPath: 'load_balancing_policy.policies[0].typed_extension_config.typed_config',
    mutate: (r) => (r.load_balancing_policy = { policies: [{ typed_extension_config: { name: 'envoy.load_balancing_policies.round_robin' } }] }),
  },
  {
    name: 'filter_metadata with an empty key',
    rule: 'map.keys.string.min_len',
    from: cluster('features/monolith'),
    expectPath: 'metadata.filter_metadata[]',
    mutate: (r) => (r.metadata = { filter_metadata: { '': { fields: { team: { string_value: 'payments' } } } } }),
  },

  // ---- ClusterLoadAssignment ------------------------------------------------------------------
  { name: 'load assignment cluster_name empty', rule: 'string.min_len', from: cla('features/monolith'), expectPath: 'cluster_name', mutate: (r) => (r.cluster_name = '') },
  {
    name: 'endpoint port over 65535',
    rule: 'uint32.lte',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
    mutate: (r) => (r.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 65_536),
  },
  {
    name: 'endpoint without a port',
    rule: 'oneof.required',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_specifier',
    mutate: (r) => delete r.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value,
  },
  {
    name: 'endpoint address empty',
    rule: 'string.min_len',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
    mutate: (r) => (r.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = ''),
  },
  {
    name: 'endpoint Address with no kind of address',
    rule: 'oneof.required',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].lb_endpoints[0].endpoint.address.address',
    mutate: (r) => (r.endpoints[0].lb_endpoints[0].endpoint.address = {}),
  },
  {
    name: 'locality weight zero',
    rule: 'uint32.gte (wrapper)',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].load_balancing_weight',
    mutate: (r) => (r.endpoints[0].load_balancing_weight = { value: 0 }),
  },
  {
    name: 'locality priority over 128',
    rule: 'uint32.lte',
    from: cla('features/monolith'),
    expectPath: 'endpoints[0].priority',
    mutate: (r) => (r.endpoints[0].priority = 129),
  },

  // ---- Listener (and the Anys inside it) -------------------------------------------------------
  {
    name: 'listener port over 65535',
    rule: 'uint32.lte',
    from: listener('features/edge'),
    expectPath: 'address.socket_address.port_value',
    mutate: (r) => (r.address.socket_address.port_value = 65_536),
  },
  {
    name: 'listener without a port',
    rule: 'oneof.required',
    from: listener('features/edge'),
    expectPath: 'address.socket_address.port_specifier',
    mutate: (r) => delete r.address.socket_address.port_value,
  },
  {
    name: 'filter chain match source port zero',
    rule: 'repeated.items.uint32.gte',
    from: listener('features/edge'),
    expectPath: 'filter_chains[0].filter_chain_match.source_ports[1]',
    mutate: (r) => (r.filter_chains[0].filter_chain_match = { source_ports: [443, 0] }),
  },
  {
    name: 'UDP max_rx_datagram_size 64KiB',
    rule: 'uint64.lt (wrapper)',
    from: listener('features/edge'),
    expectPath: 'udp_listener_config.downstream_socket_config.max_rx_datagram_size',
    mutate: (r) => (r.udp_listener_config = { downstream_socket_config: { max_rx_datagram_size: { value: 65_536 } } }),
  },
  { name: 'network filter name empty', rule: 'string.min_len', from: listener('features/edge'), expectPath: 'filter_chains[0].filters[0].name', mutate: (r) => (r.filter_chains[0].filters[0].name = '') },
  { name: 'HCM stat_prefix empty', rule: 'string.min_len (in Any)', from: listener('features/edge'), expectPath: `${HCM}.stat_prefix`, mutate: (r) => (hcm(r).stat_prefix = '') },
  {
    name: 'API listener HCM stat_prefix empty',
    rule: 'string.min_len (in Any)',
    from: listener('api-listener/orders'),
    expectPath: 'api_listener.api_listener(HttpConnectionManager).stat_prefix',
    mutate: (r) => (r.api_listener.api_listener.stat_prefix = ''),
  },
  { name: 'HCM codec_type undefined', rule: 'enum.defined_only (in Any)', from: listener('features/edge'), expectPath: `${HCM}.codec_type`, mutate: (r) => (hcm(r).codec_type = 7) },
  { name: 'HCM without rds or route_config', rule: 'oneof.required (in Any)', from: listener('features/edge'), expectPath: `${HCM}.route_specifier`, mutate: (r) => delete hcm(r).rds },
  {
    name: 'HCM rds without config_source',
    rule: 'message.required (in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.rds.config_source`,
    mutate: (r) => delete hcm(r).rds.config_source,
  },
  { name: 'HTTP filter name empty', rule: 'string.min_len (in Any)', from: listener('features/edge'), expectPath: `${HCM}.http_filters[0].name`, mutate: (r) => (hcm(r).http_filters[0].name = '') },
  {
    name: 'HCM request_headers_timeout negative',
    rule: 'duration.gte (in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.request_headers_timeout`,
    mutate: (r) => (hcm(r).request_headers_timeout = { seconds: -1 }),
  },
  {
    name: 'HCM max_request_headers_kb zero',
    rule: 'uint32.gt (wrapper, in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.max_request_headers_kb`,
    mutate: (r) => (hcm(r).max_request_headers_kb = { value: 0 }),
  },
  {
    name: 'HCM max_request_headers_kb over 8192',
    rule: 'uint32.lte (wrapper, in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.max_request_headers_kb`,
    mutate: (r) => (hcm(r).max_request_headers_kb = { value: 8193 }),
  },
  {
    name: 'HCM scheme_to_overwrite ftp',
    rule: 'string.in (in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.scheme_header_transformation.scheme_to_overwrite`,
    mutate: (r) => (hcm(r).scheme_header_transformation = { scheme_to_overwrite: 'ftp' }),
  },
  {
    name: 'HCM server_name with a newline',
    rule: 'string.well_known_regex HTTP_HEADER_VALUE strict:false (in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.server_name`,
    mutate: (r) => (hcm(r).server_name = 'banyan\nx-injected: 1'),
  },
  {
    name: 'access log response flag filter with an unknown flag',
    rule: 'repeated.items.string.in (in Any)',
    from: listener('multiple-listeners/admin'),
    expectPath: `${HCM}.access_log[0].filter.response_flag_filter.flags[1]`,
    mutate: (r) => (hcm(r).access_log[0].filter = { response_flag_filter: { flags: ['UH', 'XX'] } }),
  },
  {
    name: 'access log and_filter with one filter',
    rule: 'repeated.min_items (in Any)',
    from: listener('multiple-listeners/admin'),
    expectPath: `${HCM}.access_log[0].filter.and_filter.filters`,
    mutate: (r) => (hcm(r).access_log[0].filter = { and_filter: { filters: [{ not_health_check_filter: {} }] } }),
  },
  {
    name: 'ext_authz gRPC cluster_name empty',
    rule: 'string.min_len (in Any in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.http_filters[0].typed_config(ExtAuthz).grpc_service.envoy_grpc.cluster_name`,
    mutate: (r) => (hcm(r).http_filters[0].typed_config.grpc_service.envoy_grpc.cluster_name = ''),
  },
  {
    name: 'ratelimit filter request_type unknown',
    rule: 'string.in (in Any in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.http_filters[1].typed_config(RateLimit).request_type`,
    mutate: (r) => (hcm(r).http_filters[1].typed_config.request_type = 'sometimes'),
  },
  {
    name: 'ratelimit filter stage over 10',
    rule: 'uint32.lte (in Any in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.http_filters[1].typed_config(RateLimit).stage`,
    mutate: (r) => (hcm(r).http_filters[1].typed_config.stage = 11),
  },
  {
    name: 'ratelimit filter without rate_limit_service',
    rule: 'message.required (in Any in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.http_filters[1].typed_config(RateLimit).rate_limit_service`,
    mutate: (r) => delete hcm(r).http_filters[1].typed_config.rate_limit_service,
  },
  {
    name: 'router strict_check_headers with a header it cannot check',
    rule: 'repeated.items.string.in (in Any in Any)',
    from: listener('features/edge'),
    expectPath: `${HCM}.http_filters[2].typed_config(Router).strict_check_headers[1]`,
    mutate: (r) => (hcm(r).http_filters[2].typed_config.strict_check_headers = ['x-envoy-retry-on', 'x-custom']),
  },

  // ---- RouteConfiguration (and the Anys inside it) ---------------------------------------------
  { name: 'virtual host without domains', rule: 'repeated.min_items', from: routes('features/edge'), expectPath: 'virtual_hosts[0].domains', mutate: (r) => (r.virtual_hosts[0].domains = []) },
  {
    name: 'virtual host domain with a carriage return',
    rule: 'repeated.items.string.well_known_regex HTTP_HEADER_VALUE strict:false',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].domains[0]',
    mutate: (r) => (r.virtual_hosts[0].domains = ['api.example.com\r']),
  },
  {
    name: 'weighted clusters empty',
    rule: 'repeated.min_items',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.weighted_clusters.clusters',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.weighted_clusters.clusters = []),
  },
  {
    name: 'route rate limit without actions',
    rule: 'repeated.min_items',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.rate_limits[0].actions',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.rate_limits[0].actions = []),
  },
  {
    name: 'route rate limit stage over 10',
    rule: 'uint32.lte (wrapper)',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.rate_limits[0].stage',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.rate_limits[0].stage = { value: 11 }),
  },
  {
    name: 'rate limit action of no kind',
    rule: 'oneof.required',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].action_specifier',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.rate_limits[0].actions[0] = {}),
  },
  {
    name: 'rate limit request_headers header_name empty',
    rule: 'string.min_len',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.rate_limits[1].actions[0].request_headers.header_name',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.rate_limits[1].actions[0].request_headers.header_name = ''),
  },
  { name: 'route without match', rule: 'message.required', from: routes('features/edge'), expectPath: 'virtual_hosts[0].routes[0].match', mutate: (r) => delete r.virtual_hosts[0].routes[0].match },
  { name: 'route without an action', rule: 'oneof.required', from: routes('features/edge'), expectPath: 'virtual_hosts[0].routes[2].action', mutate: (r) => delete r.virtual_hosts[0].routes[2].route },
  {
    name: 'ext_authz per-route config with no override',
    rule: 'oneof.required (in map Any)',
    from: routes('features/edge'),
    expectPath: `${AUTHZ_PER_ROUTE(2)}.override`,
    mutate: (r) => delete authzPerRoute(r, 2).check_settings,
  },
  {
    name: 'ext_authz per-route disabled: false',
    rule: 'bool.const (in map Any)',
    from: routes('features/edge'),
    expectPath: `${AUTHZ_PER_ROUTE(1)}.disabled`,
    mutate: (r) => (authzPerRoute(r, 1).disabled = false),
  },
  {
    name: 'direct response status under 200',
    rule: 'uint32.gte',
    from: routes('direct-response/edge'),
    expectPath: 'virtual_hosts[0].routes[1].direct_response.status',
    mutate: (r) => (r.virtual_hosts[0].routes[1].direct_response.status = 199),
  },
  {
    name: 'direct response status 600',
    rule: 'uint32.lt',
    from: routes('direct-response/edge'),
    expectPath: 'virtual_hosts[0].routes[1].direct_response.status',
    mutate: (r) => (r.virtual_hosts[0].routes[1].direct_response.status = 600),
  },
  {
    name: '1001 request headers to add',
    rule: 'repeated.max_items',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_add',
    mutate: (r) => (r.virtual_hosts[0].routes[0].request_headers_to_add = Array.from({ length: 1001 }, (_, i) => headerOption(i))),
  },
  {
    name: 'header value over 16 KiB',
    rule: 'string.max_bytes',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_add[0].header.value',
    mutate: (r) => (r.virtual_hosts[0].routes[0].request_headers_to_add[0].header.value = 'v'.repeat(16_385)),
  },
  {
    name: 'header raw_value over 16 KiB',
    rule: 'bytes.max_len',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_add[1].header.raw_value',
    mutate: (r) => {
      const header = r.virtual_hosts[0].routes[0].request_headers_to_add[1].header;
      delete header.value;
      header.raw_value = new Uint8Array(16_385).fill(0x61);
    },
  },
  {
    name: 'header value with CRLF',
    rule: 'string.well_known_regex HTTP_HEADER_VALUE strict:false',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_add[0].header.value',
    mutate: (r) => (r.virtual_hosts[0].routes[0].request_headers_to_add[0].header.value = 'tagged\r\nx-injected: 1'),
  },
  {
    name: 'header key with a newline',
    rule: 'string.well_known_regex HTTP_HEADER_NAME strict:false',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].response_headers_to_add[0].header.key',
    mutate: (r) => (r.virtual_hosts[0].routes[0].response_headers_to_add[0].header.key = 'x-served\nby'),
  },
  {
    name: 'header key empty',
    rule: 'string.min_len',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].response_headers_to_add[1].header.key',
    mutate: (r) => (r.virtual_hosts[0].routes[0].response_headers_to_add[1].header.key = ''),
  },
  {
    name: 'header append_action undefined',
    rule: 'enum.defined_only',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_add[1].append_action',
    mutate: (r) => (r.virtual_hosts[0].routes[0].request_headers_to_add[1].append_action = 9),
  },
  {
    name: 'request header to remove empty',
    rule: 'repeated.items.string.min_len',
    from: routes('header-mutations/edge'),
    expectPath: 'virtual_hosts[0].routes[0].request_headers_to_remove[1]',
    mutate: (r) => r.virtual_hosts[0].routes[0].request_headers_to_remove.push(''),
  },
  {
    name: 'header matcher name with a newline',
    rule: 'string.well_known_regex HTTP_HEADER_NAME strict:false',
    from: routes('header-match/edge'),
    expectPath: 'virtual_hosts[0].routes[0].match.headers[0].name',
    mutate: (r) => (r.virtual_hosts[0].routes[0].match.headers[0].name = 'x-beta\n'),
  },
  {
    name: 'header string_match of no kind',
    rule: 'oneof.required',
    from: routes('header-match/edge'),
    expectPath: 'virtual_hosts[0].routes[0].match.headers[0].string_match.match_pattern',
    mutate: (r) => (r.virtual_hosts[0].routes[0].match.headers[0].string_match = {}),
  },
  {
    name: 'header string_match prefix empty',
    rule: 'string.min_len',
    from: routes('header-match/edge'),
    expectPath: 'virtual_hosts[0].routes[0].match.headers[1].string_match.prefix',
    mutate: (r) => (r.virtual_hosts[0].routes[0].match.headers[1].string_match.prefix = ''),
  },
  {
    name: 'safe_regex empty',
    rule: 'string.min_len',
    from: routes('regex/edge'),
    expectPath: 'virtual_hosts[0].routes[0].match.safe_regex.regex',
    mutate: (r) => (r.virtual_hosts[0].routes[0].match.safe_regex.regex = ''),
  },
  {
    name: 'path_separated_prefix ending in a slash',
    rule: 'string.pattern',
    from: routes('regex/edge'),
    expectPath: 'virtual_hosts[0].routes[1].match.path_separated_prefix',
    mutate: (r) => {
      const match = r.virtual_hosts[0].routes[1].match;
      delete match.prefix;
      match.path_separated_prefix = '/Docs/';
    },
  },
  {
    name: 'query parameter name over 1 KiB',
    rule: 'string.max_bytes',
    from: routes('query-match/edge'),
    expectPath: 'virtual_hosts[0].routes[0].match.query_parameters[0].name',
    mutate: (r) => (r.virtual_hosts[0].routes[0].match.query_parameters[0].name = 'v'.repeat(1025)),
  },
  {
    name: 'CORS origin matcher of no kind',
    rule: 'oneof.required (in map Any)',
    from: routes('cors/edge'),
    expectPath: 'virtual_hosts[0].typed_per_filter_config[envoy.filters.http.cors](CorsPolicy).allow_origin_string_match[1].match_pattern',
    mutate: (r) => (r.virtual_hosts[0].typed_per_filter_config['envoy.filters.http.cors'].allow_origin_string_match[1] = {}),
  },
  {
    name: 'local rate limit max_tokens zero',
    rule: 'uint32.gt (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.token_bucket.max_tokens`,
    mutate: (r) => (localRl(r).token_bucket.max_tokens = 0),
  },
  {
    name: 'local rate limit tokens_per_fill zero',
    rule: 'uint32.gt (wrapper, in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.token_bucket.tokens_per_fill`,
    mutate: (r) => (localRl(r).token_bucket.tokens_per_fill = { value: 0 }),
  },
  {
    name: 'local rate limit without fill_interval',
    rule: 'duration.required (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.token_bucket.fill_interval`,
    mutate: (r) => delete localRl(r).token_bucket.fill_interval,
  },
  {
    name: 'local rate limit fill_interval zero',
    rule: 'duration.gt (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.token_bucket.fill_interval`,
    mutate: (r) => (localRl(r).token_bucket.fill_interval = { seconds: 0 }),
  },
  {
    name: 'local rate limit stat_prefix empty',
    rule: 'string.min_len (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.stat_prefix`,
    mutate: (r) => (localRl(r).stat_prefix = ''),
  },
  {
    name: 'local rate limit stage over 10',
    rule: 'uint32.lte (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.stage`,
    mutate: (r) => (localRl(r).stage = 11),
  },
  {
    name: 'local rate limit 11 response headers',
    rule: 'repeated.max_items (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.response_headers_to_add`,
    mutate: (r) => (localRl(r).response_headers_to_add = Array.from({ length: 11 }, (_, i) => headerOption(i))),
  },
  {
    name: 'local rate limit filter_enabled denominator undefined',
    rule: 'enum.defined_only (in map Any)',
    from: routes('local-ratelimit/edge'),
    expectPath: `${LOCAL_RL}.filter_enabled.default_value.denominator`,
    mutate: (r) => (localRl(r).filter_enabled.default_value.denominator = 5),
  },
  {
    name: 'retry back-off without base_interval',
    rule: 'duration.required',
    from: routes('retries/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.base_interval',
    mutate: (r) => delete r.virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.base_interval,
  },
  {
    name: 'retry back-off max_interval zero',
    rule: 'duration.gt',
    from: routes('retries/edge'),
    expectPath: 'virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.max_interval',
    mutate: (r) => (r.virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.max_interval = { seconds: 0 }),
  },
  {
    name: 'internal redirect copies a header twice',
    rule: 'repeated.unique',
    from: routes('retries/edge'),
    expectPath: 'virtual_hosts[0].routes[1].route.internal_redirect_policy.response_headers_to_copy[2]',
    mutate: (r) => (r.virtual_hosts[0].routes[1].route.internal_redirect_policy = { response_headers_to_copy: ['x-a', 'x-b', 'x-a'] }),
  },
  {
    name: 'internal redirect with 6 response codes',
    rule: 'repeated.max_items',
    from: routes('retries/edge'),
    expectPath: 'virtual_hosts[0].routes[1].route.internal_redirect_policy.redirect_response_codes',
    mutate: (r) => (r.virtual_hosts[0].routes[1].route.internal_redirect_policy = { redirect_response_codes: [301, 302, 303, 307, 308, 302] }),
  },
  {
    name: 'virtual host matcher with an empty exact_match_map',
    rule: 'map.min_pairs',
    from: routes('features/edge'),
    expectPath: 'virtual_hosts[0].matcher.matcher_tree.exact_match_map.map',
    // Banyan's proto tree has no matching-input type (HttpRequestHeaderMatchInput), so the input's
    // config is a stand-in Empty: PGV only requires the input and its typed_config to be present.
    mutate: (r) =>
      (r.virtual_hosts[0].matcher = {
        matcher_tree: { input: { name: 'request-headers', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Empty' } }, exact_match_map: { map: {} } },
      }),
  },

  // ---- Bootstrap ---------------------------------------------------------------------------------
  {
    name: 'bootstrap stats_flush_interval 5 minutes',
    rule: 'duration.lt',
    from: BOOTSTRAP,
    expectPath: 'stats_flush_interval',
    mutate: (r) => (r.stats_flush_interval = { seconds: 300 }),
  },
  {
    name: 'histogram bucket zero',
    rule: 'repeated.items.double.gt',
    from: BOOTSTRAP,
    expectPath: 'stats_config.histogram_bucket_settings[0].buckets[1]',
    mutate: (r) => (r.stats_config = { histogram_bucket_settings: [{ match: { prefix: 'http.' }, buckets: [0.5, 0, 10] }] }),
  },
  {
    name: 'histogram buckets repeated',
    rule: 'repeated.unique',
    from: BOOTSTRAP,
    expectPath: 'stats_config.histogram_bucket_settings[0].buckets[2]',
    mutate: (r) => (r.stats_config = { histogram_bucket_settings: [{ match: { prefix: 'http.' }, buckets: [0.5, 10, 0.5] }] }),
  },
  {
    name: 'DogStatsD max_bytes_per_datagram zero',
    rule: 'uint64.gt (wrapper, in Any)',
    from: BOOTSTRAP,
    expectPath: 'stats_sinks[0].typed_config(DogStatsdSink).max_bytes_per_datagram',
    mutate: (r) =>
      (r.stats_sinks = [
        {
          name: 'envoy.stat_sinks.dog_statsd',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink',
            address: { socket_address: { address: '127.0.0.1', port_value: 8125 } },
            max_bytes_per_datagram: { value: 0 },
          },
        },
      ]),
  },
  {
    name: 'xDS cluster keepalive interval under 1ms',
    rule: 'duration.gte (in map Any)',
    from: BOOTSTRAP,
    expectPath: `static_resources.clusters[0].${UPSTREAM_HTTP}.explicit_http_config.http2_protocol_options.connection_keepalive.interval`,
    mutate: (r) => (upstreamHttp(r.static_resources.clusters[0]).explicit_http_config.http2_protocol_options.connection_keepalive.interval = { seconds: 0, nanos: 500_000 }),
  },
  {
    name: 'xDS cluster keepalive without timeout',
    rule: 'duration.required (in map Any)',
    from: BOOTSTRAP,
    expectPath: `static_resources.clusters[0].${UPSTREAM_HTTP}.explicit_http_config.http2_protocol_options.connection_keepalive.timeout`,
    mutate: (r) => delete upstreamHttp(r.static_resources.clusters[0]).explicit_http_config.http2_protocol_options.connection_keepalive.timeout,
  },
];

/** Every distinct unmutated resource the cases start from. */
export function plantedBases(): PlantedBase[] {
  const seen = new Map<string, PlantedBase>();
  for (const s of SPECS) {
    const key = `${s.from.typeUrl} ${s.from.ref}`;
    if (!seen.has(key)) seen.set(key, { name: s.from.ref, typeUrl: s.from.typeUrl, resource: load(s.from) });
  }
  return [...seen.values()];
}

/** The planted cases, built afresh (each resource is the case's own copy). */
export function plantedCases(): PlantedCase[] {
  return SPECS.map((s) => {
    const resource = load(s.from);
    s.mutate(resource);
    return { name: `${s.from.ref}: ${s.name}`, rule: s.rule, typeUrl: s.from.typeUrl, resource, expectPath: s.expectPath };
  });
}
