/**
 * Misbehaving variants of the echo backend (support/echo.ts), for route timeouts and retries:
 * same service, same reply shape, different timing or failures.
 */
import * as grpc from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '../../src/grpc/lifecycle.js';
import { ECHO_SERVICE, type EchoBackend } from './echo.js';

export interface FlakyEchoBackend extends EchoBackend {
  /** Calls received, retries included. */
  readonly calls: number;
}

async function serve(name: string, who: grpc.handleUnaryCall<unknown, unknown>, onStop: () => void = () => {}): Promise<EchoBackend> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, { Who: who });
  const port = await bindGrpcServer(server, '127.0.0.1', 0);
  return {
    name,
    port,
    stop: async () => {
      onStop();
      await shutdownGrpcServer(server, 200);
    },
  };
}

/** Answers like an echo backend, but only after `delayMs`: longer than the route timeout under test. */
export async function startSlowEchoBackend(name: string, delayMs: number): Promise<EchoBackend> {
  const timers = new Set<NodeJS.Timeout>();
  return serve(
    name,
    (_call, cb) => {
      const t = setTimeout(() => {
        timers.delete(t);
        cb(null, { backend: name });
      }, delayMs);
      timers.add(t);
    },
    () => timers.forEach(clearTimeout),
  );
}

/**
 * Fails each RPC's first `failAttempts` attempts with UNAVAILABLE and answers the next one. A client's
 * retry says which attempt it is in `grpc-previous-rpc-attempts` (gRFC A6), so this needs no state
 * per RPC and concurrent RPCs cannot disturb each other.
 */
export async function startFlakyEchoBackend(name: string, failAttempts: number): Promise<FlakyEchoBackend> {
  let calls = 0;
  const backend = await serve(name, (call, cb) => {
    calls++;
    const previous = Number(call.metadata.get('grpc-previous-rpc-attempts')[0] ?? 0);
    if (previous < failAttempts) cb({ code: grpc.status.UNAVAILABLE, details: `${name} fails attempt ${previous + 1}` });
    else cb(null, { backend: name });
  });
  return Object.defineProperty(backend, 'calls', { get: () => calls }) as FlakyEchoBackend;
}
