import * as grpc from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '../grpc/lifecycle.js';
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

  constructor(opts: AuthzServerOptions = {}) {
    this.registry = opts.registry ?? createRegistry();
    this.authorizer = new Authorizer({ ...opts, metrics: createAuthzMetrics(this.registry) });
    if (opts.providers) this.authorizer.setProviders(opts.providers);
  }

  setConfig(providers: AuthProvider[]): void {
    this.authorizer.setProviders(providers);
  }

  /** Binds and serves; resolves to the bound port (pass 0 for any free port). */
  async start(port: number = DEFAULT_PORTS.authz, host = '0.0.0.0'): Promise<number> {
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
    const bound = await bindGrpcServer(server, host, port);
    this.server = server;
    return bound;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // In-flight calls get a moment; a stuck client must not block shutdown.
    if (server) await shutdownGrpcServer(server, 2000);
    await this.authorizer.close();
  }
}

export function createAuthzServer(opts: AuthzServerOptions = {}): AuthzServer {
  return new AuthzServer(opts);
}
