/**
 * Banyan declares the part of Prometheus' client_model it reads in code (src/loadstats/prometheus.ts),
 * because @grpc/grpc-js-xds's proto tree lacks io/prometheus/client/metrics.proto. Every declared
 * message, field (name, number, type, repeated) and enum value must be client_model's own, read from
 * the client_model Go module's metrics.proto.
 */
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { envoyRoot } from '../../src/proto/envoy.js';
import { DECLARED_PROMETHEUS, PROMETHEUS_PACKAGE } from '../../src/loadstats/prometheus.js';
import { loadLoadStatsProtos } from '../../src/loadstats/protos.js';
import { clientModelDir, prometheusProtoFile } from './envoy-sink.js';

describe('the declared Prometheus client_model', () => {
  let real: protobuf.Root;
  beforeAll(async () => {
    const dir = await clientModelDir();
    real = new protobuf.Root();
    // metrics.proto imports google/protobuf/timestamp.proto, which protobufjs bundles
    real.loadSync(prometheusProtoFile(dir), { keepCase: true });
    real.resolveAll();
  }, 300_000);

  it("names client_model's messages, fields and enum values as client_model numbers them", () => {
    for (const [message, fields] of Object.entries(DECLARED_PROMETHEUS.messages)) {
      const type = real.lookupType(`${PROMETHEUS_PACKAGE}.${message}`);
      for (const [name, id, fieldType, rule] of fields) {
        const theirs = type.fields[name];
        expect(theirs, `${message}.${name}`).toBeDefined();
        expect({ id: theirs.id, type: theirs.type, repeated: theirs.repeated }, `${message}.${name}`).toEqual({ id, type: fieldType, repeated: rule === 'repeated' });
      }
    }
    for (const [name, values] of Object.entries(DECLARED_PROMETHEUS.enums)) expect(real.lookupEnum(`${PROMETHEUS_PACKAGE}.${name}`).values).toEqual(values);
  });

  it('a MetricFamily encoded with client_model decodes the same through the Envoy root Banyan serves with', () => {
    loadLoadStatsProtos();
    const family = {
      name: 'cluster.upstream_rq_time',
      type: 4,
      metric: [{ label: [{ name: 'envoy.cluster_name', value: 'o' }], timestamp_ms: 1_700_000_000_123, histogram: { sample_count: 7, sample_sum: 12.5, bucket: [{ upper_bound: 0.5, cumulative_count: 2 }, { upper_bound: 1, cumulative_count: 7 }] } }],
    };
    const theirs = real.lookupType(`${PROMETHEUS_PACKAGE}.MetricFamily`);
    const bytes = theirs.encode(theirs.fromObject(family)).finish();
    const ours = envoyRoot().lookupType('envoy.service.metrics.v3.StreamMetricsMessage').fields.envoy_metrics.resolvedType as protobuf.Type;
    expect(ours.fullName).toBe(`.${PROMETHEUS_PACKAGE}.MetricFamily`);
    expect(ours.toObject(ours.decode(bytes), { longs: Number, enums: String })).toEqual({ ...family, type: 'HISTOGRAM' });
  });
});
