import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { passphraseFromEnv, type KeyedCert } from '../ca/index.js';
import { loadOrCreateCa, passphraseFromFile } from '../ca/source.js';
import type { MeshCa, ProxyGroup } from '../config/model.js';
import type { AuthzServer } from '../authz/server.js';
import { assertSecureBind, type TlsFiles } from '../grpc/tls.js';
import type { RateLimitServer } from '../ratelimit/server.js';
import { BanyanMetricSource } from '../rollout/analysis/banyan-source.js';
import { PrometheusMetricSource } from '../rollout/analysis/prometheus.js';
import { RolloutRunner } from '../rollout/runner.js';
import { ServiceStack, type StopReport } from '../service/stack.js';
import { ConfigWatcher } from '../service/watcher.js';
import { startTracingIn } from '../service/tracing.js';
import { withHealth } from '../store/health.js';
import { openStore } from '../store/open.js';
import { PostgresStore } from '../store/postgres.js';
import type { Store } from '../store/types.js';
import { createLogger } from '../telemetry/logger.js';
import { createRegistry, enableProcessMetrics } from '../telemetry/metrics.js';
import { SnapshotCache } from '../xds/cache.js';
import { XdsServer } from '../xds/server.js';
import { loadTokensFile } from '../admin/auth.js';
import { serveAdmin, type AdminSecurity } from './admin-endpoint.js';
import { ControlPlane } from './control.js';
import { FileEdits } from './file-edits.js';
import { FleetPublisher, replicaId } from './fleet.js';
import { webhookClient } from './rollout-deps.js';
import { fleetSync, recentReplicas, type FleetState } from './rollout-progress.js';
import { ConfigPipeline } from './pipeline.js';
import { PushTrace } from './push-trace.js';
import { registerRouteGauges } from './route-gauges.js';
import { startServices, type RateLimitTuning } from './services.js';
import { WorkloadSecrets } from './workload-secrets.js';
import { serveXds } from './xds-endpoint.js';

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
  /** Named tokens, allowed hosts and body cap of the admin API (`serve --admin-*`). */
  admin?: { tokensFile?: string; allowedHosts?: string[]; maxConfigBody?: number };
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
  /** @deprecated ratelimitOptions.timeoutMs */
  ratelimitTimeoutMs?: number;
  /** @deprecated ratelimitOptions.failureMode */
  ratelimitFailureMode?: 'allow' | 'deny';
  /**
   * The in-process rate limit service's knobs (`serve --ratelimit-*`, the same as `banyan ratelimit`'s):
   * timeout, failure mode, shadow, key prefix, near-limit ratio, local cache, response headers, domain
   * merge, stop-increment, response dynamic metadata, quota mode, circuit breaker.
   */
  ratelimitOptions?: RateLimitTuning;
  /** In-process authz service port (0 = any free port); undefined = not started. */
  authzPort?: number;
  logger?: Logger;
  /** This replica's id in the fleet's status (default `${hostname}-${pid}-${4 random hex}`). */
  replica?: string;
  /** How often this replica renews its status in the store; default 1000 ms. */
  fleetIntervalMs?: number;
  /** Who owns the config: `files` (default while watching a config path: apply and rollback are refused) or `store`. */
  configOwner?: 'files' | 'store';
  /** Prometheus for analysis checks with `source: prometheus`. */
  prometheusUrl?: string;
  /** How often rollouts waiting on proxies or gates are looked at (default 1 s). */
  rolloutPollMs?: number;
  /** How far behind now analysis windows end, for samples other replicas have just written (default 1 s). */
  analysisSettleMs?: number;
  /** How often LRS clients report their load (LoadStatsResponse.load_reporting_interval); default 10 s. */
  loadReportIntervalMs?: number;
  /** Clusters always compiled with load reporting (lrs_server self), besides those the pipeline picks. */
  loadReporting?: string[];
  /** TLS (mTLS with caFile + requireClientCert) for every server: xDS, rate limit, authz, admin; files are followed. */
  tls?: TlsFiles;
  /** Serve plaintext on a non-loopback host anyway (refused otherwise). */
  insecure?: boolean;
  /**
   * Banyan's CA, for configs with `ca:`: the operator's files, else the one PostgreSQL holds for the
   * replicas (created by the first; the key encrypted with the passphrase), else `<data-dir>/ca`
   * (`dir`), created on first use. The passphrase comes from `passphraseFile` or BANYAN_CA_KEY_PASSPHRASE.
   */
  ca?: { certFile?: string; keyFile?: string; dir?: string; passphraseFile?: string };
  /** OTLP/HTTP endpoint for Banyan's own spans (Check, config changes); default the OTEL_* environment, else off. */
  otlpEndpoint?: string;
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
  replica: string;
  /** This replica's status in the store, renewed every fleetIntervalMs; the fleet's as read back. */
  fleet: FleetPublisher;
  /** Re-reads the config path now (what the watcher does after a burst of edits). */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** stop(), reporting what stopped (for the exit code): everything in reverse order of start, within a deadline. */
  shutdown(): Promise<StopReport>;
}

/**
 * `banyan serve`: loads state (refusing to start with no valid config), then serves xDS and the admin
 * API, follows edits of the config path, and drives rollouts. Wiring only: each part owns its policy.
 */
export async function startBanyan(opts: ServeOptions): Promise<RunningBanyan> {
  const log = opts.logger ?? createLogger();
  const registry = createRegistry();
  enableProcessMetrics(registry);
  const cache = new SnapshotCache({ logger: log, registry });
  // the groups being served decide which certificate identities may join them; bound once the pipeline exists
  let servedGroups: () => readonly ProxyGroup[] | undefined = () => undefined;
  let servedCa: () => MeshCa | undefined = () => undefined;
  let caStore: Store | undefined;
  const clientCertsVerified = !!(opts.tls?.caFile && opts.tls.requireClientCert);
  const workload = new WorkloadSecrets({
    ca: () => banyanCa(opts, caStore, log),
    meshCa: () => servedCa(),
    clientCertsVerified,
    allowUnauthenticated: !!opts.insecure,
    log: log.child({ component: 'ca' }),
    registry,
  });
  const xds = new XdsServer({ cache, logger: log, registry, groups: () => servedGroups(), clientCertsVerified, personal: workload });
  const stack = new ServiceStack(log);
  const transport = { tls: opts.tls, insecure: opts.insecure };
  // Before anything starts: a refused bind must not leave a store opened or a service listening.
  assertSecureBind('xDS server', opts.host, transport);
  assertSecureBind('admin API', opts.adminHost, transport);
  try {
    // First in the stack, so it is flushed last: the spans of the changes made while stopping go out too.
    const tracing = await startTracingIn(stack, log, opts.otlpEndpoint);
    const opened = opts.store ?? (await openStore({ postgresUrl: opts.postgresUrl, dataDir: opts.dataDir, logger: log }));
    // Closed by stop() only when Banyan opened it.
    if (!opts.store) stack.add('store', () => opened.close());
    const store = withHealth(opened, registry, opts.postgresUrl || opened instanceof PostgresStore ? 'postgres' : 'embedded');
    if (opts.postgresUrl) caStore = store;
    stack.add("Banyan's CA", () => workload.close());
    // The services exist before the first config so that they receive it with everything else.
    const services = await startServices({ ...opts, revocationStore: store, tracing }, registry, log, stack);
    const pushes = new PushTrace(xds);
    // Stopped before tracing (added after it): an open push span is ended, then flushed.
    if (tracing) stack.add('push traces', () => pushes.close());
    const pipeline = new ConfigPipeline({ snapshot: (s, wire) => pushes.pushed(cache.setSnapshot(s, wire)), config: services.feed }, log, registry, {
      served: { host: opts.host, ...services.ports, tls: !!opts.tls, ...caProblem(opts, caStore) },
      mergeRateLimitDomains: opts.ratelimitOptions?.mergeDomains,
    }, { loadReporting: new Set(opts.loadReporting) });
    registerRouteGauges(registry, pipeline, store, log);
    // current is set before the snapshot is pushed, so a regrouped node is judged by the new groups
    servedGroups = () => pipeline.current?.effective.groups;
    servedCa = () => pipeline.current?.effective.ca;
    const replica = replicaId(opts.replica);
    // the runner's gate reads the fleet, which reads the control plane: bound once all three exist
    const fleetState: FleetState = { pipeline, replica, servedKey: () => control.servedKey(), replicas: recentReplicas(() => fleet.fleet(), 100) };
    const runner = new RolloutRunner({
      store,
      logger: log,
      replica,
      sync: (r) => fleetSync(fleetState, r),
      metrics: { banyan: new BanyanMetricSource(store), ...(opts.prometheusUrl ? { prometheus: new PrometheusMetricSource({ url: opts.prometheusUrl, timeoutMs: 10_000 }) } : {}) },
      webhooks: webhookClient(log),
      pollMs: opts.rolloutPollMs,
      analysisSettleMs: opts.analysisSettleMs,
    });
    const owner = opts.configOwner ?? (opts.config && opts.watch ? 'files' : 'store');
    const control = new ControlPlane(store, pipeline, log, runner, undefined, owner === 'files' ? opts.config : undefined);
    const fleet = new FleetPublisher({ store, xds, servedKey: () => control.servedKey(), logger: log, replica, intervalMs: opts.fleetIntervalMs });
    const edits = new FileEdits(opts.config, control, log);
    await edits.start();
    stack.add('control plane', () => control.stop());
    // A CA that cannot be loaded fails the start, as a bad TLS file does, not the first proxy.
    if (pipeline.current?.effective.ca) await workload.prepare();
    await fleet.start();
    stack.add('fleet status', () => fleet.stop());
    await runner.start();
    stack.add('rollouts', () => runner.stop());
    const loadStats = { store, replica, logger: log, registry, reportIntervalMs: opts.loadReportIntervalMs };
    const xdsEndpoint = await serveXds(xds, opts.host, opts.xdsPort, { loadStats, transport, logger: log });
    stack.add('xDS server', () => xdsEndpoint.stop());
    const admin = await serveAdmin({ control, store, runner, xds, fleet, registries: [registry, ...services.registries] }, opts.adminHost, opts.adminPort, adminSecurity(opts), { tls: opts.tls, logger: log });
    stack.add('admin API', () => admin.close());
    if (opts.config && opts.watch) {
      const watcher = new ConfigWatcher(opts.config, edits.apply, { debounceMs: opts.debounceMs, maxWaitMs: opts.watchMaxWaitMs, logger: log.child({ component: 'watcher' }) });
      await watcher.start();
      stack.add('config watcher', () => watcher.stop());
    }

    const ports = { xds: xdsEndpoint.port, admin: admin.port, ...services.ports };
    log.info({ xdsPort: ports.xds, adminPort: ports.admin, ratelimitPort: ports.ratelimit, authzPort: ports.authz, config: opts.config, replica: fleet.replica }, 'banyan serving');
    const { ratelimit, authz } = services;
    return { ports, ratelimit, authz, pipeline, control, store, runner, xds, cache, registry, replica: fleet.replica, fleet, reload: edits.reload, stop: async () => void (await stack.stop()), shutdown: () => stack.stop() };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** Banyan's CA from the first source that applies (ServeOptions.ca); loaded when a config first asks for it. */
async function banyanCa(opts: ServeOptions, store: Store | undefined, log: Logger): Promise<KeyedCert> {
  const c = opts.ca ?? {};
  const passphrase = c.passphraseFile ? await passphraseFromFile(c.passphraseFile) : passphraseFromEnv();
  const files = c.certFile && c.keyFile ? { certFile: c.certFile, keyFile: c.keyFile } : undefined;
  const loaded = await loadOrCreateCa({ files, store, dir: c.dir ?? path.join(opts.dataDir ?? '.banyan', 'ca'), passphrase });
  log.info({ origin: loaded.origin, created: loaded.created, notAfter: loaded.ca.cert.notAfter.toISOString() }, "Banyan's CA ready");
  return loaded.ca;
}

/**
 * What makes a `ca:` config unservable here before anything is loaded: PostgreSQL holds the CA for
 * the replicas, and its key may only be stored encrypted.
 */
function caProblem(opts: ServeOptions, store: Store | undefined): { caUnavailable?: string } {
  const c = opts.ca ?? {};
  if (c.certFile && c.keyFile) return {};
  if (store && !c.passphraseFile && !passphraseFromEnv()) {
    return { caUnavailable: 'the replicas share the CA through PostgreSQL, and its key is only stored encrypted: start serve with BANYAN_CA_KEY_PASSPHRASE or --ca-passphrase-file' };
  }
  return {};
}

/** The admin API's security settings from the options: the single token, then the named ones. */
function adminSecurity(opts: ServeOptions): AdminSecurity {
  const a = opts.admin ?? {};
  return { token: opts.adminToken, tokens: a.tokensFile ? loadTokensFile(a.tokensFile) : undefined, allowedHosts: a.allowedHosts ?? [], maxConfigBody: a.maxConfigBody };
}
