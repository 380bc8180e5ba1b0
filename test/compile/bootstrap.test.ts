import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BOOTSTRAP_TYPE, formatBootstrap, renderBootstrap, type BootstrapOptions } from '../../src/compile/bootstrap.js';
import { canonicalJsonOf } from '../../src/proto/json.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';
import { parseFlushInterval, parseHostPort } from '../../src/cli/commands/bootstrap.js';

const opts: BootstrapOptions = { nodeId: 'edge-1', group: 'edges', kind: 'edge', xdsHost: 'banyan.internal', xdsPort: 18000, adminPort: 9901 };

/** The checked-in bootstraps: what `banyan bootstrap` prints for these flags, below a comment header. */
const CHECKED_IN: { file: string; opts: BootstrapOptions; extraFlags?: string }[] = [
  { file: 'envoy/sidecar.yaml', opts: { nodeId: 'sidecar-1', group: 'sidecars', kind: 'sidecar', xdsHost: '127.0.0.1', xdsPort: 18000, adminPort: 9901 } },
  // The shape the Helm chart's edge ConfigMap holds: admin on loopback 9901, probes on 9902, JSON logs.
  {
    file: 'envoy/edge.yaml',
    opts: { nodeId: 'edge-1', group: 'edge-proxies', kind: 'edge', xdsHost: '127.0.0.1', xdsPort: 18000, adminPort: 9901, logFormat: 'json' },
    extraFlags: ' --log-format json',
  },
];

describe('bootstrap', () => {
  it('is a valid Bootstrap taking LDS and CDS over ADS from the banyan_xds cluster', () => {
    const b = renderBootstrap(opts);
    const decoded = decodeMessage<any>(BOOTSTRAP_TYPE, encodeMessage(BOOTSTRAP_TYPE, b));
    expect(decoded.node).toMatchObject({ id: 'edge-1', cluster: 'edges' });
    expect(decoded.dynamic_resources.lds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(decoded.dynamic_resources.cds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(decoded.dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name).toBe('banyan_xds');
    const xds = decoded.static_resources.clusters[0];
    expect(xds.name).toBe('banyan_xds');
    expect(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'banyan.internal', port_value: 18000 });
    expect(xds.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config.http2_protocol_options).toBeDefined();
    expect(decoded.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9901 });
  });

  it('reports load over LRS and stats to the metrics service, both through the banyan_xds cluster', () => {
    const decoded = decodeMessage<any>(BOOTSTRAP_TYPE, encodeMessage(BOOTSTRAP_TYPE, renderBootstrap(opts)));
    expect(decoded.cluster_manager.load_stats_config).toEqual({ api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'banyan_xds' } }] });
    expect(decoded.stats_sinks).toEqual([
      {
        name: 'envoy.stat_sinks.metrics_service',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig',
          grpc_service: { envoy_grpc: { cluster_name: 'banyan_xds' } },
          transport_api_version: 'V3',
          report_counters_as_deltas: { value: true },
          emit_tags_as_labels: true,
        },
      },
    ]);
    expect(decoded.stats_flush_interval).toEqual({ seconds: 10 });
    const fast = decodeMessage<any>(BOOTSTRAP_TYPE, encodeMessage(BOOTSTRAP_TYPE, renderBootstrap({ ...opts, statsFlushIntervalMs: 1500 })));
    expect(fast.stats_flush_interval).toEqual({ seconds: 1, nanos: 500_000_000 });
  });

  it('prints the stats sink in its file form: the Any with @type, the wrapper as a bare boolean', () => {
    const doc = parse(formatBootstrap(opts, 'yaml'));
    expect(doc.stats_flush_interval).toBe('10s');
    expect(doc.stats_sinks[0].typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig',
      grpc_service: { envoy_grpc: { cluster_name: 'banyan_xds' } },
      transport_api_version: 'V3',
      report_counters_as_deltas: true,
      emit_tags_as_labels: true,
    });
  });

  it('caps downstream connections on edge proxies only', () => {
    expect(renderBootstrap(opts).layered_runtime).toBeDefined();
    expect(renderBootstrap({ ...opts, kind: 'sidecar' }).layered_runtime).toBeUndefined();
  });

  it("prints Envoy's file form: durations as strings, metadata as a plain map", () => {
    const doc = parse(formatBootstrap(opts, 'yaml'));
    expect(doc.node.metadata).toEqual({ kind: 'edge' });
    expect(doc.static_resources.clusters[0].connect_timeout).toBe('1s');
    expect(doc.layered_runtime.layers[0].static_layer).toEqual({ 'overload.global_downstream_max_connections': 50000 });
    expect(JSON.parse(formatBootstrap(opts, 'json'))).toEqual(doc);
  });

  it('prints durations with fractions and wrappers in their proto3 JSON forms (what the bootstrap file holds)', () => {
    expect(canonicalJsonOf('envoy.config.cluster.v3.Cluster', { connect_timeout: { seconds: 0, nanos: 250_000_000 }, per_connection_buffer_limit_bytes: { value: 32768 } })).toEqual({
      connect_timeout: '0.250s',
      per_connection_buffer_limit_bytes: 32768,
    });
  });

  it('keeps envoy/*.yaml in step with the renderer (UPDATE_GOLDEN=1 rewrites them)', () => {
    for (const { file, opts: o, extraFlags } of CHECKED_IN) {
      const full = path.resolve(file);
      const flags = `--node ${o.nodeId} --group ${o.group} --kind ${o.kind} --xds ${o.xdsHost}:${o.xdsPort} --admin-port ${o.adminPort}${extraFlags ?? ''}`;
      const text =
        `# Envoy ${o.kind} bootstrap for Banyan. Generated by: banyan bootstrap ${flags}\n` +
        `# Listeners, routes, clusters and endpoints all come from Banyan over ADS. Envoy's\n` +
        `# --service-node / --service-cluster flags override node.id / node.cluster (the proxy group).\n` +
        formatBootstrap(o, 'yaml');
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(full, text);
      expect(fs.readFileSync(full, 'utf8')).toBe(text);
    }
  });

  it('parses --xds host:port and rejects anything else with the expected form', () => {
    expect(parseHostPort('127.0.0.1:18000')).toEqual({ host: '127.0.0.1', port: 18000 });
    expect(parseHostPort('[::1]:18000')).toEqual({ host: '::1', port: 18000 });
    expect(() => parseHostPort('banyan')).toThrow(/expected host:port/);
    expect(() => parseHostPort('banyan:99999')).toThrow(/expected host:port/);
  });

  it("parses --stats-flush-interval within Envoy's range (1 ms to under 5 minutes)", () => {
    expect(parseFlushInterval('10s')).toBe(10_000);
    expect(parseFlushInterval('1ms')).toBe(1);
    expect(parseFlushInterval('4m59s')).toBe(299_000);
    for (const bad of ['5m', '0s', '0.5ms', '10', 'soon']) expect(() => parseFlushInterval(bad), bad).toThrow(/expected a duration from 1ms to under 5m/);
  });
});

