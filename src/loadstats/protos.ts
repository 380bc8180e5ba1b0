import type * as grpc from '@grpc/grpc-js';
import { envoyRoot, loadProtos, messageType, TO_OBJECT_OPTIONS } from '../proto/envoy.js';
import { methodDefinition } from '../proto/grpc.js';
import { declarePrometheus, PROMETHEUS_FILE, type MetricFamily } from './prometheus.js';

export const LRS_SERVICE = 'envoy.service.load_stats.v3.LoadReportingService';
export const METRICS_SERVICE = 'envoy.service.metrics.v3.MetricsService';
const LRS_PROTO = 'envoy/service/load_stats/v3/lrs.proto';
const METRICS_PROTO = 'envoy/service/metrics/v3/metrics_service.proto';
const STREAM_METRICS_MESSAGE = 'envoy.service.metrics.v3.StreamMetricsMessage';

let loaded = false;

/**
 * Adds the two services Envoy and gRPC clients report to (LRS, the metrics service) to the shared
 * Envoy root, once. metrics_service.proto imports Prometheus' client_model, which the proto tree
 * lacks: its messages are declared in code first (prometheus.ts) and the import is recorded as
 * loaded under the name the root resolves it to, which is how protobufjs skips a file it has.
 */
export function loadLoadStatsProtos(): void {
  if (loaded) return;
  const root = envoyRoot();
  declarePrometheus(root);
  const importer = root.resolvePath('', METRICS_PROTO);
  const resolved = importer ? root.resolvePath(importer, PROMETHEUS_FILE) : null;
  if (resolved && !root.files.includes(resolved)) root.files.push(resolved);
  loadProtos([LRS_PROTO, METRICS_PROTO]);
  loaded = true;
}

/** envoy.config.core.v3.Node, the part Banyan reads. */
export interface NodeLike {
  id?: string;
  cluster?: string;
  client_features?: string[];
}

/** envoy.config.endpoint.v3.ClusterStats as decoded (longs as numbers). */
export interface ClusterStats {
  cluster_name?: string;
  cluster_service_name?: string;
  upstream_locality_stats?: {
    total_successful_requests?: number;
    total_requests_in_progress?: number;
    total_error_requests?: number;
    total_issued_requests?: number;
  }[];
  total_dropped_requests?: number;
  load_report_interval?: { seconds?: number; nanos?: number };
}

export interface LoadStatsRequest {
  node?: NodeLike;
  cluster_stats?: ClusterStats[];
}

export interface LoadStatsResponse {
  clusters?: string[];
  send_all_clusters?: boolean;
  load_reporting_interval?: { seconds: number; nanos?: number };
  report_endpoint_granularity?: boolean;
}

export interface StreamMetricsMessage {
  identifier?: { node?: NodeLike };
  envoy_metrics?: MetricFamily[];
}

export function lrsServiceDefinition(): grpc.ServiceDefinition {
  loadLoadStatsProtos();
  return {
    StreamLoadStats: methodDefinition(LRS_SERVICE, 'StreamLoadStats', 'envoy.service.load_stats.v3.LoadStatsRequest', 'envoy.service.load_stats.v3.LoadStatsResponse', {
      request: true,
      response: true,
    }),
  };
}

/**
 * The metrics service (client streaming: Envoy never reads an answer). An Envoy sends every stat it
 * has on each flush, thousands of families; `keep` says which families are worth turning into
 * objects, so the rest are decoded but never converted.
 */
export function metricsServiceDefinition(keep: (familyName: string) => boolean = () => true): grpc.ServiceDefinition {
  loadLoadStatsProtos();
  const type = messageType(STREAM_METRICS_MESSAGE);
  const family = messageType('io.prometheus.client.MetricFamily');
  const requestDeserialize = (bytes: Buffer): StreamMetricsMessage => {
    const decoded = type.decode(bytes) as unknown as { identifier?: object; envoy_metrics?: { name?: string }[] };
    const out: StreamMetricsMessage = {};
    if (decoded.identifier) out.identifier = messageType('envoy.service.metrics.v3.StreamMetricsMessage.Identifier').toObject(decoded.identifier as never, TO_OBJECT_OPTIONS);
    out.envoy_metrics = (decoded.envoy_metrics ?? []).filter((f) => keep(f.name ?? '')).map((f) => family.toObject(f as never, TO_OBJECT_OPTIONS) as MetricFamily);
    return out;
  };
  return {
    StreamMetrics: methodDefinition(
      METRICS_SERVICE,
      'StreamMetrics',
      STREAM_METRICS_MESSAGE,
      'envoy.service.metrics.v3.StreamMetricsResponse',
      { request: true, response: false },
      { requestDeserialize },
    ),
  };
}
