import * as grpc from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '../../src/grpc/lifecycle.js';

/**
 * A tiny gRPC service for end-to-end tests: `Who` answers with the backend's name, so a test can
 * count which backend each RPC reached. JSON over gRPC keeps it free of any .proto file.
 */
const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as unknown,
};

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Who: {
    path: '/banyan.e2e.Echo/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export interface EchoBackend {
  name: string;
  port: number;
  stop(): Promise<void>;
}

export interface EchoOptions {
  /**
   * Fail this fraction (0..1) of calls with `status` (default UNAVAILABLE), deterministically and
   * evenly: call n fails when ⌊n·fraction⌋ grows, so any run of calls fails the fraction to within one
   * call (0.3: the 4th, 7th, 10th … of every 10), whatever the timing.
   */
  fail?: { fraction: number; status?: grpc.status };
  /** Answer (or fail) each call this many ms after it arrives. */
  latencyMs?: number;
}

export interface ConfigurableEchoBackend extends EchoBackend {
  /** Calls received. */
  readonly calls: number;
  /** Calls answered with an error. */
  readonly failed: number;
}

export async function startEchoBackend(name: string, opts: EchoOptions = {}): Promise<ConfigurableEchoBackend> {
  const fraction = opts.fail?.fraction ?? 0;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fail.fraction must be 0..1, got ${fraction}`);
  const status = opts.fail?.status ?? grpc.status.UNAVAILABLE;
  const timers = new Set<NodeJS.Timeout>();
  let calls = 0;
  let failed = 0;
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Who: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const n = ++calls;
      const fails = Math.floor(n * fraction) > Math.floor((n - 1) * fraction);
      const answer = () => {
        if (!fails) return cb(null, { backend: name });
        failed++;
        cb({ code: status, details: `${name} fails call ${n}` });
      };
      if (!opts.latencyMs) return answer();
      const t = setTimeout(() => {
        timers.delete(t);
        answer();
      }, opts.latencyMs);
      timers.add(t);
    },
  });
  const port = await bindGrpcServer(server, '127.0.0.1', 0);
  const backend = {
    name,
    port,
    stop: async () => {
      timers.forEach(clearTimeout);
      await shutdownGrpcServer(server, 200);
    },
  };
  return Object.defineProperties(backend, { calls: { get: () => calls }, failed: { get: () => failed } }) as ConfigurableEchoBackend;
}

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

export function who(client: grpc.Client, deadlineMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Function>).Who(
      {},
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, res: { backend: string }) => (err ? reject(err) : resolve(res.backend)),
    );
  });
}
