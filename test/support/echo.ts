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

export async function startEchoBackend(name: string): Promise<EchoBackend> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Who: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { backend: name }),
  });
  const port = await bindGrpcServer(server, '127.0.0.1', 0);
  return { name, port, stop: () => shutdownGrpcServer(server, 200) };
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
