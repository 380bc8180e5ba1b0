import type { Command } from 'commander';
import { DEFAULT_PORTS } from '../../ports.js';
import { stopOnSignals } from '../../service/signals.js';
import { logger } from '../../telemetry/logger.js';
import { parseIntOption } from '../options.js';
import { addTlsOptions, tlsFromFlags, type TlsFlags } from '../tls-options.js';

export function register(program: Command): void {
  const cmd = program
    .command('authz')
    .description("Run the ext_authz JWT service (envoy.service.auth.v3.Authorization) on its own")
    .option('--port <port>', 'gRPC port', parseIntOption, DEFAULT_PORTS.authz)
    .option('--host <address>', 'address to bind; off loopback it needs --tls-cert/--tls-key or --insecure', '127.0.0.1')
    .option('--config <path>', "Banyan YAML file or directory; its auth.providers are served")
    .option('--no-watch', 'do not reload providers when the config changes')
    .option('--metrics-port <port>', 'Prometheus /metrics port', parseIntOption, DEFAULT_PORTS.authzMetrics)
    .option('--no-metrics', 'do not serve /metrics')
    .option('--realm <realm>', 'realm in WWW-Authenticate challenges', 'banyan');
  addTlsOptions(cmd, 'the gRPC service')
    .action(async (o: { port: number; host: string; config?: string; watch: boolean; metricsPort: number; metrics: boolean; realm: string } & TlsFlags) => {
      const log = logger();
      // Loaded on demand so that other commands do not pay for jose and gRPC at start-up.
      const { runAuthz } = await import('../../authz/run.js');
      const running = await runAuthz({
        port: o.port,
        host: o.host,
        config: o.config,
        watch: o.watch,
        metricsPort: o.metrics ? o.metricsPort : undefined,
        realm: o.realm,
        tls: tlsFromFlags(o),
        insecure: o.insecure,
        logger: log,
      });
      stopOnSignals(running.shutdown);
    });
}
