import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createAuthzServer, type AuthzServer } from '../authz/server.js';
import type { Config } from '../config/model.js';
import type { TlsFiles } from '../grpc/tls.js';
import { createRedisClient, RedisBackend } from '../ratelimit/backend/redis.js';
import { createRateLimitServer, type RateLimitServer } from '../ratelimit/server.js';
import type { RateLimitServiceOptions } from '../ratelimit/service.js';
import type { ServiceStack } from '../service/stack.js';
import type { Store } from '../store/types.js';

/** The rate limit service's knobs (`serve --ratelimit-*`, the same as `banyan ratelimit`'s flags). */
export type RateLimitTuning = Omit<RateLimitServiceOptions, 'backend' | 'domains' | 'metrics' | 'now' | 'log'> & {
  /** Domains named more than once are merged (the reference's MERGE_DOMAIN_CONFIG), not refused. */
  mergeDomains?: boolean;
};

export interface ServicesOptions {
  host: string;
  /** undefined = not started; 0 = any free port. */
  ratelimitPort?: number;
  /** redis://, rediss://, redis+cluster:// or redis+sentinel:// (see RedisConnectOptions.url). */
  redisUrl?: string;
  /** @deprecated ratelimitOptions.timeoutMs */
  ratelimitTimeoutMs?: number;
  /** @deprecated ratelimitOptions.failureMode */
  ratelimitFailureMode?: 'allow' | 'deny';
  ratelimitOptions?: RateLimitTuning;
  authzPort?: number;
  /** The serve's store: the authz service denies the tokens revoked there (by any replica). */
  revocationStore?: Pick<Store, 'listRevocations' | 'pruneRevocations' | 'watch'>;
  /** TLS for both services (the same files as the xDS server); plaintext off loopback needs `insecure`. */
  tls?: TlsFiles;
  insecure?: boolean;
  /** serve's tracing is on (startTracingIn): the rate limit service then spans its decisions too. */
  tracing?: boolean;
}

export interface InProcessServices {
  ratelimit?: RateLimitServer;
  authz?: AuthzServer;
  ports: { ratelimit?: number; authz?: number };
  /** Registries beside the control plane's, for the admin API's /metrics. */
  registries: Registry[];
  /** Hands both services the config the control plane now serves. */
  feed(config: Config): void;
}

/**
 * The rate limit and authz services inside `banyan serve`. They bind before the first config loads:
 * where they listen is what the banyan_ratelimit / banyan_authz clusters advertise, unless the
 * YAML's `services:` says otherwise.
 */
export async function startServices(opts: ServicesOptions, registry: Registry, log: Logger, stack: ServiceStack): Promise<InProcessServices> {
  // mergeDomains is the config loader's (LoadOptions.mergeRateLimitDomains): what it loads is served whole.
  const { mergeDomains: _merge, ...tuning } = opts.ratelimitOptions ?? {};
  const ratelimit =
    opts.ratelimitPort === undefined
      ? undefined
      : createRateLimitServer({
          timeoutMs: opts.ratelimitTimeoutMs,
          failureMode: opts.ratelimitFailureMode,
          ...definedOnly(tuning),
          backend: opts.redisUrl ? new RedisBackend(createRedisClient({ url: opts.redisUrl })) : undefined,
          tracing: opts.tracing ?? false,
          log: log.child({ component: 'ratelimit' }),
        });
  const authz = opts.authzPort === undefined ? undefined : createAuthzServer({ registry, logger: log.child({ component: 'authz' }) });
  const ports: InProcessServices['ports'] = {};
  if (ratelimit) {
    stack.add('rate limit service', () => ratelimit.stop());
    ports.ratelimit = await ratelimit.start(opts.ratelimitPort, opts.host, { tls: opts.tls, insecure: opts.insecure });
  }
  if (authz) {
    stack.add('authz service', () => authz.stop());
    // Before it listens: a restarted replica never allows a token revoked while it was down.
    if (opts.revocationStore) await authz.followRevocations(opts.revocationStore, { logger: log.child({ component: 'authz' }) });
    ports.authz = await authz.start(opts.authzPort, opts.host, { tls: opts.tls, insecure: opts.insecure });
    log.info({ component: 'authz', port: ports.authz }, 'authz service listening');
  }
  return {
    ratelimit,
    authz,
    ports,
    registries: ratelimit ? [ratelimit.limiter.metrics.registry] : [],
    feed(config) {
      // Each service validates again on its side and keeps its last good config when it refuses one;
      // proxies then get a config that service does not enforce, so say so next to the control plane's log.
      feedOne(log, 'rate limit', () => ratelimit?.setConfig(config.ratelimit));
      feedOne(log, 'authz', () => authz?.setConfig(config.auth.providers));
    },
  };
}

function feedOne(log: Logger, service: string, set: () => void): void {
  try {
    set();
  } catch (err) {
    log.error({ err }, `the ${service} service refused the config being served; it keeps enforcing its last good one`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

