import type { Command } from 'commander';
import { DEFAULT_PORTS } from '../../ports.js';
import { holdSignals } from '../../service/signals.js';
import { logger } from '../../telemetry/logger.js';
import type { Revocation } from '../../store/types.js';
import { clientFrom, CliError, EXIT, withServerOptions } from '../admin-client.js';
import { parseIntOption } from '../options.js';
import { color, outputOption, printStructured, table } from '../output.js';
import { defaultAuthor, withAuthor } from './apply.js';
import { addTlsOptions, tlsFromFlags, type TlsFlags } from '../tls-options.js';
import { addOtlpFlag, otlpEndpointFromFlag } from '../otlp-flag.js';

export function register(program: Command): void {
  const cmd = program
    .command('authz')
    .description("Run the ext_authz JWT service (envoy.service.auth.v3.Authorization) on its own")
    .option('--port <port>', 'gRPC port', parseIntOption, DEFAULT_PORTS.authz)
    .option('--host <address>', 'address to bind; off loopback it needs --tls-cert/--tls-key or --insecure', '127.0.0.1')
    .option('--config <path>', "Banyan YAML file or directory; its auth.providers are served")
    .option('--no-watch', 'do not reload providers when the config changes')
    .option('--metrics-port <port>', 'Prometheus /metrics (and /healthz) port, at --host; HTTPS with the --tls-cert certificate when given', parseIntOption, DEFAULT_PORTS.authzMetrics)
    .option('--no-metrics', 'do not serve /metrics')
    .option('--realm <realm>', 'realm in WWW-Authenticate challenges', 'banyan')
    .option('--postgres <url>', "the serve replicas' PostgreSQL (or BANYAN_POSTGRES_URL): deny the tokens revoked there");
  addTlsOptions(addOtlpFlag(cmd), 'the gRPC service')
    .action(async (o: { port: number; host: string; config?: string; watch: boolean; metricsPort: number; metrics: boolean; realm: string; postgres?: string; otlpEndpoint?: string } & TlsFlags) => {
      const held = holdSignals();
      const log = logger();
      const otlpEndpoint = await otlpEndpointFromFlag(o);
      const tls = tlsFromFlags(o);
      // With TLS, /metrics is HTTPS with the same certificate (serveServiceMetrics); without, the runner's plaintext endpoint
      const httpsMetrics = tls !== undefined && o.metrics;
      // Loaded on demand so that other commands do not pay for jose and gRPC at start-up.
      const { runAuthz } = await import('../../authz/run.js');
      const running = await runAuthz({
        port: o.port,
        host: o.host,
        config: o.config,
        watch: o.watch,
        metricsPort: o.metrics && !httpsMetrics ? o.metricsPort : undefined,
        realm: o.realm,
        tls,
        insecure: o.insecure,
        postgresUrl: o.postgres ?? process.env.BANYAN_POSTGRES_URL,
        logger: log,
        otlpEndpoint,
      });
      if (!httpsMetrics) return void held.stopWith(running.shutdown);
      const { withServiceMetrics } = await import('../service-metrics.js');
      const served = await withServiceMetrics(running, 'authz service', {
        service: 'authz',
        registries: [running.server.registry],
        port: o.metricsPort,
        host: o.host,
        tls,
        insecure: o.insecure,
        logger: log,
      });
      held.stopWith(served.shutdown);
      served.announce();
    });
  registerRevocationCommands(cmd);
}

/** `banyan authz revoke` and `banyan authz revocations`, against the admin API of `banyan serve`. */
function registerRevocationCommands(authz: Command): void {
  const revoke = authz
    .command('revoke')
    .description('Revoke tokens by jti, sub or sid: every replica denies them within about a second')
    .option('--jti <id>', 'that token')
    .option('--sub <subject>', "the subject's tokens issued until now (a later login passes)")
    .option('--sid <session>', 'every token of that session')
    .option('--from-token <jwt>', 'revoke this token: its jti and exp are read from it (its payload, unverified)')
    .option('--reason <text>', 'why: recorded in the audit log')
    .option('--expires <duration>', 'how long the revocation lasts (default 24h; with a token by jti: until its exp)')
    .option('--unrevoke', 'lift the revocation instead');
  outputOption(withAuthor(withServerOptions(revoke)))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan authz revoke --jti 5f0c2a --reason "leaked in a log"
  $ banyan authz revoke --sub user-42 --expires 12h --reason offboarded
  $ banyan authz revoke --from-token "$JWT" --reason "stolen session"
  $ banyan authz revoke --sid 9d1e --unrevoke`,
    )
    .action(async (o: { jti?: string; sub?: string; sid?: string; fromToken?: string; reason?: string; expires?: string; unrevoke?: boolean; server?: string; token?: string; author?: string; output: string }) => {
      const given = (['jti', 'sub', 'sid'] as const).filter((k) => o[k] !== undefined);
      if (given.length + (o.fromToken ? 1 : 0) !== 1) throw new CliError('give exactly one of --jti, --sub, --sid or --from-token', EXIT.usage);
      const kind = given[0] ?? 'jti';
      const value = o[kind];
      const client = clientFrom(o);
      const author = o.author ?? defaultAuthor();
      if (o.unrevoke) {
        if (!value) throw new CliError('--unrevoke needs --jti, --sub or --sid', EXIT.usage);
        const reply = await client.request<{ kind: string; value: string }>('DELETE', `/api/v1/revocations/${kind}/${encodeURIComponent(value)}`, { author });
        if (printStructured(reply, o.output)) return;
        process.stdout.write(`${kind} ${value}: revocation lifted\n`);
        return;
      }
      const body = { kind, ...(value ? { value } : { token: o.fromToken }), reason: o.reason ?? '', ...(o.expires ? { expires: o.expires } : {}), author };
      const reply = await client.post<{ revocation: Revocation }>('/api/v1/revocations', body);
      if (printStructured(reply, o.output)) return;
      const r = reply.revocation;
      process.stdout.write(`${r.kind} ${r.value}: revoked until ${iso(r.expiresAt)}\n`);
    });

  const list = authz.command('revocations').description('List the token revocations in force, oldest first');
  outputOption(withServerOptions(list))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan authz revocations
  $ banyan authz revocations -o json`,
    )
    .action(async (o: { server?: string; token?: string; output: string }) => {
    const reply = await clientFrom(o).get<{ revocations: Revocation[] }>('/api/v1/revocations');
    if (printStructured(reply, o.output)) return;
    const rows = reply.revocations.map((r) => [r.kind, r.value, iso(r.createdAt), iso(r.expiresAt), r.actor, r.reason || color.dim('-')]);
    process.stdout.write(rows.length ? table(['KIND', 'VALUE', 'SINCE', 'UNTIL', 'BY', 'REASON'], rows) : 'no revocations\n');
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
