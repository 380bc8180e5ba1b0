import type { AccessLogOptions, Config, Listener, ListenerTracing } from '../config/model.js';
import { loadProtos } from '../proto/envoy.js';
import { plainToStruct } from '../proto/struct.js';
import type * as envoy from './envoy-types.js';
import { defineHttpFeature } from './filters.js';
import { duration, grpcServiceCluster, wrap } from './util.js';

/**
 * The Envoy side of observability, per listener: W3C/OpenTelemetry tracing to a collector, request
 * id generation (the UUID request id extension), and access logs in Envoy's text format or as JSON
 * lines carrying the request's trace id. The listener hook (`hcmObservability`) sets the connection
 * manager's fields; the feature below adds one gRPC cluster per collector. Bootstraps
 * (src/compile/bootstrap.ts) reuse the access log builder for their probes listener and admin.
 */

// Messages that only this module puts in an Any: checked against the loaded protos when encoded.
loadProtos([
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
]);

const OTEL_TRACER = 'envoy.tracers.opentelemetry';
const OTEL_CONFIG_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const UUID_REQUEST_ID_TYPE = 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig';
const STDOUT_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog';
const FILE_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

/** How long Envoy waits for the collector to take a batch of spans. */
const COLLECTOR_TIMEOUT_MS = 1000;

/**
 * The fields of a JSON access log line unless `fields:` says otherwise: what Envoy's default text
 * format says, by name, plus the route, the upstream cluster and the trace: `trace_id` (Envoy's
 * %TRACE_ID%, the active span's trace id; an Envoy too old to know the operator NACKs the listener) and the W3C `traceparent` header the
 * request carried or the tracer wrote.
 */
export const DEFAULT_JSON_LOG_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration_ms: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  route_name: '%ROUTE_NAME%',
  trace_id: '%TRACE_ID%',
  traceparent: '%REQ(TRACEPARENT)%',
};

/** An access log as Envoy's AccessLog: stdout/stderr stream loggers, or a file logger for any other path. */
export function accessLog(o: AccessLogOptions): envoy.AccessLog {
  const format = logFormat(o);
  if (o.path === '/dev/stdout') return { name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_TYPE, ...format } };
  if (o.path === '/dev/stderr') return { name: 'envoy.access_loggers.stderr', typed_config: { '@type': STDERR_TYPE, ...format } };
  const file: envoy.TypedAny = { '@type': FILE_TYPE, path: o.path, ...format };
  return { name: 'envoy.access_loggers.file', typed_config: file };
}

/** SubstitutionFormatString as `log_format`: none = Envoy's default text line. */
function logFormat(o: AccessLogOptions): { log_format?: Record<string, unknown> } {
  if (o.format === 'json') {
    const fields: Record<string, string> = { ...DEFAULT_JSON_LOG_FIELDS };
    for (const [k, v] of Object.entries(o.fields ?? {})) {
      if (v === null) delete fields[k];
      else fields[k] = v;
    }
    return { log_format: { json_format: structOf(fields) } };
  }
  if (o.text === undefined) return {};
  return { log_format: { text_format_source: { inline_string: o.text.endsWith('\n') ? o.text : `${o.text}\n` } } };
}

/** google.protobuf.Struct, keys sorted (deterministic output). */
function structOf(fields: Record<string, string>): Record<string, unknown> {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(fields).sort()) sorted[k] = fields[k];
  return plainToStruct(sorted) as unknown as Record<string, unknown>;
}

/** The cluster that carries one collector's OTLP/gRPC spans. */
export function collectorClusterName(t: Pick<ListenerTracing, 'collectorHost' | 'collectorPort'>): string {
  return `banyan_otel_${t.collectorHost.replace(/[^A-Za-z0-9_.-]/g, '_')}_${t.collectorPort}`;
}

/** The connection manager fields a listener's observability settings add (none for a listener without any). */
export function hcmObservability(listener: Listener): Partial<envoy.HttpConnectionManager> {
  const out: Record<string, unknown> = {};
  if (listener.accessLog) out.access_log = [accessLog(listener.accessLogOptions ?? { format: 'text', path: '/dev/stdout' })];
  const rid = listener.requestId;
  if (rid) {
    out.generate_request_id = wrap(rid.generate);
    if (rid.preserveExternal) out.preserve_external_request_id = true;
    if (rid.inResponse) out.always_set_request_id_in_response = true;
  }
  // The UUID extension also packs the trace decision into the id, so it goes with tracing too.
  if (rid || listener.tracing) {
    out.request_id_extension = {
      typed_config: { '@type': UUID_REQUEST_ID_TYPE, pack_trace_reason: wrap(true), use_request_id_for_trace_sampling: wrap(rid?.forTraceSampling ?? true) },
    };
  }
  const t = listener.tracing;
  if (t) {
    out.tracing = {
      provider: {
        name: OTEL_TRACER,
        typed_config: {
          '@type': OTEL_CONFIG_TYPE,
          grpc_service: { envoy_grpc: { cluster_name: collectorClusterName(t) }, timeout: duration(COLLECTOR_TIMEOUT_MS) },
          service_name: t.serviceName,
        },
      },
      random_sampling: { value: t.sampling.random },
      client_sampling: { value: t.sampling.client },
      overall_sampling: { value: t.sampling.overall },
      ...(t.customTags.length ? { custom_tags: t.customTags.map(customTag) } : {}),
    };
  }
  return out as Partial<envoy.HttpConnectionManager>;
}

function customTag(tag: ListenerTracing['customTags'][number]): Record<string, unknown> {
  switch (tag.kind) {
    case 'literal':
      return { tag: tag.tag, literal: { value: tag.value } };
    case 'header':
      return { tag: tag.tag, request_header: { name: tag.name, ...(tag.default !== undefined ? { default_value: tag.default } : {}) } };
    case 'environment':
      return { tag: tag.tag, environment: { name: tag.name, ...(tag.default !== undefined ? { default_value: tag.default } : {}) } };
  }
}

/** One collector cluster per distinct host:port that a socket listener traces to. */
export const observabilityFeature = defineHttpFeature({
  name: 'observability',
  protos: [],
  httpFilters: () => [],
  route: () => ({}),
  clusters(config: Config) {
    const byName = new Map<string, envoy.Cluster>();
    for (const l of config.listeners) {
      if (l.kind !== 'socket' || !l.tracing) continue;
      const name = collectorClusterName(l.tracing);
      if (!byName.has(name)) byName.set(name, grpcServiceCluster(name, l.tracing.collectorHost, l.tracing.collectorPort));
    }
    return [...byName.values()];
  },
});
