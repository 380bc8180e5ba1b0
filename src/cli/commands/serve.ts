import type { Command } from 'commander';
import { resolveAdminToken } from '../../admin/auth.js';
import { DEFAULT_PORTS } from '../../ports.js';
import { holdSignals } from '../../service/signals.js';
import { parseIntOption } from '../options.js';
import { CliError, EXIT, orExit } from '../admin-client.js';
import { parseInterval } from '../../rollout/steps.js';
import { addTlsOptions, tlsFromFlags } from '../tls-options.js';
import { addRateLimitFlags, rateLimitKnobs } from '../ratelimit-flags.js';
import { addOtlpFlag, otlpEndpointFromFlag } from '../otlp-flag.js';

export function register(program: Command): void {
  const serve = program
    .command('serve')
    .description('Serve xDS to Envoy proxies and gRPC clients from a route YAML file or directory, with hot reload')
    .argument('[config]', 'YAML file or directory of YAML files (optional with --postgres: follow the shared store)')
    .option('--host <addr>', 'address for the gRPC servers (xDS, rate limit, authz); off loopback it needs --tls-cert/--tls-key or --insecure', '127.0.0.1')
    .option('--xds-port <port>', 'xDS (ADS) gRPC port', parseIntOption, DEFAULT_PORTS.xds)
    .option('--admin-host <addr>', 'admin API address (loopback by default: it can change traffic)', '127.0.0.1')
    .option('--admin-port <port>', 'admin API HTTP port', parseIntOption, DEFAULT_PORTS.admin)
    .option('--admin-token <token>', 'single admin token (visible in argv: prefer BANYAN_ADMIN_TOKEN or --admin-token-file)')
    .option('--admin-token-file <file>', 'read the single admin token from a file')
    .option('--admin-tokens-file <file>', 'named tokens with roles: a YAML/JSON list of {name, role: read|operate|admin, token | tokenSha256}')
    .option('--admin-allowed-host <host>', 'a Host name the admin API answers to besides loopback and --admin-host (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--admin-max-body <bytes>', 'cap on config uploads (validate, diff, apply); JSON commands are capped at 1 MiB', parseIntOption, 4 * 1024 * 1024)
    .option('--debounce <ms>', 'coalesce bursts of config edits into one reload', parseIntOption, 100)
    .option('--no-watch', 'do not watch the config path for changes')
    .option('--data-dir <dir>', 'embedded state directory', '.banyan')
    .option('--postgres <url>', 'PostgreSQL URL for shared state between replicas (or BANYAN_POSTGRES_URL)')
    .option('--ratelimit-port <port>', 'in-process rate limit service gRPC port', parseIntOption, DEFAULT_PORTS.ratelimit)
    .option('--no-ratelimit', 'do not start the rate limit service in this process')
    .option('--redis <url>', 'Redis for shared rate-limit counters (default: in memory): redis://host:port[/db], rediss://..., redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername[/db]')
    .option('--authz-port <port>', 'in-process ext_authz service gRPC port', parseIntOption, DEFAULT_PORTS.authz)
    .option('--no-authz', 'do not start the authz service in this process')
    .option('--config-owner <owner>', 'who owns the config: files (default while watching: apply and rollback are refused) or store')
    .option('--replica <id>', "this replica's name in the fleet's status (default: hostname-pid-random)")
    .option('--prometheus-url <url>', 'Prometheus for rollout analysis checks with source: prometheus (or BANYAN_PROMETHEUS_URL)')
    .option('--load-report-interval <duration>', 'how often proxies report load over LRS', '10s')
    .option('--rollout-poll <duration>', 'how often rollouts waiting on proxies or gates are looked at', '1s')
    .option('--ca-cert <file>', "Banyan's CA certificate (configs with ca:), with --ca-key; default: the CA in PostgreSQL, or <data-dir>/ca, created on first use")
    .option('--ca-key <file>', "Banyan's CA private key (PEM; encrypted PKCS#8 is decrypted with the passphrase)")
    .option('--ca-dir <dir>', "where the embedded CA lives (default <data-dir>/ca)")
    .option('--ca-passphrase-file <file>', "passphrase that encrypts the CA key at rest (or BANYAN_CA_KEY_PASSPHRASE); required with --postgres");
  // --ratelimit-timeout, --ratelimit-failure-mode and the other knobs of `banyan ratelimit`, prefixed.
  addRateLimitFlags(serve, 'ratelimit-');
  addOtlpFlag(serve);
  addTlsOptions(serve, 'every server (xDS, rate limit, authz and the admin API, which becomes HTTPS)', '--host or --admin-host')
    .addHelpText(
      'after',
      `
Examples:
  $ banyan serve examples/banyan.yaml
  $ banyan serve ./routes/ --xds-port ${DEFAULT_PORTS.xds} --admin-token-file /etc/banyan/token
  $ banyan serve ./routes/ --host 0.0.0.0 --tls-cert tls.crt --tls-key tls.key --tls-client-ca ca.crt`,
    )
    .action(async (config: string | undefined, o) => {
      const held = holdSignals();
      // Loaded on demand: the server graph (protos, gRPC, stores) would slow every other CLI command.
      const { startBanyan } = await import('../../server/banyan.js');
      warnArgvSecrets(o);
      const otlpEndpoint = await otlpEndpointFromFlag(o);
      const running = await startBanyan({
        config,
        admin: { tokensFile: o.adminTokensFile, allowedHosts: o.adminAllowedHost ?? [], maxConfigBody: o.adminMaxBody },
        host: o.host,
        xdsPort: o.xdsPort,
        adminHost: o.adminHost,
        adminPort: o.adminPort,
        adminToken: resolveAdminToken({ token: o.adminToken ?? process.env.BANYAN_ADMIN_TOKEN, tokenFile: o.adminTokenFile }),
        debounceMs: o.debounce,
        watch: o.watch,
        dataDir: o.dataDir,
        postgresUrl: o.postgres ?? process.env.BANYAN_POSTGRES_URL,
        ratelimitPort: o.ratelimit ? o.ratelimitPort : undefined,
        redisUrl: o.redis,
        ratelimitOptions: orExit(() => rateLimitKnobs(o, 'ratelimit-')),
        authzPort: o.authz ? o.authzPort : undefined,
        configOwner: orExit(() => owner(o.configOwner)),
        replica: o.replica,
        prometheusUrl: o.prometheusUrl ?? process.env.BANYAN_PROMETHEUS_URL,
        loadReportIntervalMs: orExit(() => parseInterval(o.loadReportInterval, '--load-report-interval')),
        rolloutPollMs: orExit(() => parseInterval(o.rolloutPoll, '--rollout-poll')),
        tls: tlsFromFlags(o),
        insecure: o.insecure,
        ca: orExit(() => caFromFlags(o)),
        otlpEndpoint,
      });
      held.stopWith(running.shutdown);
    });
}

/** Secrets on the command line are readable by every local user (ps, /proc/PID/cmdline): say so, and where to put them. */
function warnArgvSecrets(o: { adminToken?: string; postgres?: string }): void {
  if (o.adminToken) {
    process.stderr.write('warning: --admin-token is visible in argv (ps, /proc) to every local user; use BANYAN_ADMIN_TOKEN, --admin-token-file or --admin-tokens-file\n');
  }
  if (o.postgres) {
    let password = false;
    try {
      password = new URL(o.postgres).password !== '';
    } catch {
      password = /:[^@/]+@/.test(o.postgres);
    }
    if (password) process.stderr.write('warning: the --postgres URL carries a password visible in argv (ps, /proc) to every local user; use BANYAN_POSTGRES_URL (or PGPASSWORD / ~/.pgpass)\n');
  }
}

function caFromFlags(o: { caCert?: string; caKey?: string; caDir?: string; caPassphraseFile?: string }): { certFile?: string; keyFile?: string; dir?: string; passphraseFile?: string } {
  if (!!o.caCert !== !!o.caKey) throw new CliError('--ca-cert and --ca-key go together', EXIT.usage);
  return { certFile: o.caCert, keyFile: o.caKey, dir: o.caDir, passphraseFile: o.caPassphraseFile };
}

function owner(text: string | undefined): 'files' | 'store' | undefined {
  if (text === undefined || text === 'files' || text === 'store') return text;
  throw new CliError(`--config-owner must be files or store, not '${text}'`, EXIT.usage);
}
