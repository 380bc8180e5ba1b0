import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { bindWithTransport, shutdownGrpcServer } from '../grpc/lifecycle.js';
import { grpcTransport } from '../grpc/grpc-js-tls.js';
import type { Transport } from '../grpc/tls.js';
import { LRS_SERVICE, METRICS_SERVICE, registerLoadStats, type LoadStats, type LoadStatsOptions } from '../loadstats/index.js';
import { addGrpcHealth } from '../telemetry/health.js';
import type { XdsServer } from '../xds/server.js';

export interface XdsEndpoint {
  port: number;
  /** LRS and the metrics service, when asked for. */
  loadStats?: LoadStats;
  stop(): Promise<void>;
}

export interface XdsEndpointOptions {
  /** Also serve LRS and Envoy's metrics service here: `lrs_server: {self: {}}` means this server. */
  loadStats?: LoadStatsOptions;
  /** TLS (or, off loopback, an explicit `insecure`): see assertSecureBind. */
  transport?: Transport;
  /** For the certificate watcher's reload messages. */
  logger?: Logger;
}

/** The xDS gRPC server (ADS, with grpc.health.v1 so probes and proxies can tell it is up). */
export async function serveXds(xds: XdsServer, host: string, port: number, opts: XdsEndpointOptions = {}): Promise<XdsEndpoint> {
  // ADS streams stay open for days, idle between pushes; a full snapshot of a large mesh exceeds 4 MB
  // (and so does an Envoy's stats flush to the metrics service).
  const transport = await grpcTransport('xDS server', host, opts.transport, { logger: opts.logger });
  // Not 'grpc.enable_channelz': 0, though it would save ~29 MB at 1,000 proxies (bench/xds-memory.ts): with it
  // off, a grpc-js xDS client never reconnected to a restarted serve (test/e2e/grpc-xds-client.test.ts; cause not found).
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  xds.addToServer(server);
  const loadStats = opts.loadStats ? registerLoadStats(server, opts.loadStats) : undefined;
  const health = addGrpcHealth(server, ['envoy.service.discovery.v3.AggregatedDiscoveryService', ...(loadStats ? [LRS_SERVICE, METRICS_SERVICE] : [])]);
  const bound = await bindWithTransport(server, host, port, transport).catch(async (err: unknown) => {
    await loadStats?.stop();
    throw err;
  });
  return {
    port: bound,
    loadStats,
    async stop() {
      health.setStatus('', 'NOT_SERVING');
      await shutdownGrpcServer(server);
      transport.close();
      // The streams are gone: what they reported last goes to the store before it closes.
      await loadStats?.stop();
    },
  };
}
