import * as grpc from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '../grpc/lifecycle.js';
import { addGrpcHealth } from '../telemetry/health.js';
import type { XdsServer } from '../xds/server.js';

export interface XdsEndpoint {
  port: number;
  stop(): Promise<void>;
}

/** The xDS gRPC server (ADS, with grpc.health.v1 so probes and proxies can tell it is up). */
export async function serveXds(xds: XdsServer, host: string, port: number): Promise<XdsEndpoint> {
  // ADS streams stay open for days, idle between pushes; a full snapshot of a large mesh exceeds 4 MB.
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  xds.addToServer(server);
  const health = addGrpcHealth(server, ['envoy.service.discovery.v3.AggregatedDiscoveryService']);
  const bound = await bindGrpcServer(server, host, port);
  return {
    port: bound,
    async stop() {
      health.setStatus('', 'NOT_SERVING');
      await shutdownGrpcServer(server);
    },
  };
}
