import { Command, InvalidArgumentError, Option } from 'commander';
import { isIP } from 'node:net';
import {
  DEFAULT_OVERLOAD,
  DEFAULT_PROBE_PORT,
  DEFAULT_STATS_FLUSH_INTERVAL_MS,
  formatBootstrap,
  STATS_FLUSH_INTERVAL_RANGE_MS,
  type BootstrapOptions,
  type XdsTls,
} from '../../compile/bootstrap.js';
import { parseDuration } from '../../config/duration.js';
import { DEFAULT_PORTS } from '../../ports.js';
import { outputOption } from '../output.js';

/** `host:port` or `[v6]:port` → parts; anything else is a usage error that says what was expected. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidArgumentError(`expected host:port (e.g. 127.0.0.1:${DEFAULT_PORTS.xds}), got "${value}"`);
  return { host: m[1] ?? m[2], port };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError(`expected a port 1-65535, got "${value}"`);
  return port;
}

/** `10s`, `500ms`, `1m`: within what Envoy accepts for stats_flush_interval (1 ms up to, not including, 5 minutes). */
export function parseFlushInterval(value: string): number {
  const ms = parseDuration(value);
  const { min, below } = STATS_FLUSH_INTERVAL_RANGE_MS;
  if (ms === undefined || ms < min || ms >= below) throw new InvalidArgumentError(`expected a duration from ${min}ms to under ${below / 60_000}m (e.g. 10s), got "${value}"`);
  return ms;
}

/** --xds-tls-ca [--xds-client-cert --xds-client-key] → the xDS cluster's TLS; undefined = plaintext. */
export function xdsTls(o: { xdsTlsCa?: string; xdsClientCert?: string; xdsClientKey?: string }): XdsTls | undefined {
  if (!o.xdsClientCert !== !o.xdsClientKey) throw new InvalidArgumentError('--xds-client-cert and --xds-client-key go together');
  if (o.xdsClientCert && !o.xdsTlsCa) throw new InvalidArgumentError('--xds-client-cert needs --xds-tls-ca');
  if (!o.xdsTlsCa) return undefined;
  return { caFile: o.xdsTlsCa, ...(o.xdsClientCert && o.xdsClientKey ? { certFile: o.xdsClientCert, keyFile: o.xdsClientKey } : {}) };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 };

/** `1Gi`, `512Mi`, `2G`, `1073741824`: bytes (as Kubernetes writes memory limits). */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]i?)?$/.exec(value);
  const bytes = m ? Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]) : NaN;
  if (!m || !Number.isSafeInteger(bytes) || bytes < 1024 ** 2) throw new InvalidArgumentError(`expected a size of at least 1Mi, as bytes or with Ki/Mi/Gi/K/M/G (e.g. 512Mi), got "${value}"`);
  return bytes;
}

/** A heap fraction for an overload threshold: above 0, at most 1. */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(value) || !(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a fraction of the heap above 0 and at most 1 (e.g. 0.95), got "${value}"`);
  return n;
}

function parseIp(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError(`expected an IP address (e.g. 0.0.0.0), got "${value}"`);
  return value;
}

export interface BootstrapFlags {
  node: string;
  group: string;
  kind: 'sidecar' | 'edge';
  xds: { host: string; port: number };
  adminPort: number;
  statsFlushInterval: number;
  statsSink: 'banyan' | 'prometheus';
  probes: boolean;
  probePort: number;
  probeAddress: string;
  overload: boolean;
  maxHeap: number;
  shrinkHeapAt: number;
  stopRequestsAt: number;
  logFormat: 'text' | 'json';
  accessLog?: string;
  accessLogFormat: 'text' | 'json';
  output: 'yaml' | 'json';
  xdsTlsCa?: string;
  xdsClientCert?: string;
  xdsClientKey?: string;
}

/** The command's flags → renderBootstrap's options; contradictions are usage errors that say which flags. */
export function bootstrapOptions(opts: BootstrapFlags): BootstrapOptions {
  if (opts.statsSink === 'prometheus' && !opts.probes) throw new InvalidArgumentError('--stats-sink prometheus needs the probes listener (Prometheus scrapes /stats/prometheus there): drop --no-probes');
  if (opts.probes && opts.probePort === opts.adminPort) throw new InvalidArgumentError(`--probe-port and --admin-port are both ${opts.adminPort}: the probes listener needs a port of its own`);
  if (opts.accessLog !== undefined && !opts.accessLog.startsWith('/')) throw new InvalidArgumentError(`--access-log takes an absolute path (/dev/stdout, /dev/stderr or a file), got "${opts.accessLog}"`);
  if (opts.overload && opts.shrinkHeapAt > opts.stopRequestsAt) throw new InvalidArgumentError(`--shrink-heap-at (${opts.shrinkHeapAt}) must not be above --stop-requests-at (${opts.stopRequestsAt}): shrink the heap before shedding requests`);
  return {
    nodeId: opts.node,
    group: opts.group,
    kind: opts.kind,
    xdsHost: opts.xds.host,
    xdsPort: opts.xds.port,
    adminPort: opts.adminPort,
    statsFlushIntervalMs: opts.statsFlushInterval,
    xdsTls: xdsTls(opts),
    statsSink: opts.statsSink,
    probes: opts.probes ? { address: opts.probeAddress, port: opts.probePort } : false,
    overload: opts.overload ? { maxHeapBytes: opts.maxHeap, shrinkHeapAt: opts.shrinkHeapAt, stopRequestsAt: opts.stopRequestsAt } : false,
    logFormat: opts.logFormat,
    ...(opts.accessLog ? { accessLog: { format: opts.accessLogFormat, path: opts.accessLog } } : {}),
  };
}

export function register(program: Command): void {
  const cmd = program
    .command('bootstrap')
    .description('print an Envoy bootstrap that takes its listeners and clusters from Banyan over ADS')
    .requiredOption('--node <id>', 'node.id of the proxy')
    .requiredOption('--group <group>', 'node.cluster of the proxy: the proxy group it asks to join')
    .addOption(new Option('--kind <kind>', 'proxy kind (recorded in node.metadata.kind)').choices(['sidecar', 'edge']).default('sidecar'))
    .addOption(new Option('--xds <host:port>', "Banyan's xDS server").argParser(parseHostPort).default({ host: '127.0.0.1', port: DEFAULT_PORTS.xds }, `127.0.0.1:${DEFAULT_PORTS.xds}`))
    .option('--admin-port <port>', "Envoy's admin port (bound to 127.0.0.1)", parsePort, DEFAULT_PORTS.envoyAdmin)
    .addOption(
      new Option('--stats-flush-interval <duration>', "how often Envoy sends its stats (latency histograms) to Banyan's metrics service")
        .argParser(parseFlushInterval)
        .default(DEFAULT_STATS_FLUSH_INTERVAL_MS, `${DEFAULT_STATS_FLUSH_INTERVAL_MS / 1000}s`),
    )
    .addOption(
      new Option('--stats-sink <sink>', "banyan: push stats to Banyan's metrics service (rollout analysis reads them); prometheus: no push, scrape /stats/prometheus on the probes listener")
        .choices(['banyan', 'prometheus'])
        .default('banyan'),
    )
    .option('--probe-port <port>', 'port of the probes listener, which exposes only /ready and /stats/prometheus of the admin', parsePort, DEFAULT_PROBE_PORT)
    .option('--probe-address <ip>', 'address the probes listener binds', parseIp, '0.0.0.0')
    .option('--no-probes', 'no probes listener (kubelet probes and Prometheus then have nothing to reach)')
    .addOption(new Option('--max-heap <size>', 'overload manager: the heap Envoy may use, near its memory limit (e.g. 512Mi)').argParser(parseSize).default(DEFAULT_OVERLOAD.maxHeapBytes, '1Gi'))
    .option('--shrink-heap-at <fraction>', 'overload manager: heap fraction at which Envoy releases free memory', parseFraction, DEFAULT_OVERLOAD.shrinkHeapAt)
    .option('--stop-requests-at <fraction>', 'overload manager: heap fraction at which Envoy answers new requests 503', parseFraction, DEFAULT_OVERLOAD.stopRequestsAt)
    .option('--no-overload', 'no overload manager')
    .addOption(new Option('--log-format <format>', "Envoy's own log lines: text (Envoy's default) or json (application_log_config; don't also pass Envoy's --log-format)").choices(['text', 'json']).default('text'))
    .option('--access-log <path>', 'access log of the admin interface and the probes listener: /dev/stdout, /dev/stderr or a file (default: none)')
    .addOption(new Option('--access-log-format <format>', 'format of --access-log').choices(['json', 'text']).default('json'))
    .option('--xds-tls-ca <file>', "talk TLS to the xDS server (serve --tls-cert), verifying it against this PEM CA file on the proxy's disk")
    .option('--xds-client-cert <file>', 'client certificate for mTLS to the xDS server (serve --tls-client-ca); with --xds-client-key')
    .option('--xds-client-key <file>', 'private key of --xds-client-cert')
    .action((opts: BootstrapFlags) => {
      process.stdout.write(formatBootstrap(bootstrapOptions(opts), opts.output));
    });
  // The shared -o, --output json|yaml; the bootstrap is a document, YAML unless told otherwise.
  outputOption(cmd, { defaultFormat: 'yaml' });
}
