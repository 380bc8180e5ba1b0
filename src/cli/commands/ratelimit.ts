import { InvalidArgumentError, type Command } from 'commander';
import { CliError, EXIT } from '../admin-client.js';
import { addTlsOptions, tlsFromFlags } from '../tls-options.js';
import { DEFAULT_PORTS } from '../../ports.js';
import { holdSignals } from '../../service/signals.js';
import { parseHostPorts, parseRedisUrl, type RedisConnectOptions } from '../../ratelimit/backend/redis-url.js';
import { logger } from '../../telemetry/logger.js';
import { optionParser, parseIntOption } from '../options.js';
import { addRateLimitFlags, rateLimitKnobs } from '../ratelimit-flags.js';
import { parseWorkers, ratelimitWorkersError } from '../../ratelimit/workers.js';
import { parseHeapGrowth, setHeapGrowth } from '../../service/heap-growth.js';
import { addOtlpFlag, otlpEndpointFromFlag } from '../otlp-flag.js';

const hostPorts = optionParser(parseHostPorts);
const workersOption = optionParser(parseWorkers);
const heapGrowthOption = optionParser(parseHeapGrowth);

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
  metricsPort?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecure?: boolean;
  workers: number;
  gcHeapGrowth: number;
  otlpEndpoint?: string;
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
    .option('--redis <url>', 'Redis for shared counters (default: in memory): redis://host:port[/db], rediss://..., redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername[/db]')
    .option('--redis-sentinel <host:port,...>', 'Redis Sentinel endpoints', hostPorts)
    .option('--redis-sentinel-name <name>', 'Sentinel master name', 'mymaster')
    .option('--redis-cluster <host:port,...>', 'Redis Cluster seed nodes', hostPorts)
    .option('--metrics-port <port>', 'Prometheus /metrics (and /healthz) port, at --host; HTTPS with the --tls-cert certificate when given', parseIntOption)
    .option('--workers <n|auto>', 'processes sharing the port (auto: one per core); more than 1 needs Redis, since each process would otherwise count alone', workersOption, 1)
    .option('--gc-heap-growth <percent>', "how far the JS heap may grow past its live set before a full GC (0: V8's own, up to 4×); smaller trades some CPU for less RSS and shorter pauses", heapGrowthOption, 0);
  addRateLimitFlags(cmd, '');
  addTlsOptions(addOtlpFlag(cmd), 'the gRPC service')
    .action(async (f: Flags & Record<string, unknown>) => {
      const held = holdSignals();
      const knobs = rateLimitKnobs(f, '');
      // With --workers each worker (this same command line) exports its own spans; the primary answers no calls.
      const otlpEndpoint = await otlpEndpointFromFlag(f);
      setHeapGrowth(f.gcHeapGrowth);
      if (f.redis) {
        try {
          parseRedisUrl(f.redis);
        } catch (err) {
          throw new InvalidArgumentError(`--redis: ${(err as Error).message}`);
        }
      }
      if (!f.config && !f.xds) throw new InvalidArgumentError('give --config DIR_OR_FILE or --xds HOST:PORT');
      const xdsTls = xdsTlsFromFlags(f);
      let redis: RedisConnectOptions | undefined;
      if (f.redisCluster) redis = { cluster: f.redisCluster };
      else if (f.redisSentinel) redis = { sentinels: f.redisSentinel, sentinelName: f.redisSentinelName };
      else if (f.redis) redis = { url: f.redis };
      // This process serves one service: it loads only that part of Envoy's API (10–15 MB less RSS).
      const [{ restrictEnvoyProtos }, { rateLimitProtos }] = await Promise.all([import('../../proto/envoy.js'), import('../../ratelimit/protos.js')]);
      restrictEnvoyProtos(rateLimitProtos(f.xds !== undefined));
      const workersError = ratelimitWorkersError(f.workers, redis !== undefined);
      if (workersError) throw new CliError(workersError, EXIT.usage);
      const tls = tlsFromFlags(f);
      const log = logger().child({ component: 'ratelimit' });
      const { isRateLimitWorker, announceWorker, runRateLimitPrimary } = await import('../../ratelimit/workers.js');
      if (f.workers > 1 && !isRateLimitWorker()) {
        // The primary: forks the workers (this same command line), sums their metrics, stops them.
        const primary = await runRateLimitPrimary({ workers: f.workers, log });
        if (f.metricsPort === undefined) return void held.stopWith(primary.shutdown);
        const { withServiceMetrics } = await import('../service-metrics.js');
        const served = await withServiceMetrics(primary, 'rate limit workers', {
          service: 'rate limit',
          registries: [primary.registry],
          port: f.metricsPort,
          host: f.host,
          tls,
          insecure: f.insecure,
          logger: log,
        });
        held.stopWith(served.shutdown);
        return served.announce();
      }
      const worker = isRateLimitWorker();
      // With TLS, /metrics is HTTPS with the same certificate (serveServiceMetrics); without, the runner's plaintext endpoint
      const httpsMetrics = tls !== undefined && f.metricsPort !== undefined && !worker;
      // Loaded on demand so that other commands do not pay for the rate limiter and its Redis client at start-up.
      const { runRateLimit } = await import('../../ratelimit/run.js');
      const running = await runRateLimit({
        port: f.port,
        host: f.host,
        config: f.config,
        xds: f.xds,
        ...(xdsTls ? { xdsTls } : {}),
        nodeId: f.nodeId,
        redis,
        timeoutMs: knobs.timeoutMs!,
        failureMode: knobs.failureMode!,
        shadow: knobs.globalShadowMode!,
        responseHeaders: knobs.responseHeaders,
        nearLimitRatio: knobs.nearLimitRatio,
        cacheKeyPrefix: knobs.cacheKeyPrefix,
        localCache: knobs.localCache,
        breaker: knobs.breaker,
        mergeDomains: knobs.mergeDomains,
        stopIncrementWhenOverLimit: knobs.stopIncrementWhenOverLimit,
        responseDynamicMetadata: knobs.responseDynamicMetadata,
        globalQuotaMode: knobs.globalQuotaMode,
        otlpEndpoint,
        metricsPort: httpsMetrics || worker ? undefined : f.metricsPort,
        tls,
        insecure: f.insecure,
        log,
      });
      if (worker) return announceWorker(running.port, [running.server.limiter.metrics.registry], held.stopWith(running.shutdown));
      if (!httpsMetrics) return void held.stopWith(running.shutdown);
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
      held.stopWith(served.shutdown);
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
