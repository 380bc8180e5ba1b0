import * as grpc from '@grpc/grpc-js';

/** Starts a grpc-js server on host:port (0 = any free port) and returns the bound port; plaintext unless given credentials. */
export async function bindGrpcServer(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, credentials, (err, bound) => {
      if (err) reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
      else resolve(bound);
    });
  });
}

/** Binds with a transport's credentials; when the bind fails the transport is closed (its certificate watchers stop). */
export async function bindWithTransport(server: grpc.Server, host: string, port: number, transport: { credentials: grpc.ServerCredentials; close(): void }): Promise<number> {
  try {
    return await bindGrpcServer(server, host, port, transport.credentials);
  } catch (err) {
    transport.close();
    throw err;
  }
}

/** Graceful shutdown with a deadline: streaming RPCs (ADS) never end on their own. */
export async function shutdownGrpcServer(server: grpc.Server, graceMs = 1_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
