import { formatDiagnostic } from '../config/diagnostics.js';
import type { TlsFiles } from '../grpc/tls.js';
import { loadConfig, loadConfigFromFiles, type LoadResult } from '../config/load.js';
import type { AuthProvider } from '../config/model.js';
import type { SourceFile } from '../config/source.js';
import { ServiceStack, type StopReport } from '../service/stack.js';
import { PostgresStore } from '../store/postgres.js';
import { ConfigWatcher } from '../service/watcher.js';
import { startTracingIn } from '../service/tracing.js';
import type { Logger } from '../telemetry/logger.js';
import { serveMetrics } from '../telemetry/metrics-http.js';
import { createAuthzServer, type AuthzServer } from './server.js';

export interface RunAuthzOptions {
  port: number;
  host: string;
  /** TLS (mTLS with caFile + requireClientCert), files followed; plaintext off loopback needs `insecure`. */
  tls?: TlsFiles;
  insecure?: boolean;
  /** Banyan YAML (file or directory) whose auth.providers are served; none = every check denied. */
  config?: string;
  /** Reload providers when the config changes (last good config wins). */
  watch: boolean;
  /** Coalesce bursts of edits into one reload (default: the watcher's). */
  debounceMs?: number;
  /** A change still being written is applied anyway after this long (default: the watcher's). */
  watchMaxWaitMs?: number;
  /**
   * The serve replicas' PostgreSQL: tokens revoked there (admin API, `banyan authz revoke`) are denied,
   * followed over LISTEN/NOTIFY. Without it the revocation list is this process's alone (a warning).
   */
  postgresUrl?: string;
  /** undefined = no metrics endpoint. */
  metricsPort?: number;
  realm?: string;
  logger: Logger;
  /** OTLP/HTTP endpoint for Check spans; default the OTEL_* environment, else tracing is off. */
  otlpEndpoint?: string;
}

export interface RunningAuthz {
  server: AuthzServer;
  port: number;
  metricsPort?: number;
  stop(): Promise<void>;
  /** stop(), reporting what stopped (for the exit code). */
  shutdown(): Promise<StopReport>;
}

function providersOf(result: LoadResult): AuthProvider[] {
  if (!result.config) throw new Error(result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
  return result.config.auth.providers;
}

/**
 * The standalone authz service behind `banyan authz`: gRPC server, optional metrics, and the same
 * config watcher as `banyan serve`, so a reload sees only files written whole and never overlaps another.
 */
export async function runAuthz(opts: RunAuthzOptions): Promise<RunningAuthz> {
  const log = opts.logger;
  // {}: authz needs only the providers; certificate files the config names for Envoy need not exist on this host
  const providers = opts.config ? providersOf(await loadConfig(opts.config, {})) : [];
  // Not waiting for first key loads: an unreachable issuer must not keep the port closed, and
  // checks that arrive meanwhile wait for the in-flight load anyway.
  const server = createAuthzServer({ providers, realm: opts.realm, logger: log });
  const stack = new ServiceStack(log);
  try {
    await startTracingIn(stack, log, opts.otlpEndpoint);
    if (opts.postgresUrl) {
      const store = await PostgresStore.open({ url: opts.postgresUrl, logger: log });
      stack.add('revocation store', () => store.close());
      // Before the port opens: no check is answered without the revocations in force.
      await server.followRevocations(store, { logger: log });
    } else {
      log.warn('no revocation store (--postgres): tokens revoked through banyan serve are not denied by this authz service');
    }
    const port = await server.start(opts.port, opts.host, { tls: opts.tls, insecure: opts.insecure });
    stack.add('authz service', () => server.stop());
    const metrics = opts.metricsPort === undefined ? undefined : await serveMetrics([server.registry], opts.metricsPort, opts.host);
    if (metrics) stack.add('metrics endpoint', () => metrics.close());
    if (opts.config && opts.watch) {
      const reload = async (files: SourceFile[]): Promise<void> => {
        try {
          // An empty directory would deny every check: as at start-up, it is an error, not a config.
          if (!files.length) throw new Error(`${opts.config}: no *.yaml or *.yml files in this directory`);
          const next = providersOf(loadConfigFromFiles(files));
          server.setConfig(next);
          log.info({ providers: next.map((p) => p.name) }, 'auth providers reloaded');
        } catch (err) {
          log.error({ err: (err as Error).message }, 'config rejected; keeping the last good providers');
        }
      };
      const watcher = new ConfigWatcher(opts.config, reload, { debounceMs: opts.debounceMs, maxWaitMs: opts.watchMaxWaitMs, logger: log.child({ component: 'watcher' }) });
      await watcher.start();
      stack.add('config watcher', () => watcher.stop());
    }
    log.info({ port, metricsPort: metrics?.port, providers: providers.map((p) => p.name) }, 'authz service listening');
    return { server, port, metricsPort: metrics?.port, stop: async () => void (await stack.stop()), shutdown: () => stack.stop() };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
