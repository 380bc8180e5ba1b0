import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { BOOTSTRAP_TYPE, DEFAULT_OVERLOAD, formatBootstrap, renderBootstrap, type BootstrapOptions } from '../../src/compile/bootstrap.js';
import { groupSelector } from '../../src/compile/groups.js';
import { loadConfig } from '../../src/config/load.js';
import { startOracle, type Oracle } from '../support/oracle.js';
import { canonicalJsonOf } from '../../src/proto/json.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';
import { parseFlushInterval, parseFraction, parseHostPort, parseSize, register } from '../../src/cli/commands/bootstrap.js';

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


const decode = (o: BootstrapOptions): any => decodeMessage<any>(BOOTSTRAP_TYPE, encodeMessage(BOOTSTRAP_TYPE, renderBootstrap(o)));
const fileForm = (o: BootstrapOptions): any => parse(formatBootstrap(o, 'yaml'));

/** Runs `banyan bootstrap ARGS` in-process; a usage error rejects with commander's message. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'banyan', 'bootstrap', ...args]);
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out;
}

describe('bootstrap: probes, stats, overload, logs', () => {
  it('exposes only /ready and /stats/prometheus of the loopback admin on a probes listener (0.0.0.0:9902 by default)', () => {
    const b = fileForm(opts);
    const probes = b.static_resources.listeners.find((l: any) => l.name === 'probes');
    expect(probes.address.socket_address).toEqual({ address: '0.0.0.0', port_value: 9902 });
    expect(probes.ignore_global_conn_limit).toBe(true);
    const hcm = probes.filter_chains[0].filters[0].typed_config;
    expect(hcm.route_config.virtual_hosts).toEqual([
      {
        name: 'probes',
        domains: ['*'],
        routes: [
          { match: { path: '/ready' }, route: { cluster: 'envoy_admin' } },
          { match: { path: '/stats/prometheus' }, route: { cluster: 'envoy_admin' } },
        ],
      },
    ]);
    const admin = b.static_resources.clusters.find((c: any) => c.name === 'envoy_admin');
    expect(admin.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9901 });
    expect(b.admin.address.socket_address.address).toBe('127.0.0.1');
    const moved = fileForm({ ...opts, probes: { address: '10.1.2.3', port: 15021 } }).static_resources.listeners[0];
    expect(moved.address.socket_address).toEqual({ address: '10.1.2.3', port_value: 15021 });
    const none = fileForm({ ...opts, probes: false });
    expect(none.static_resources.listeners).toBeUndefined();
    expect(none.static_resources.clusters.map((c: any) => c.name)).toEqual(['banyan_xds']);
  });

  it('refuses a probes port equal to the admin port, and the prometheus sink without probes', () => {
    expect(() => renderBootstrap({ ...opts, probes: { address: '0.0.0.0', port: 9901 } })).toThrow(/cannot share port 9901/);
    expect(() => renderBootstrap({ ...opts, statsSink: 'prometheus', probes: false })).toThrow(/needs the probes listener/);
  });

  it("pushes stats to Banyan's metrics service by default; prometheus leaves them to be scraped", () => {
    expect(decode(opts).stats_sinks[0].name).toBe('envoy.stat_sinks.metrics_service');
    const prom = decode({ ...opts, statsSink: 'prometheus' });
    expect(prom.stats_sinks ?? []).toEqual([]);
    expect(prom.stats_flush_interval).toBeUndefined();
    // Load reports (LRS) are not stats: they stay.
    expect(prom.cluster_manager.load_stats_config.grpc_services[0].envoy_grpc.cluster_name).toBe('banyan_xds');
  });

  it('runs the overload manager on a fixed heap: shrink the heap, then shed requests; configurable or off', () => {
    const om = fileForm(opts).overload_manager;
    expect(om.resource_monitors).toEqual([
      {
        name: 'envoy.resource_monitors.fixed_heap',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig', max_heap_size_bytes: String(1024 ** 3) },
      },
    ]);
    expect(om.actions.map((a: any) => [a.name, a.triggers[0].threshold.value])).toEqual([
      ['envoy.overload_actions.shrink_heap', 0.95],
      ['envoy.overload_actions.stop_accepting_requests', 0.98],
    ]);
    const custom = fileForm({ ...opts, overload: { maxHeapBytes: 512 * 1024 ** 2, shrinkHeapAt: 0.9, stopRequestsAt: 0.95 } }).overload_manager;
    expect(custom.resource_monitors[0].typed_config.max_heap_size_bytes).toBe(String(512 * 1024 ** 2));
    expect(custom.actions.map((a: any) => a.triggers[0].threshold.value)).toEqual([0.9, 0.95]);
    expect(fileForm({ ...opts, overload: false }).overload_manager).toBeUndefined();
    expect(DEFAULT_OVERLOAD.shrinkHeapAt).toBeLessThan(DEFAULT_OVERLOAD.stopRequestsAt);
  });

  it("writes Envoy's own logs as JSON with --log-format json, and an admin/probes access log when asked", () => {
    expect(fileForm(opts).application_log_config).toBeUndefined();
    expect(fileForm({ ...opts, logFormat: 'json' }).application_log_config.log_format.json_format).toMatchObject({ level: '%l', message: '%j' });
    const b = fileForm({ ...opts, accessLog: { format: 'json', path: '/dev/stdout' } });
    expect(b.admin.access_log[0].name).toBe('envoy.access_loggers.stdout');
    expect(b.admin.access_log[0].typed_config.log_format.json_format).toMatchObject({ response_code: '%RESPONSE_CODE%', trace_id: '%TRACE_ID%' });
    const probes = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    expect(probes.access_log).toEqual(b.admin.access_log);
    const file = fileForm({ ...opts, accessLog: { format: 'text', path: '/var/log/envoy/admin.log' } });
    expect(file.admin.access_log[0]).toEqual({ name: 'envoy.access_loggers.file', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/var/log/envoy/admin.log' } });
  });

  it("puts the checked-in bootstraps' proxies in the example's groups (edge-proxies for the edge, default for the sidecar)", async () => {
    const loaded = await loadConfig('examples/banyan.yaml');
    const groupOf = groupSelector(loaded.config!.groups);
    const of = (file: string) => {
      const node = parse(fs.readFileSync(file, 'utf8')).node;
      return groupOf({ id: node.id, cluster: node.cluster, metadata: node.metadata, userAgentName: 'envoy' });
    };
    expect(of('envoy/edge.yaml')).toBe('edge-proxies');
    expect(of('envoy/sidecar.yaml')).toBe('default');
  });
});

describe('bootstrap: go-control-plane ValidateAll', () => {
  let oracle: Oracle;
  beforeAll(async () => {
    oracle = await startOracle();
  }, 600_000);
  afterAll(() => oracle?.close());

  const VARIANTS: Record<string, BootstrapOptions> = {
    default: opts,
    sidecar: { ...opts, kind: 'sidecar' },
    prometheus: { ...opts, statsSink: 'prometheus' },
    'no probes, no overload': { ...opts, probes: false, overload: false },
    'json logs, access logs to a file': { ...opts, logFormat: 'json', accessLog: { format: 'json', path: '/var/log/envoy/access.log' } },
    'text access log to stderr': { ...opts, accessLog: { format: 'text', path: '/dev/stderr', text: '%START_TIME% %REQ(:PATH)% %RESPONSE_CODE%' } },
    'tls, custom heap, probes elsewhere': {
      ...opts,
      xdsTls: { caFile: '/etc/envoy/tls/ca.crt', certFile: '/etc/envoy/tls/tls.crt', keyFile: '/etc/envoy/tls/tls.key' },
      overload: { maxHeapBytes: 256 * 1024 ** 2, shrinkHeapAt: 0.9, stopRequestsAt: 0.99 },
      probes: { address: '127.0.0.1', port: 15021 },
    },
  };

  it('accepts every variant, as bytes and as the file Envoy reads (with no field unknown to it)', async () => {
    const bytes = await oracle.validate(Object.entries(VARIANTS).map(([id, o]) => ({ id, typeUrl: `type.googleapis.com/${BOOTSTRAP_TYPE}`, bytes: encodeMessage(BOOTSTRAP_TYPE, renderBootstrap(o)) })));
    const files = await oracle.validateJson([
      ...Object.entries(VARIANTS).map(([id, o]) => ({ id: `${id} (yaml)`, typeUrl: `type.googleapis.com/${BOOTSTRAP_TYPE}`, json: parse(formatBootstrap(o, 'yaml')) })),
      ...CHECKED_IN.map(({ file }) => ({ id: file, typeUrl: `type.googleapis.com/${BOOTSTRAP_TYPE}`, json: parse(fs.readFileSync(file, 'utf8')) })),
    ]);
    const bad = [...bytes, ...files].filter((r) => !r.ok || r.unknownFields.length).map((r) => ({ id: r.id, error: r.error, violations: r.violations, unknown: r.unknownFields }));
    expect(bad).toEqual([]);
    expect(bytes.length + files.length).toBe(2 * Object.keys(VARIANTS).length + CHECKED_IN.length);
  });

  it('does look inside: a zero heap size and a threshold above 1 are violations', async () => {
    const b = renderBootstrap(opts) as any;
    b.overload_manager.resource_monitors[0].typed_config.max_heap_size_bytes = 0;
    b.overload_manager.actions[1].triggers[0].threshold.value = 1.5;
    const [r] = await oracle.validate([{ id: 'planted', typeUrl: `type.googleapis.com/${BOOTSTRAP_TYPE}`, bytes: encodeMessage(BOOTSTRAP_TYPE, b) }]);
    expect(r.violations.map((v) => v.path).sort()).toEqual(
      ['overload_manager.actions[1].triggers[0].threshold.value', 'overload_manager.resource_monitors[0].typed_config(FixedHeapConfig).max_heap_size_bytes'].sort(),
    );
  });
});

describe('banyan bootstrap flags', () => {
  it('takes -o json|yaml (yaml by default) and refuses other formats', async () => {
    expect(JSON.parse(await cli(['--node', 'n', '--group', 'g', '-o', 'json'])).node.id).toBe('n');
    expect(parse(await cli(['--node', 'n', '--group', 'g', '-o', 'yaml'])).node.id).toBe('n');
    expect(JSON.parse(await cli(['--node', 'n', '--group', 'g', '--output', 'json'])).node.id).toBe('n');
    await expect(cli(['--node', 'n', '--group', 'g', '-o', 'table'])).rejects.toThrow(/Allowed: json, yaml \(default yaml\)/);
  });

  it('maps the probe, stats, overload and log flags onto the bootstrap', async () => {
    const b = JSON.parse(
      await cli([
        '--node', 'n', '--group', 'g', '-o', 'json',
        '--probe-port', '15021', '--probe-address', '127.0.0.1', '--stats-sink', 'prometheus',
        '--max-heap', '512Mi', '--shrink-heap-at', '0.9', '--stop-requests-at', '0.97',
        '--log-format', 'json', '--access-log', '/dev/stdout', '--access-log-format', 'text',
      ]),
    );
    expect(b.static_resources.listeners[0].address.socket_address).toEqual({ address: '127.0.0.1', port_value: 15021 });
    expect(b.stats_sinks).toBeUndefined();
    expect(b.overload_manager.resource_monitors[0].typed_config.max_heap_size_bytes).toBe(String(512 * 1024 ** 2));
    expect(b.overload_manager.actions.map((a: any) => a.triggers[0].threshold.value)).toEqual([0.9, 0.97]);
    expect(b.application_log_config).toBeDefined();
    expect(b.admin.access_log[0].typed_config).toEqual({ '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' });
    const off = JSON.parse(await cli(['--node', 'n', '--group', 'g', '-o', 'json', '--no-probes', '--no-overload']));
    expect(off.static_resources.listeners).toBeUndefined();
    expect(off.overload_manager).toBeUndefined();
  });

  it('refuses contradictory flags with the flags named', async () => {
    await expect(cli(['--node', 'n', '--group', 'g', '--stats-sink', 'prometheus', '--no-probes'])).rejects.toThrow(/--stats-sink prometheus needs the probes listener/);
    await expect(cli(['--node', 'n', '--group', 'g', '--probe-port', '9901'])).rejects.toThrow(/--probe-port and --admin-port are both 9901/);
    await expect(cli(['--node', 'n', '--group', 'g', '--shrink-heap-at', '0.99', '--stop-requests-at', '0.9'])).rejects.toThrow(/--shrink-heap-at \(0.99\) must not be above --stop-requests-at/);
    await expect(cli(['--node', 'n', '--group', 'g', '--access-log', 'access.log'])).rejects.toThrow(/--access-log takes an absolute path/);
  });

  it('shows defaults people can read in --help', async () => {
    const program = new Command().exitOverride();
    register(program);
    const help = program.commands.find((c) => c.name() === 'bootstrap')!.helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('(default: 127.0.0.1:18000)');
    expect(help).toContain('(default: 1Gi)');
    expect(help).not.toContain('{"host"');
  });

  it('parses sizes and fractions', () => {
    expect(parseSize('1Gi')).toBe(1024 ** 3);
    expect(parseSize('512Mi')).toBe(512 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2e9);
    expect(parseSize('1073741824')).toBe(1024 ** 3);
    for (const bad of ['1Ki', '0', '-1Gi', '1Ti', 'lots']) expect(() => parseSize(bad), bad).toThrow(/expected a size/);
    expect(parseFraction('0.95')).toBe(0.95);
    expect(parseFraction('1')).toBe(1);
    for (const bad of ['0', '1.5', '95', '-0.1', 'x']) expect(() => parseFraction(bad), bad).toThrow(/expected a fraction/);
  });
});
