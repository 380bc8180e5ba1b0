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
import { startServerSpan, tracingEnabled } from '../telemetry/tracing.js';
import { Authorizer, type AuthorizerOptions } from './authorizer.js';
import { AuthFailure } from './failure.js';
import { createAuthzMetrics } from './metrics.js';
import { viewOf, type CheckRequestObject } from './request.js';
import { denied } from './response.js';
import { RevocationSync, type RevocationStore, type RevocationSyncOptions } from './revocations.js';

const SERVICE_NAME = 'envoy.service.auth.v3.Authorization';
const CHECK_SPAN = `${SERVICE_NAME}/Check`;
const CHECK_ATTRIBUTES = { 'rpc.system': 'grpc', 'rpc.service': SERVICE_NAME, 'rpc.method': 'Check' } as const;

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
        // Envoy propagates the client's trace in the call's metadata when its tracing is on; without
        // it, the request's own traceparent (in CheckRequest's headers) still joins the client's trace.
        const span = tracingEnabled() ? startServerSpan(CHECK_SPAN, CHECK_ATTRIBUTES, call.metadata, headersOf(call.request)) : undefined;
        this.authorizer.check(call.request, span).then(
          (res) => {
            callback(null, res);
            span?.end();
          },
          // check() already turns failures into denials; this only guards against a bug there.
          () => {
            callback(null, denied(new AuthFailure('internal', 'internal_error', 'internal error'), 'banyan', []));
            span?.setAttributes({ 'banyan.authz.result': 'error', 'banyan.authz.reason': 'internal_error', 'http.response.status_code': 500 }).end();
          },
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

/** The request's headers as Envoy sent them: the map, or (header_map form) the view's merge of it. */
function headersOf(request: CheckRequestObject): Record<string, string> {
  return request.attributes?.request?.http?.headers ?? viewOf(request).headers;
}

export function createAuthzServer(opts: AuthzServerOptions = {}): AuthzServer {
  return new AuthzServer(opts);
}
