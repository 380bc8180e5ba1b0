import { UnaryGrpcServer, type UnaryCall, type UnaryMethod } from '../grpc/unary-server.js';
import type { Transport } from '../grpc/tls.js';
import type { RateLimitDomain } from '../config/model.js';
import { DEFAULT_PORTS } from '../ports.js';
import { loadEnvoyProtos, messageType, TO_OBJECT_OPTIONS } from '../proto/envoy.js';
import { logger, type Logger } from '../telemetry/logger.js';
import { RateLimitError, RateLimiter, type CallBudget, type RateLimitServiceOptions } from './service.js';
import type { RlsRequest, RlsResponse } from './types.js';

export const RATELIMIT_SERVICE_NAME = 'envoy.service.ratelimit.v3.RateLimitService';

export interface RateLimitServerOptions extends RateLimitServiceOptions {
  log?: Logger;
  /**
   * A span per ShouldRateLimit through the process's tracer, which the caller has started
   * (startTracingIn). Decided once, at start(): with it off the handler has no tracing in it at all.
   */
  tracing?: boolean;
}

/**
 * The RateLimitService over gRPC (ShouldRateLimit + grpc.health.v1). Metrics are exposed as text
 * for whoever mounts them on HTTP; setConfig hot-swaps the config (a bad one keeps the last good).
 */
export class RateLimitServer {
  readonly limiter: RateLimiter;
  private server?: UnaryGrpcServer;
  private readonly log: Logger;
  private readonly tracing: boolean;

  constructor(opts: RateLimitServerOptions = {}) {
    // Up front, so that the first request never waits on reading protos.
    loadEnvoyProtos();
    this.log = opts.log ?? logger().child({ component: 'ratelimit' });
    this.tracing = opts.tracing ?? false;
    this.limiter = new RateLimiter({ ...opts, log: this.log });
  }

  /** Binds host:port (0 = any free port) and resolves with the bound port; TLS or plaintext per `transport`. */
  async start(port: number = DEFAULT_PORTS.ratelimit, host = '127.0.0.1', transport: Transport = {}): Promise<number> {
    // The lean unary transport (src/grpc/unary-server.ts): on this path the transport's CPU per call
    // is a large share of a decision's, and bench:ratelimit-transport measured it against grpc-js.
    const traced = this.tracing ? (await import('./tracing.js')).tracedShouldRateLimit(this.limiter, callBudget) : undefined;
    const server = new UnaryGrpcServer({
      name: 'rate limit service',
      methods: [shouldRateLimitMethod(this.limiter, traced)],
      healthServices: [RATELIMIT_SERVICE_NAME],
      statusOf: (err) => (err instanceof RateLimitError ? { code: err.code, message: err.message } : undefined),
      log: this.log,
    });
    const bound = await server.listen(host, port, transport);
    this.server = server;
    this.log.info({ port: bound, backend: this.limiter.backend.name, ...(traced ? { tracing: true } : {}) }, 'rate limit service listening');
    return bound;
  }

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
    // In-flight calls get a moment; a stuck client must not block shutdown.
    if (server) await server.close(2000);
    await this.limiter.close();
  }
}

const METHOD_PATH = `/${RATELIMIT_SERVICE_NAME}/ShouldRateLimit`;

/**
 * ShouldRateLimit with protobufjs's codecs of the loaded protos (the same object form as everywhere);
 * `traced` replaces the plain handler when tracing is on, so the untraced one does not even branch.
 */
function shouldRateLimitMethod(limiter: RateLimiter, traced?: UnaryMethod<RlsRequest, RlsResponse>['handle']): UnaryMethod<RlsRequest, RlsResponse> {
  const reqT = messageType('envoy.service.ratelimit.v3.RateLimitRequest');
  const resT = messageType('envoy.service.ratelimit.v3.RateLimitResponse');
  return {
    path: METHOD_PATH,
    decode: (bytes) => reqT.toObject(reqT.decode(bytes), TO_OBJECT_OPTIONS) as RlsRequest,
    encode: (res) => resT.encode(resT.fromObject(res)).finish(),
    handle: traced ?? ((req, call) => limiter.shouldRateLimit(req, callBudget(call))),
  };
}

/** The call's budget: from its arrival, and no later than the caller's deadline (grpc-timeout). */
function callBudget(call: UnaryCall): CallBudget {
  return call.deadlineAt === undefined ? { arrivedAt: call.arrivedAt } : { arrivedAt: call.arrivedAt, callerDeadlineAt: call.deadlineAt };
}

export function createRateLimitServer(opts: RateLimitServerOptions = {}): RateLimitServer {
  return new RateLimitServer(opts);
}
