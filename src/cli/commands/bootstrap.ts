import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_STATS_FLUSH_INTERVAL_MS, formatBootstrap, STATS_FLUSH_INTERVAL_RANGE_MS, type XdsTls } from '../../compile/bootstrap.js';
import { parseDuration } from '../../config/duration.js';
import { DEFAULT_PORTS } from '../../ports.js';

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

export function register(program: Command): void {
  program
    .command('bootstrap')
    .description('print an Envoy bootstrap that takes its listeners and clusters from Banyan over ADS')
    .requiredOption('--node <id>', 'node.id of the proxy')
    .requiredOption('--group <group>', 'node.cluster of the proxy: the proxy group it asks to join')
    .addOption(new Option('--kind <kind>', 'proxy kind (recorded in node.metadata.kind)').choices(['sidecar', 'edge']).default('sidecar'))
    .option('--xds <host:port>', "Banyan's xDS server", parseHostPort, { host: '127.0.0.1', port: DEFAULT_PORTS.xds })
    .option('--admin-port <port>', "Envoy's admin port (bound to 127.0.0.1)", parsePort, DEFAULT_PORTS.envoyAdmin)
    .addOption(
      new Option('--stats-flush-interval <duration>', "how often Envoy sends its stats (latency histograms) to Banyan's metrics service")
        .argParser(parseFlushInterval)
        .default(DEFAULT_STATS_FLUSH_INTERVAL_MS, `${DEFAULT_STATS_FLUSH_INTERVAL_MS / 1000}s`),
    )
    .option('--xds-tls-ca <file>', "talk TLS to the xDS server (serve --tls-cert), verifying it against this PEM CA file on the proxy's disk")
    .option('--xds-client-cert <file>', 'client certificate for mTLS to the xDS server (serve --tls-client-ca); with --xds-client-key')
    .option('--xds-client-key <file>', 'private key of --xds-client-cert')
    .addOption(new Option('--output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(
      (opts: {
        node: string;
        group: string;
        kind: 'sidecar' | 'edge';
        xds: { host: string; port: number };
        adminPort: number;
        statsFlushInterval: number;
        output: 'yaml' | 'json';
        xdsTlsCa?: string;
        xdsClientCert?: string;
        xdsClientKey?: string;
      }) => {
        process.stdout.write(
          formatBootstrap(
            {
              nodeId: opts.node,
              group: opts.group,
              kind: opts.kind,
              xdsHost: opts.xds.host,
              xdsPort: opts.xds.port,
              adminPort: opts.adminPort,
              statsFlushIntervalMs: opts.statsFlushInterval,
              xdsTls: xdsTls(opts),
            },
            opts.output,
          ),
        );
      },
    );
}
