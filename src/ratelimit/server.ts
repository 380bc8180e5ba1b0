import * as grpc from '@grpc/grpc-js';
import { bindWithTransport, shutdownGrpcServer } from '../grpc/lifecycle.js';
import { grpcTransport, type GrpcTransport, type Transport } from '../grpc/tls.js';
import type { RateLimitDomain } from '../config/model.js';
import { DEFAULT_PORTS } from '../ports.js';
import { loadEnvoyProtos } from '../proto/envoy.js';
import { rateLimitServiceDefinition } from '../proto/grpc.js';
import { addGrpcHealth, type GrpcHealth } from '../telemetry/health.js';
import { logger, type Logger } from '../telemetry/logger.js';
import { RateLimitError, RateLimiter, type CallBudget, type RateLimitServiceOptions } from './service.js';
import type { RlsRequest, RlsResponse } from './types.js';

export const RATELIMIT_SERVICE_NAME = 'envoy.service.ratelimit.v3.RateLimitService';

export interface RateLimitServerOptions extends RateLimitServiceOptions {
  log?: Logger;
}

/**
 * The RateLimitService over gRPC (ShouldRateLimit + grpc.health.v1). Metrics are exposed as text
 * for whoever mounts them on HTTP; setConfig hot-swaps the config (a bad one keeps the last good).
 */
export class RateLimitServer {
  readonly limiter: RateLimiter;
  private server?: grpc.Server;
  private health?: GrpcHealth;
  private transport?: GrpcTransport;
  private readonly log: Logger;

  constructor(opts: RateLimitServerOptions = {}) {
    // Up front, so that the first request never waits on reading protos.
    loadEnvoyProtos();
    this.log = opts.log ?? logger().child({ component: 'ratelimit' });
    this.limiter = new RateLimiter({ ...opts, log: this.log });
  }

  /** Binds host:port (0 = any free port) and resolves with the bound port; TLS or plaintext per `transport`. */
  async start(port: number = DEFAULT_PORTS.ratelimit, host = '127.0.0.1', transport: Transport = {}): Promise<number> {
    const t = await grpcTransport('rate limit service', host, transport, { logger: this.log });
    const server = new grpc.Server();
    server.addService(rateLimitServiceDefinition(), { ShouldRateLimit: this.handle });
    this.health = addGrpcHealth(server, [RATELIMIT_SERVICE_NAME]);
    const bound = await bindWithTransport(server, host, port, t);
    this.server = server;
    this.transport = t;
    this.log.info({ port: bound, backend: this.limiter.backend.name }, 'rate limit service listening');
    return bound;
  }

  private readonly handle = (call: grpc.ServerUnaryCall<RlsRequest, RlsResponse>, callback: grpc.sendUnaryData<RlsResponse>): void => {
    this.limiter.shouldRateLimit(call.request, callBudget(call)).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof RateLimitError) callback({ code: err.code, details: err.message });
        else {
          this.log.error({ err }, 'ShouldRateLimit failed');
          callback({ code: grpc.status.INTERNAL, details: (err as Error).message });
        }
      },
    );
  };

  setConfig(domains: RateLimitDomain[]): void {
    try {
      this.limiter.setConfig(domains);
      this.log.info({ domains: domains.map((d) => d.domain) }, 'rate limit config applied');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'rate limit config rejected');
      throw err;
    }
  }

  /** Prometheus text exposition of this instance's registry. */
  metrics(): Promise<string> {
    return this.limiter.metrics.text();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.health?.setStatus('', 'NOT_SERVING');
    // In-flight calls get a moment; a stuck client must not block shutdown.
    if (server) await shutdownGrpcServer(server, 2000);
    this.transport?.close();
    this.transport = undefined;
    await this.limiter.close();
  }
}

/**
 * The call's budget: it starts now (the handler runs as the call arrives) and ends no later than the
 * caller's deadline (grpc-timeout, which grpc-js turns into an absolute deadline when it reads the headers).
 */
function callBudget(call: grpc.ServerUnaryCall<RlsRequest, RlsResponse>): CallBudget {
  const arrivedAt = performance.now();
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(ms)) return { arrivedAt };
  return { arrivedAt, callerDeadlineAt: arrivedAt + (ms - Date.now()) };
}

export function createRateLimitServer(opts: RateLimitServerOptions = {}): RateLimitServer {
  return new RateLimitServer(opts);
}
