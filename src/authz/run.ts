import { watch } from 'chokidar';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadConfig } from '../config/load.js';
import type { AuthProvider } from '../config/model.js';
import type { Logger } from '../telemetry/logger.js';
import { serveMetrics } from './metrics-http.js';
import { createAuthzServer, type AuthzServer } from './server.js';

export interface RunAuthzOptions {
  port: number;
  host: string;
  /** Banyan YAML (file or directory) whose auth.providers are served; none = every check denied. */
  config?: string;
  /** Reload providers when the config changes (last good config wins). */
  watch: boolean;
  /** undefined = no metrics endpoint. */
  metricsPort?: number;
  realm?: string;
  logger: Logger;
}

export interface RunningAuthz {
  server: AuthzServer;
  port: number;
  metricsPort?: number;
  stop(): Promise<void>;
}

async function loadProviders(path: string): Promise<AuthProvider[]> {
  const result = await loadConfig(path);
  if (!result.config) throw new Error(result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
  return result.config.auth.providers;
}

/** The standalone authz service behind `banyan authz`: gRPC server, optional metrics, config watch. */
export async function runAuthz(opts: RunAuthzOptions): Promise<RunningAuthz> {
  const providers = opts.config ? await loadProviders(opts.config) : [];
  // Not waiting for first key loads: an unreachable issuer must not keep the port closed, and
  // checks that arrive meanwhile wait for the in-flight load anyway.
  const server = createAuthzServer({ providers, realm: opts.realm, logger: opts.logger });
  const port = await server.start(opts.port, opts.host);
  const metrics = opts.metricsPort === undefined ? undefined : await serveMetrics(server.registry, opts.metricsPort, opts.host);
  const watcher =
    opts.config && opts.watch
      ? watch(opts.config, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 } }).on('all', () => {
          loadProviders(opts.config!).then(
            (next) => {
              server.setConfig(next);
              opts.logger.info({ providers: next.map((p) => p.name) }, 'auth providers reloaded');
            },
            (err: Error) => opts.logger.error({ err: err.message }, 'config rejected; keeping the last good providers'),
          );
        })
      : undefined;
  opts.logger.info({ port, metricsPort: metrics?.port, providers: providers.map((p) => p.name) }, 'authz service listening');
  return {
    server,
    port,
    metricsPort: metrics?.port,
    async stop() {
      await watcher?.close();
      await metrics?.close();
      await server.stop();
    },
  };
}
