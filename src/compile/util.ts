import net from 'node:net';
import { percentInMillionths, SMALLEST_PERCENT } from '../config/bounds.js';
import type * as envoy from './envoy-types.js';

/** Envoy resources are protobufjs object form: a Duration is { seconds, nanos }, never a "2s" string. */
export function duration(ms: number): { seconds: number; nanos?: number } {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos ? { seconds, nanos } : { seconds };
}

/** google.protobuf.UInt32Value / BoolValue in object form. */
export function wrap<T extends number | boolean | string>(value: T): { value: T } {
  return { value };
}

/**
 * A google.protobuf.Any in protobufjs's wrapper form, `{'@type': typeUrl, ...fields}`, with `value`
 * checked against the generated type of the message `typeUrl` names (envoy-types.ts TypedConfigs), so
 * a misspelled field or a wrong value shape in a typed_config fails tsc instead of encodeMessage.
 */
export function typed<U extends envoy.TypedConfigUrl>(typeUrl: U, value: envoy.TypedConfigs[U]): envoy.TypedAny {
  return { '@type': typeUrl, ...value };
}

/** The ConfigSource that says "this resource comes over the same ADS stream". */
export const ADS_CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' } as const satisfies envoy.ConfigSource;

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export function socketAddress(address: string, port: number): envoy.Address {
  return { socket_address: { address, port_value: port } };
}

/**
 * Drops keys whose value is undefined so resources hold only the fields that were set. T comes from
 * where the result goes (NoInfer), never from the argument, so the literal passed in is checked
 * against the message type, misspelled fields included; `& {}` strips the `| null | undefined` of an
 * optional message field, which would otherwise make that check fall back to `object`.
 */
export function compact<T>(obj: NoInfer<T & {}>): T & {} {
  for (const [key, value] of Object.entries(obj)) if (value === undefined) Reflect.deleteProperty(obj, key);
  return obj;
}

export function byName<T>(items: Iterable<T>, nameOf: (item: T) => string): Map<string, T> {
  const sorted = [...items].sort((a, b) => compareStrings(nameOf(a), nameOf(b)));
  return new Map(sorted.map((item) => [nameOf(item), item]));
}

/** Code-unit order, independent of the process locale (localeCompare is not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Key of typed_extension_protocol_options that selects the upstream HTTP protocol. */
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** typed_extension_protocol_options forcing HTTP/2 upstream (gRPC backends need it), with optional Http2ProtocolOptions. */
export function http2ProtocolOptions(http2: envoy.Http2ProtocolOptions = {}): Record<string, envoy.TypedAny> {
  return {
    [HTTP_PROTOCOL_OPTIONS]: typed(`type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`, { explicit_http_config: { http2_protocol_options: http2 } }),
  };
}

/**
 * A cluster for one of Banyan's own gRPC services (rate limit, authz) at address:port: static for an
 * IP, STRICT_DNS for a name, and HTTP/2 upstream because gRPC needs it.
 */
export function grpcServiceCluster(name: string, address: string, port: number): envoy.Cluster {
  return {
    name,
    type: net.isIP(address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: duration(1000),
    lb_policy: 'ROUND_ROBIN',
    typed_extension_protocol_options: http2ProtocolOptions(),
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address, port) } }] }],
    },
  };
}

/**
 * The coarsest FractionalPercent denominator that represents `percent` exactly; MILLION, Envoy's
 * finest, rounds (percentInMillionths). A non-zero percent that would round to 0 is refused by config
 * validation; reaching here with one is a bug, and throwing beats a mirror that silently never fires.
 */
export function fractionalPercent(percent: number): { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' } {
  if (percent > 0 && percentInMillionths(percent) === 0) throw new Error(`${percent}% rounds to 0 in millionths; the smallest is ${SMALLEST_PERCENT}%`);
  for (const [denominator, scale] of [['HUNDRED', 1], ['TEN_THOUSAND', 100]] as const) {
    const n = percent * scale;
    if (Math.abs(n - Math.round(n)) < 1e-9) return { numerator: Math.round(n), denominator };
  }
  return { numerator: percentInMillionths(percent), denominator: 'MILLION' };
}
