import * as grpc from '@grpc/grpc-js';
import { bindWithTransport, shutdownGrpcServer } from '../grpc/lifecycle.js';
import { grpcTransport, type GrpcTransport } from '../grpc/grpc-js-tls.js';
import type { Transport } from '../grpc/tls.js';
import type { Registry } from 'prom-client';
import type { AuthProvider } from '../config/model.js';
import { DEFAULT_PORTS } from '../ports.js';
import { authorizationServiceDefinition } from '../proto/grpc.js';
import { addGrpcHealth } from '../telemetry/health.js';
import { createRegistry } from '../telemetry/metrics.js';
import { Authorizer, type AuthorizerOptions } from './authorizer.js';
import { AuthFailure } from './failure.js';
import { createAuthzMetrics } from './metrics.js';
import type { CheckRequestObject } from './request.js';
import { denied } from './response.js';
import { RevocationSync, type RevocationStore, type RevocationSyncOptions } from './revocations.js';

const SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

export interface AuthzServerOptions extends Omit<AuthorizerOptions, 'metrics'> {
  providers?: AuthProvider[];
  /** Metrics go here; default a fresh per-instance registry. */
  registry?: Registry;
}

/**
 * envoy.service.auth.v3.Authorization over gRPC, with grpc.health.v1 and Prometheus metrics on its
 * own registry. `setConfig` swaps providers without a restart.
 */
export class AuthzServer {
  readonly registry: Registry;
  readonly authorizer: Authorizer;
  private server?: grpc.Server;
  private revocationSync?: RevocationSync;
  private transport?: GrpcTransport;
  private readonly opts: AuthzServerOptions;

  constructor(opts: AuthzServerOptions = {}) {
    this.opts = opts;
    this.registry = opts.registry ?? createRegistry();
    this.authorizer = new Authorizer({ ...opts, metrics: createAuthzMetrics(this.registry) });
    if (opts.providers) this.authorizer.setProviders(opts.providers);
  }

  /**
   * Denies what the store's revocations say: loads them now (rejects when the store cannot be read),
   * then follows every change (any replica's, for PostgreSQL) and re-reads every resyncMs. Without
   * it the authorizer's revocation list is this process's alone.
   */
  async followRevocations(store: RevocationStore, opts: RevocationSyncOptions = {}): Promise<void> {
    const sync = new RevocationSync(this.authorizer.revocations, store, opts);
    await sync.start();
    this.revocationSync?.stop();
    this.revocationSync = sync;
  }

  setConfig(providers: AuthProvider[]): void {
    this.authorizer.setProviders(providers);
  }

  /** Binds and serves; resolves to the bound port (pass 0 for any free port). TLS or plaintext per `transport`. */
  async start(port: number = DEFAULT_PORTS.authz, host = '127.0.0.1', transport: Transport = {}): Promise<number> {
    const t = await grpcTransport('authz service', host, transport, { logger: this.opts.logger });
    const server = new grpc.Server();
    server.addService(authorizationServiceDefinition(), {
      Check: (call: grpc.ServerUnaryCall<CheckRequestObject, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        this.authorizer.check(call.request).then(
          (res) => callback(null, res),
          // check() already turns failures into denials; this only guards against a bug there.
          () => callback(null, denied(new AuthFailure('internal', 'internal_error', 'internal error'), 'banyan', [])),
        );
      },
    });
    addGrpcHealth(server, [SERVICE_NAME]);
    const bound = await bindWithTransport(server, host, port, t);
    this.server = server;
    this.transport = t;
    return bound;
  }

  async stop(): Promise<void> {
    this.revocationSync?.stop();
    const server = this.server;
    this.server = undefined;
    // In-flight calls get a moment; a stuck client must not block shutdown.
    if (server) await shutdownGrpcServer(server, 2000);
    this.transport?.close();
    this.transport = undefined;
    await this.authorizer.close();
  }
}

export function createAuthzServer(opts: AuthzServerOptions = {}): AuthzServer {
  return new AuthzServer(opts);
}
