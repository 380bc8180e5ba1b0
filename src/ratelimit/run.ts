import http from 'node:http';
import chokidar from 'chokidar';
import type { Logger } from '../telemetry/logger.js';
import { createRedisClient, RedisBackend, type RedisConnectOptions } from './backend/redis.js';
import { loadRateLimitDirectory } from './config.js';
import { createRateLimitServer, type RateLimitServer } from './server.js';
import { RateLimitXdsClient } from './xds-client.js';

export interface RunRateLimitOptions {
  port: number;
  host: string;
  /** A directory of envoyproxy/ratelimit domain files, or one file; watched and hot-reloaded. */
  config?: string;
  /** host:port of Banyan's xDS server to take the config from instead. */
  xds?: string;
  nodeId?: string;
  redis?: RedisConnectOptions;
  timeoutMs: number;
  failureMode: 'allow' | 'deny';
  shadow: boolean;
  responseHeaders: boolean;
  metricsPort?: number;
  log: Logger;
}

export interface RunningRateLimit {
  server: RateLimitServer;
  port: number;
  metricsPort?: number;
  stop(): Promise<void>;
}

/** `banyan ratelimit`: the service standalone, fed by files (watched) or by Banyan over xDS. */
export async function runRateLimit(o: RunRateLimitOptions): Promise<RunningRateLimit> {
  const backend = o.redis ? new RedisBackend(createRedisClient(o.redis)) : undefined;
  const server = createRateLimitServer({ backend, timeoutMs: o.timeoutMs, failureMode: o.failureMode, globalShadowMode: o.shadow, responseHeaders: o.responseHeaders, log: o.log });
  const stops: (() => Promise<void> | void)[] = [];

  if (o.config) {
    const path = o.config;
    const load = () => {
      let domains;
      try {
        domains = loadRateLimitDirectory(path);
      } catch (err) {
        server.limiter.metrics.configLoadError.inc();
        o.log.error({ err: (err as Error).message }, 'rate limit config not loaded; keeping the last good one');
        return;
      }
      try {
        server.setConfig(domains);
      } catch {
        // setConfig has counted and logged it; the last good config stays.
      }
    };
    load();
    const watcher = chokidar.watch(path, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 20 } });
    watcher.on('all', load);
    stops.push(() => watcher.close());
    // An edit made before the initial scan finishes would be missed: be watching before returning.
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }
  if (o.xds) {
    const client = new RateLimitXdsClient({
      address: o.xds,
      nodeId: o.nodeId ?? `ratelimit-${process.pid}`,
      log: o.log,
      onConfig: (domains) => server.setConfig(domains),
    });
    client.start();
    stops.push(() => client.stop());
  }

  const port = await server.start(o.port, o.host);
  let metricsPort: number | undefined;
  if (o.metricsPort !== undefined) {
    const http_ = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      server.metrics().then((text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text));
    });
    await new Promise<void>((resolve) => http_.listen(o.metricsPort, o.host, resolve));
    metricsPort = (http_.address() as { port: number }).port;
    stops.push(() => new Promise<void>((resolve) => http_.close(() => resolve())));
  }

  return {
    server,
    port,
    metricsPort,
    async stop() {
      for (const s of stops) await s();
      await server.stop();
    },
  };
}
