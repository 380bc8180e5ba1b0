import net from 'node:net';
import type { EnvoyResource } from './types.js';

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

/** The ConfigSource that says "this resource comes over the same ADS stream". */
export const ADS_CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export function socketAddress(address: string, port: number): EnvoyResource {
  return { socket_address: { address, port_value: port } };
}

/** Drops keys whose value is undefined so resources hold only the fields that were set. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
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
export function http2ProtocolOptions(http2: EnvoyResource = {}): Record<string, EnvoyResource> {
  return {
    [HTTP_PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: http2 } },
  };
}

/**
 * A cluster for one of Banyan's own gRPC services (rate limit, authz) at address:port: static for an
 * IP, STRICT_DNS for a name, and HTTP/2 upstream because gRPC needs it.
 */
export function grpcServiceCluster(name: string, address: string, port: number): EnvoyResource {
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
