import { InvalidArgumentError, type Command } from 'commander';
import { CliError, EXIT } from '../admin-client.js';
import { addTlsOptions, tlsFromFlags } from '../tls-options.js';
import { parseDuration } from '../../config/duration.js';
import { DEFAULT_PORTS } from '../../ports.js';
import { stopOnSignals } from '../../service/signals.js';
import type { RedisConnectOptions } from '../../ratelimit/backend/redis.js';
import { logger } from '../../telemetry/logger.js';
import { parseIntOption } from '../options.js';

function hostPorts(value: string): { host: string; port: number }[] {
  return value.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const port = Number(hp.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port)) throw new InvalidArgumentError(`"${hp}" is not host:port`);
    return { host: hp.slice(0, i), port };
  });
}

function durationMs(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 50ms, 1s)`);
  return ms;
}

interface Flags {
  port: number;
  host: string;
  config?: string;
  xds?: string;
  nodeId?: string;
  xdsCa?: string;
  xdsClientCert?: string;
  xdsClientKey?: string;
  redis?: string;
  redisSentinel?: { host: string; port: number }[];
  redisSentinelName: string;
  redisCluster?: { host: string; port: number }[];
  timeout: number;
  failureMode: string;
  shadow: boolean;
  headers: boolean;
  mergeDomains: boolean;
  stopIncrementWhenOverLimit: boolean;
  responseDynamicMetadata: boolean;
  quotaMode: boolean;
  metricsPort?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecure?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('ratelimit')
    .description('Run the rate limit service (envoy.service.ratelimit.v3.RateLimitService, envoyproxy/ratelimit config format) on its own')
    .option('--port <port>', 'gRPC port', parseIntOption, DEFAULT_PORTS.ratelimit)
    .option('--host <address>', 'address to bind; off loopback it needs --tls-cert/--tls-key or --insecure', '127.0.0.1')
    .option('--config <dir-or-file>', 'envoyproxy/ratelimit domain files: a directory (one domain per file; e.g. RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config) or one file; hot-reloaded, symlink swaps followed')
    .option('--xds <host:port>', "take the config from Banyan's xDS server (RateLimitConfig over ADS)")
    .option('--node-id <id>', 'xDS node id (default ratelimit-<pid>)')
    .option('--xds-ca <file>', 'PEM CA bundle to verify a TLS xDS server with (serve --tls-cert); TLS to --xds, system roots when only --xds-client-cert is given')
    .option('--xds-client-cert <file>', 'PEM client certificate for an xDS server that requires one (serve --tls-client-ca)')
    .option('--xds-client-key <file>', 'PEM private key of --xds-client-cert')
    .option('--redis <url>', 'Redis URL for shared counters (default: in-memory)')
    .option('--redis-sentinel <host:port,...>', 'Redis Sentinel endpoints', hostPorts)
    .option('--redis-sentinel-name <name>', 'Sentinel master name', 'mymaster')
    .option('--redis-cluster <host:port,...>', 'Redis Cluster seed nodes', hostPorts)
    .option('--timeout <duration>', 'answer within this bound when the backend is slow or down', durationMs, 50)
    .option('--failure-mode <mode>', 'when the backend is unavailable: allow (OK) or deny (gRPC UNAVAILABLE)', 'allow')
    .option('--shadow', 'global shadow mode: never answer OVER_LIMIT (still counted)', false)
    .option('--headers', 'add RateLimit-Limit/-Remaining/-Reset response headers', false)
    .option('--merge-domains', "merge several --config files that name one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG); without it they are an error", false)
    .option('--stop-increment-when-over-limit', "when a descriptor is or would go over its limit, only read the request's other counters (STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT)", false)
    .option('--response-dynamic-metadata', 'dynamic metadata (domain, descriptors, descriptor metadata) on every response, not only quota-mode ones (RESPONSE_DYNAMIC_METADATA)', false)
    .option('--quota-mode', 'global quota mode: every descriptor in quota mode (QUOTA_MODE)', false)
    .option('--metrics-port <port>', 'Prometheus /metrics (and /healthz) port, at --host; HTTPS with the --tls-cert certificate when given', parseIntOption);
  addTlsOptions(cmd, 'the gRPC service')
    .action(async (f: Flags) => {
      if (f.failureMode !== 'allow' && f.failureMode !== 'deny') throw new InvalidArgumentError('--failure-mode must be allow or deny');
      if (!f.config && !f.xds) throw new InvalidArgumentError('give --config DIR_OR_FILE or --xds HOST:PORT');
      const xdsTls = xdsTlsFromFlags(f);
      let redis: RedisConnectOptions | undefined;
      if (f.redisCluster) redis = { cluster: f.redisCluster };
      else if (f.redisSentinel) redis = { sentinels: f.redisSentinel, sentinelName: f.redisSentinelName };
      else if (f.redis) redis = { url: f.redis };
      const tls = tlsFromFlags(f);
      // With TLS, /metrics is HTTPS with the same certificate (serveServiceMetrics); without, the runner's plaintext endpoint
      const httpsMetrics = tls !== undefined && f.metricsPort !== undefined;
      const log = logger().child({ component: 'ratelimit' });
      // Loaded on demand so that other commands do not pay for ioredis and gRPC at start-up.
      const { runRateLimit } = await import('../../ratelimit/run.js');
      const running = await runRateLimit({
        port: f.port,
        host: f.host,
        config: f.config,
        xds: f.xds,
        ...(xdsTls ? { xdsTls } : {}),
        nodeId: f.nodeId,
        redis,
        timeoutMs: f.timeout,
        failureMode: f.failureMode,
        shadow: f.shadow,
        responseHeaders: f.headers,
        mergeDomains: f.mergeDomains,
        stopIncrementWhenOverLimit: f.stopIncrementWhenOverLimit,
        responseDynamicMetadata: f.responseDynamicMetadata,
        globalQuotaMode: f.quotaMode,
        metricsPort: httpsMetrics ? undefined : f.metricsPort,
        tls,
        insecure: f.insecure,
        log,
      });
      if (!httpsMetrics) return stopOnSignals(running.shutdown);
      const { withServiceMetrics } = await import('../service-metrics.js');
      const served = await withServiceMetrics(running, 'rate limit service', {
        service: 'rate limit',
        registries: [running.server.limiter.metrics.registry],
        port: f.metricsPort!,
        host: f.host,
        tls,
        insecure: f.insecure,
        logger: log,
      });
      stopOnSignals(served.shutdown);
      served.announce();
    });
}

/** --xds-ca/--xds-client-cert/--xds-client-key: TLS to --xds when any is given. */
function xdsTlsFromFlags(f: Flags): { caFile?: string; certFile?: string; keyFile?: string } | undefined {
  const any = f.xdsCa || f.xdsClientCert || f.xdsClientKey;
  if (!any) return undefined;
  if (!f.xds) throw new CliError('--xds-ca/--xds-client-cert/--xds-client-key need --xds HOST:PORT', EXIT.usage);
  if (!f.xdsClientCert !== !f.xdsClientKey) throw new CliError('--xds-client-cert and --xds-client-key go together', EXIT.usage);
  return { ...(f.xdsCa ? { caFile: f.xdsCa } : {}), ...(f.xdsClientCert ? { certFile: f.xdsClientCert, keyFile: f.xdsClientKey } : {}) };
}
