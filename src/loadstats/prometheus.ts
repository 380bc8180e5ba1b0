import protobuf from 'protobufjs';

/** The file Envoy's metrics_service.proto imports for its MetricFamily. */
export const PROMETHEUS_FILE = 'io/prometheus/client/metrics.proto';
export const PROMETHEUS_PACKAGE = 'io.prometheus.client';

/**
 * Prometheus' client_model (`io.prometheus.client`, proto2), the payload of Envoy's metrics service.
 * Envoy's API imports it from prometheus/client_model, which @grpc/grpc-js-xds's proto tree does not
 * ship, so the part Banyan reads is declared here with client_model's own names and field numbers
 * (test/loadstats/prometheus-proto.test.ts checks them against client_model's metrics.proto). A
 * decoder skips the fields left out (exemplars, created timestamps, native-histogram spans).
 */
const MESSAGES: Record<string, [name: string, id: number, type: string, rule?: 'repeated'][]> = {
  LabelPair: [
    ['name', 1, 'string'],
    ['value', 2, 'string'],
  ],
  Gauge: [['value', 1, 'double']],
  Counter: [['value', 1, 'double']],
  Quantile: [
    ['quantile', 1, 'double'],
    ['value', 2, 'double'],
  ],
  Summary: [
    ['sample_count', 1, 'uint64'],
    ['sample_sum', 2, 'double'],
    ['quantile', 3, 'Quantile', 'repeated'],
  ],
  Untyped: [['value', 1, 'double']],
  Bucket: [
    ['cumulative_count', 1, 'uint64'],
    ['cumulative_count_float', 4, 'double'],
    ['upper_bound', 2, 'double'],
  ],
  Histogram: [
    ['sample_count', 1, 'uint64'],
    ['sample_count_float', 4, 'double'],
    ['sample_sum', 2, 'double'],
    ['bucket', 3, 'Bucket', 'repeated'],
  ],
  Metric: [
    ['label', 1, 'LabelPair', 'repeated'],
    ['gauge', 2, 'Gauge'],
    ['counter', 3, 'Counter'],
    ['summary', 4, 'Summary'],
    ['untyped', 5, 'Untyped'],
    ['histogram', 7, 'Histogram'],
    ['timestamp_ms', 6, 'int64'],
  ],
  MetricFamily: [
    ['name', 1, 'string'],
    ['help', 2, 'string'],
    ['type', 3, 'MetricType'],
    ['metric', 4, 'Metric', 'repeated'],
  ],
};

const METRIC_TYPES = { COUNTER: 0, GAUGE: 1, SUMMARY: 2, UNTYPED: 3, HISTOGRAM: 4, GAUGE_HISTOGRAM: 5 };

/** Declares the messages in `root` (once: a root that has them already is left alone). */
export function declarePrometheus(root: protobuf.Root): void {
  if (root.lookup(`${PROMETHEUS_PACKAGE}.MetricFamily`)) return;
  const ns = root.define(PROMETHEUS_PACKAGE);
  ns.add(new protobuf.Enum('MetricType', METRIC_TYPES));
  for (const [name, fields] of Object.entries(MESSAGES)) {
    const type = new protobuf.Type(name);
    for (const [field, id, fieldType, rule] of fields) type.add(new protobuf.Field(field, id, fieldType, rule ?? 'optional'));
    ns.add(type);
  }
}

/** What declarePrometheus declares, for the test that holds it against client_model's file. */
export const DECLARED_PROMETHEUS = { messages: MESSAGES, enums: { MetricType: METRIC_TYPES } };

/** io.prometheus.client.* as decoded (TO_OBJECT_OPTIONS: longs as numbers, enums by name, absent fields left out). */
export interface LabelPair {
  name?: string;
  value?: string;
}
export interface Bucket {
  cumulative_count?: number;
  cumulative_count_float?: number;
  upper_bound?: number;
}
export interface Histogram {
  sample_count?: number;
  sample_count_float?: number;
  sample_sum?: number;
  bucket?: Bucket[];
}
export interface Metric {
  label?: LabelPair[];
  counter?: { value?: number };
  gauge?: { value?: number };
  untyped?: { value?: number };
  histogram?: Histogram;
  timestamp_ms?: number;
}
export interface MetricFamily {
  name?: string;
  type?: keyof typeof METRIC_TYPES;
  metric?: Metric[];
}
