/**
 * Proxyless gRPC clients (@grpc/grpc-js-xds in the test process, grpc-go's test/go/xdsclient) against
 * Banyan: the config they are served (api listeners over HTTP/2 echo backends on loopback), the
 * grpc-js-xds bootstrap, and what their load reports add up to in the store.
 */
import type { LoadSample } from '../../src/store/types.js';

export interface Backend {
  cluster: string;
  weight: number;
  /** The loopback port of its one endpoint. */
  port: number;
}

/**
 * One api listener per key (a client's target is `xds:///<listener>`), each with one route
 * `<listener>-split` that splits over its backends as weighted; then every backend as an HTTP/2
 * cluster with its one endpoint on 127.0.0.1, in the order given.
 */
export function apiSplitYaml(listeners: Record<string, Backend[]>): string {
  const listener = ([name, to]: [string, Backend[]]) => `
  - name: ${name}
    kind: api
    hosts:
      - domains: ["*"]
        routes:
          - name: ${name}-split
            match: { prefix: / }
            to:
${to.map((b) => `              - { cluster: ${b.cluster}, weight: ${b.weight} }`).join('\n')}`;
  const cluster = (b: Backend) => `  - { name: ${b.cluster}, protocol: http2, endpoints: [127.0.0.1:${b.port}] }`;
  return `listeners:${Object.entries(listeners).map(listener).join('')}
clusters:
${Object.values(listeners).flat().map(cluster).join('\n')}
`;
}

/**
 * Points @grpc/grpc-js-xds at the xDS server `server` (host:port) as node `nodeId` (cluster
 * `proxyless`) and registers its xds: resolver. grpc-js-xds reads its bootstrap once per process, on
 * the first xds: channel (each test file is its own process): call this before the first channel.
 */
export async function registerGrpcJsXds(server: string, nodeId: string): Promise<void> {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: server, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'proxyless', locality: {} },
  });
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
}

/** Successes, errors and issued requests of `cluster` summed over `samples`. */
export const loadTotals = (samples: LoadSample[], cluster: string) =>
  samples
    .filter((s) => s.cluster === cluster)
    .reduce((t, s) => ({ successes: t.successes + s.successes, errors: t.errors + s.errors, issued: t.issued + s.issued }), { successes: 0, errors: 0, issued: 0 });
