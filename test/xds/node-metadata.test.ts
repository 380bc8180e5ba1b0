/**
 * Node metadata through a real client: @grpc/grpc-js-xds, whose bootstrap node is the one `banyan
 * bootstrap --kind edge` writes (metadata.kind = edge), opens an ADS stream to `banyan serve` and must
 * land in the group matched on that metadata. grpc-js-xds encodes the Struct with its own loader, so
 * this is the wire as a client other than Banyan writes it.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBootstrap } from '../../src/compile/bootstrap.js';
import { EchoClient, startEchoBackend, who, type EchoBackend } from '../support/echo.js';
import { eventually } from '../support/eventually.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const yaml = (backendPort: number) => `
listeners:
  - name: orders
    kind: api
    hosts:
      - domains: ["*"]
        routes:
          - { name: orders, match: { prefix: / }, to: orders }
groups:
  - name: sidecars
    match: { metadata: { kind: sidecar } }
  - name: edges
    match: { metadata: { kind: edge } }
clusters:
  - name: orders
    protocol: http2
    endpoints: [127.0.0.1:${backendPort}]
`;

describe('node metadata from a real xDS client', () => {
  let backend: EchoBackend;
  let t: TestBanyan;
  let client: grpc.Client | undefined;

  beforeAll(async () => {
    backend = await startEchoBackend('orders');
    t = await startTestBanyan(yaml(backend.port));
    // The node exactly as `banyan bootstrap --kind edge` prints it for Envoy.
    const bootstrap = JSON.parse(
      formatBootstrap({ nodeId: 'meta-client', group: 'shop', kind: 'edge', xdsHost: '127.0.0.1', xdsPort: t.banyan.ports.xds, adminPort: 9901 }, 'json'),
    ) as { node: Record<string, unknown> };
    expect(bootstrap.node.metadata).toEqual({ kind: 'edge' });
    // The bootstrap is read once per process, on the first xds: channel (vitest forks a process per file).
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${t.banyan.ports.xds}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { ...bootstrap.node, locality: {} },
    });
    const xds = await import('@grpc/grpc-js-xds');
    xds.register();
    client = new EchoClient('xds:///orders', grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await t?.stop();
    await backend?.stop();
  });

  it('lands in the group matched on metadata.kind, and its RPCs are routed', async () => {
    expect(await eventually(() => who(client!), 15_000)).toBe('orders');
    const proxy = t.banyan.xds.status().find((p) => p.nodeId === 'meta-client');
    expect(proxy?.nodeCluster).toBe('shop');
    expect(proxy?.group).toBe('edges');
  });
});
