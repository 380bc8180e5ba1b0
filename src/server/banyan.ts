import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AdminServer } from '../admin/server.js';
import { Router } from '../admin/router.js';
import { bearerAuthorizer } from '../admin/auth.js';
import { mountCoreRoutes } from '../admin/routes/core.js';
import { mountOpsRoutes } from '../admin/routes/ops.js';
import { RolloutRunner } from '../rollout/runner.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { createLogger } from '../telemetry/logger.js';
import { createRegistry, enableProcessMetrics } from '../telemetry/metrics.js';
import { addGrpcHealth } from '../telemetry/health.js';
import { SnapshotCache } from '../xds/cache.js';
import { XdsServer } from '../xds/server.js';
import { ChangeHeldError, ConfigRejectedError, ControlPlane } from './control.js';
import { ConfigPipeline } from './pipeline.js';
import { ConfigWatcher } from '../service/watcher.js';
import { readConfigFiles, type SourceFile } from '../config/source.js';
import { bindGrpcServer, shutdownGrpcServer } from '../grpc/lifecycle.js';
import { formatDiagnostic } from '../config/diagnostics.js';
import { createRateLimitServer, type RateLimitServer } from '../ratelimit/server.js';
import { createRedisClient, RedisBackend } from '../ratelimit/backend/redis.js';
import { createAuthzServer, type AuthzServer } from '../authz/server.js';

export interface ServeOptions {
  /** YAML file or directory. Optional with PostgreSQL: a replica may follow the store alone. */
  config?: string;
  /** Address the gRPC servers bind (xDS, rate limit, authz). */
  host: string;
  xdsPort: number;
  /** Admin HTTP; loopback by default because it can change traffic. */
  adminHost: string;
  adminPort: number;
  adminToken?: string;
  /** Coalesce bursts of file edits into one reload. */
  debounceMs: number;
  /** A file change still being written (open for writing, empty) is applied anyway after this long; default 10 s. */
  watchMaxWaitMs?: number;
  watch: boolean;
  /** Embedded store directory (default .banyan); ignored when postgresUrl or store is given. */
  dataDir?: string;
  postgresUrl?: string;
  /** An already-open store (tests); closed by stop() only when Banyan opened it itself. */
  store?: Store;
  /** In-process rate limit service port (0 = any free port); undefined = not started. */
  ratelimitPort?: number;
  /** Redis URL for shared rate-limit counters; in-memory when absent. */
  redisUrl?: string;
  ratelimitTimeoutMs?: number;
  ratelimitFailureMode?: 'allow' | 'deny';
  /** In-process authz service port (0 = any free port); undefined = not started. */
  authzPort?: number;
  logger?: Logger;
}

export interface RunningBanyan {
  ports: { xds: number; admin: number; ratelimit?: number; authz?: number };
  ratelimit?: RateLimitServer;
  authz?: AuthzServer;
  pipeline: ConfigPipeline;
  control: ControlPlane;
  store: Store;
  runner: RolloutRunner;
  xds: XdsServer;
  cache: SnapshotCache;
  registry: Registry;
  /** Re-reads the config path now (what the watcher does after a burst of edits). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `banyan serve`: loads state (refusing to start with no valid config), then serves xDS and the admin
 * API, follows edits of the config path, and drives rollouts.
 */
export async function startBanyan(opts: ServeOptions): Promise<RunningBanyan> {
  const log = opts.logger ?? createLogger();
  const registry = createRegistry();
  enableProcessMetrics(registry);

  const cache = new SnapshotCache({ logger: log, registry });
  const xds = new XdsServer({ cache, logger: log, registry });
  // The services exist before the first config so that they receive it with everything else.
  const ratelimit =
    opts.ratelimitPort === undefined
      ? undefined
      : createRateLimitServer({
          backend: opts.redisUrl ? new RedisBackend(createRedisClient({ url: opts.redisUrl })) : undefined,
          timeoutMs: opts.ratelimitTimeoutMs,
          failureMode: opts.ratelimitFailureMode,
          log: log.child({ component: 'ratelimit' }),
        });
  const authz = opts.authzPort === undefined ? undefined : createAuthzServer({ registry, logger: log.child({ component: 'authz' }) });
  const ownStore = !opts.store;
  const store = opts.store ?? (await openStore({ postgresUrl: opts.postgresUrl, dataDir: opts.dataDir, logger: log }));
  const runner = new RolloutRunner({ store, logger: log });
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
    cleanups.length = 0;
  };

  try {
    cleanups.push(async () => {
      if (ownStore) await store.close();
    });
    // Banyan's own services bind before the first config loads: where they listen is what the
    // banyan_ratelimit / banyan_authz clusters advertise, unless the YAML's `services:` says otherwise.
    const ratelimitPort = ratelimit ? await ratelimit.start(opts.ratelimitPort, opts.host) : undefined;
    if (ratelimit) {
      cleanups.push(() => ratelimit.stop());
      log.info({ component: 'ratelimit', port: ratelimitPort, backend: opts.redisUrl ? 'redis' : 'memory' }, 'rate limit service listening');
    }
    const authzPort = authz ? await authz.start(opts.authzPort, opts.host) : undefined;
    if (authz) {
      cleanups.push(() => authz.stop());
      log.info({ component: 'authz', port: authzPort }, 'authz service listening');
    }

    const pipeline = new ConfigPipeline(
      {
        snapshot: (s, wire) => cache.setSnapshot(s, wire),
        config: (c) => {
          // Both services validate again on their side; a rejection there keeps their last good config.
          try {
            ratelimit?.setConfig(c.ratelimit);
          } catch {
            /* logged and counted by the rate limit service */
          }
          authz?.setConfig(c.auth.providers);
        },
      },
      log,
      registry,
      { served: { host: opts.host, ratelimit: ratelimitPort, authz: authzPort } },
    );
    // A rollout whose route the YAML re-pointed would keep writing overrides the YAML has outdated: stop it.
    const control = new ControlPlane(store, pipeline, log, async (route, reason) => {
      const active = await store.activeRollout(route);
      if (!active) return;
      log.warn({ route, rollout: active.id }, `aborting rollout: ${reason}`);
      await runner.abort(active.id, 'banyan (YAML changed the route)');
    });
    try {
      await control.start(opts.config ? await readConfigFiles(opts.config) : undefined);
    } catch (err) {
      if (err instanceof ConfigRejectedError) {
        throw new Error(`config ${opts.config} is invalid; not starting:\n${err.diagnostics.map((d) => '  ' + formatDiagnostic(d)).join('\n')}`);
      }
      throw err;
    }
    cleanups.push(() => control.stop());
    await runner.start();
    cleanups.push(() => runner.stop());

    const grpcServer = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    xds.addToServer(grpcServer);
    addGrpcHealth(grpcServer, ['envoy.service.discovery.v3.AggregatedDiscoveryService']);
    const xdsPort = await bindGrpcServer(grpcServer, opts.host, opts.xdsPort);
    cleanups.push(() => shutdownGrpcServer(grpcServer));

    const router = new Router(bearerAuthorizer(opts.adminToken));
    const proxies = () => xds.status();
    const registries = [registry, ...(ratelimit ? [ratelimit.limiter.metrics.registry] : [])];
    mountCoreRoutes(router, { pipeline, registries, proxies, ready: () => !!pipeline.current });
    mountOpsRoutes(router, { control, store, runner, pipeline, proxies });
    const admin = new AdminServer(router);
    const adminPort = await admin.listen(opts.adminPort, opts.adminHost);
    cleanups.push(() => admin.close());

    // A file edit is a change like any other: validated, written to the store, then served.
    // The watcher hands over files it read whole; a rejection reports exactly those, not a re-read.
    const applyFiles = async (files: SourceFile[]): Promise<void> => {
      try {
        await control.apply(files, { author: 'file', message: `edited ${opts.config}` });
      } catch (err) {
        if (err instanceof ConfigRejectedError) pipeline.rejectFiles(files, err.diagnostics);
        else if (err instanceof ChangeHeldError) pipeline.holdFiles(files, err.findings);
        else log.error({ err }, `could not apply ${opts.config}; last good config keeps serving`);
      }
    };
    const reload = async (): Promise<void> => {
      if (!opts.config) return;
      const files = await readConfigFiles(opts.config).catch((err: Error) => void log.error({ err }, `could not read ${opts.config}; last good config keeps serving`));
      if (files) await applyFiles(files);
    };
    if (opts.config && opts.watch) {
      const watcher = new ConfigWatcher(opts.config, applyFiles, {
        debounceMs: opts.debounceMs,
        maxWaitMs: opts.watchMaxWaitMs,
        logger: log.child({ component: 'watcher' }),
      });
      await watcher.start();
      cleanups.push(() => watcher.stop());
    }

    log.info({ xdsPort, adminPort, ratelimitPort, authzPort, config: opts.config }, 'banyan serving');
    return {
      ports: { xds: xdsPort, admin: adminPort, ratelimit: ratelimitPort, authz: authzPort },
      ratelimit,
      authz,
      pipeline,
      control,
      store,
      runner,
      xds,
      cache,
      registry,
      reload,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
