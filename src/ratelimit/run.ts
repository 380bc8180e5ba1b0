import { formatDiagnostic, hasErrors } from '../config/diagnostics.js';
import { TlsFileWatcher, type TlsFiles } from '../grpc/tls.js';
import { parseRateLimitFiles } from '../config/ratelimit/parse.js';
import { readConfigFiles, type SourceFile } from '../config/source.js';
import { ServiceStack, type StopReport } from '../service/stack.js';
import { ConfigWatcher } from '../service/watcher.js';
import type { Logger } from '../telemetry/logger.js';
import { resolveTracingConfig } from '../telemetry/tracing-config.js';
import { serveMetrics } from '../telemetry/metrics-http.js';
import type { RedisConnectOptions } from './backend/redis-url.js';
import { createRateLimitServer, type RateLimitServer } from './server.js';
import type { RateLimitServiceOptions } from './service.js';
import type { XdsClientTls } from './xds-client.js';

export interface RunRateLimitOptions {
  port: number;
  host: string;
  /** TLS (mTLS with caFile + requireClientCert), files followed; plaintext off loopback needs `insecure`. */
  tls?: TlsFiles;
  insecure?: boolean;
  /**
   * envoyproxy/ratelimit domain files: a directory (its runtime RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config,
   * a ConfigMap mount) or one file; read, watched and hot-reloaded like `banyan serve`'s config, so
   * dot-files are skipped and a swap of the runtime root's symlink is followed.
   */
  config?: string;
  /** host:port of Banyan's xDS server to take the config from instead. */
  xds?: string;
  /** TLS to that xDS server: its CA, and a client certificate for mTLS (absent = plaintext). */
  xdsTls?: XdsClientTls;
  /** The client certificate files' periodic re-check (besides fs.watch); default 10 s. */
  xdsCertRecheckMs?: number;
  nodeId?: string;
  redis?: RedisConnectOptions;
  /** Bound on each call from its arrival (the caller's grpc-timeout shortens it). */
  timeoutMs: number;
  failureMode: 'allow' | 'deny';
  shadow: boolean;
  /** RateLimit-Limit / -Remaining / -Reset response headers; true for those names. */
  responseHeaders: RateLimitServiceOptions['responseHeaders'];
  /** The reference's NEAR_LIMIT_RATIO (default 0.8). */
  nearLimitRatio?: number;
  /** The reference's CACHE_KEY_PREFIX (default none). */
  cacheKeyPrefix?: string;
  /** The local over-limit cache (default on with Redis); false turns it off. */
  localCache?: boolean;
  /** The circuit breaker in front of the backend (default 5 failures, 100 ms..5 s backoff). */
  breaker?: RateLimitServiceOptions['breaker'];
  /** Several files naming one domain are merged (the reference's MERGE_DOMAIN_CONFIG). */
  mergeDomains?: boolean;
  /** The reference's STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT. */
  stopIncrementWhenOverLimit?: boolean;
  /** The reference's RESPONSE_DYNAMIC_METADATA: dynamic metadata on every response. */
  responseDynamicMetadata?: boolean;
  /** The reference's QUOTA_MODE: every descriptor in quota mode. */
  globalQuotaMode?: boolean;
  metricsPort?: number;
  /** Coalesce bursts of edits into one reload (default: the watcher's). */
  debounceMs?: number;
  /** A change still being written is applied anyway after this long (default: the watcher's). */
  watchMaxWaitMs?: number;
  /** OTLP/HTTP collector for a span per decision (default: OTEL_EXPORTER_OTLP_*; neither: no tracing). */
  otlpEndpoint?: string;
  log: Logger;
}

export interface RunningRateLimit {
  server: RateLimitServer;
  port: number;
  metricsPort?: number;
  stop(): Promise<void>;
  /** stop(), reporting what stopped (for the exit code). */
  shutdown(): Promise<StopReport>;
}

/** `banyan ratelimit`: the service standalone, fed by files (watched) or by Banyan over xDS. */
export async function runRateLimit(o: RunRateLimitOptions): Promise<RunningRateLimit> {
  // The Redis client is loaded only when used: with the memory backend it is ~12 MB of RSS for nothing.
  const redis = o.redis ? await import('./backend/redis.js') : undefined;
  const backend = o.redis && redis ? new redis.RedisBackend(redis.createRedisClient(o.redis)) : undefined;
  const stack = new ServiceStack(o.log);
  // First in the stack, so flushed last: the spans of the last calls go out too.
  const tracing = await tracingIfConfigured(stack, o);
  const server = createRateLimitServer({
    backend,
    timeoutMs: o.timeoutMs,
    failureMode: o.failureMode,
    globalShadowMode: o.shadow,
    responseHeaders: o.responseHeaders,
    nearLimitRatio: o.nearLimitRatio,
    cacheKeyPrefix: o.cacheKeyPrefix,
    localCache: o.localCache,
    breaker: o.breaker,
    stopIncrementWhenOverLimit: o.stopIncrementWhenOverLimit,
    responseDynamicMetadata: o.responseDynamicMetadata,
    globalQuotaMode: o.globalQuotaMode,
    tracing,
    log: o.log,
  });
  // Stops last: the sources that feed it stop first.
  stack.add('rate limit service', () => server.stop());

  try {
    if (o.config) {
      const apply = (files: SourceFile[]) => applyFiles(server, files, o.log, o.mergeDomains ?? false);
      await readConfigFiles(o.config).then(apply, (err: Error) => rejected(server, err.message, o.log));
      const watcher = new ConfigWatcher(o.config, async (files) => apply(files), { debounceMs: o.debounceMs, maxWaitMs: o.watchMaxWaitMs, logger: o.log.child({ component: 'watcher' }) });
      await watcher.start();
      stack.add('config watcher', () => watcher.stop());
    }
    if (o.xds) {
      // A client certificate is followed like the servers' (grpc/tls.ts): each new connection takes the latest whole pair.
      const pair = o.xdsTls?.certFile && o.xdsTls.keyFile ? { certFile: o.xdsTls.certFile, keyFile: o.xdsTls.keyFile, caFile: o.xdsTls.caFile, requireClientCert: false } : undefined;
      const certs = pair ? await TlsFileWatcher.open(pair, { logger: o.log, ...(o.xdsCertRecheckMs ? { recheckMs: o.xdsCertRecheckMs } : {}) }) : undefined;
      if (certs) stack.add('xDS client certificate', () => certs.close());
      // Loaded only with --xds: the xDS client and its credentials are grpc-js, which the file-fed service never needs.
      const [{ RateLimitXdsClient }, { grpcChannelCredentials }] = await Promise.all([import('./xds-client.js'), import('../grpc/grpc-js-tls.js')]);
      const client = new RateLimitXdsClient({
        address: o.xds,
        nodeId: o.nodeId ?? `ratelimit-${process.pid}`,
        log: o.log,
        ...(certs ? { credentials: grpcChannelCredentials(certs) } : o.xdsTls ? { tls: o.xdsTls } : {}),
        onConfig: (domains) => server.setConfig(domains),
      });
      client.start();
      stack.add('xDS client', () => client.stop());
    }

    const port = await server.start(o.port, o.host, { tls: o.tls, insecure: o.insecure });
    const metrics = o.metricsPort === undefined ? undefined : await serveMetrics([server.limiter.metrics.registry], o.metricsPort, o.host);
    if (metrics) {
      stack.add('metrics endpoint', () => metrics.close());
      // As every Banyan service with --metrics-port: the port bound (0 picks one) is said, so a scraper or test can find it.
      o.log.info({ port: metrics.port, scheme: 'http', host: o.host }, 'rate limit metrics endpoint listening');
    }
    return { server, port, metricsPort: metrics?.port, stop: async () => void (await stack.stop()), shutdown: () => stack.stop() };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** Loaded only when configured: with tracing off the service never loads @opentelemetry/api (a few MB of RSS). */
async function tracingIfConfigured(stack: ServiceStack, o: RunRateLimitOptions): Promise<boolean> {
  if (resolveTracingConfig({ endpoint: o.otlpEndpoint }).tracesUrl === undefined) return false;
  const { startTracingIn } = await import('../service/tracing.js');
  return startTracingIn(stack, o.log, o.otlpEndpoint);
}

/**
 * Validates and swaps in the files' domains; anything invalid keeps the last good config (none at
 * start: the service then answers "no rate limit configuration loaded", as the reference does).
 */
function applyFiles(server: RateLimitServer, files: SourceFile[], log: Logger, mergeDomains: boolean): void {
  const { domains, diagnostics } = parseRateLimitFiles(files, { mergeDomains });
  if (hasErrors(diagnostics)) return rejected(server, diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'), log);
  try {
    server.setConfig(domains);
  } catch {
    // setConfig has counted and logged it; the last good config stays.
  }
}

function rejected(server: RateLimitServer, message: string, log: Logger): void {
  server.limiter.metrics.configLoadError.inc();
  log.error({ err: message }, 'rate limit config not loaded; keeping the last good one');
}
