/**
 * @grpc/grpc-js-xds as a real, independent xDS client: an `xds:///orders` channel whose bootstrap points
 * at Banyan, two backends, weights from the YAML file, a hot edit of that file, and a Banyan restart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/eventually.js';
import { EchoClient, startEchoBackend, who, type EchoBackend } from '../support/echo.js';

function routesYaml(p1: number, p2: number, w1: number, w2: number): string {
  return `
listeners:
  - name: orders
    kind: api
    hosts:
      - domains: ["*"]
        routes:
          - name: orders-split
            match: { prefix: / }
            to:
              - { cluster: orders-v1, weight: ${w1} }
              - { cluster: orders-v2, weight: ${w2} }
clusters:
  - name: orders-v1
    protocol: http2
    endpoints: [127.0.0.1:${p1}]
  - name: orders-v2
    protocol: http2
    endpoints: [127.0.0.1:${p2}]
`;
}

async function callMany(client: grpc.Client, n: number, concurrency = 50): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < n) {
      issued++;
      const b = await who(client);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

function ackedVersions(banyan: RunningBanyan, nodeId: string): Record<string, string | undefined> {
  const mine = banyan.xds.status().find((e) => e.nodeId === nodeId);
  if (!mine) throw new Error(`proxy ${nodeId} not connected`);
  return Object.fromEntries(mine.types.map((t) => [t.typeUrl, t.versionAcked]));
}

describe('grpc-js-xds client against Banyan', () => {
  const log = createLogger('e2e', 'silent');
  let dir: string;
  let configFile: string;
  let v1: EchoBackend;
  let v2: EchoBackend;
  let xdsPort: number;
  let banyan: RunningBanyan;
  let client: grpc.Client;

  const start = () =>
    startBanyan({ config: configFile, host: '127.0.0.1', xdsPort, adminHost: '127.0.0.1', adminPort: 0, debounceMs: 50, watch: true, dataDir: path.join(dir, 'state'), logger: log });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-e2e-'));
    configFile = path.join(dir, 'routes.yaml');
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
    fs.writeFileSync(configFile, routesYaml(v1.port, v2.port, 80, 20));
    xdsPort = await freePort();
    banyan = await start();
    // The bootstrap is read once per process, on the first xds: channel.
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'e2e-client', cluster: 'e2e', locality: {} },
    });
    const xds = await import('@grpc/grpc-js-xds');
    xds.register();
    client = new EchoClient('xds:///orders', grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await banyan?.stop();
    await Promise.all([v1?.stop(), v2?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('splits 1,000 RPCs 80/20 within ±5 points', async () => {
    await eventually(() => who(client), 15_000);
    const counts = await callMany(client, 1000);
    const total = (counts.get('v1') ?? 0) + (counts.get('v2') ?? 0);
    expect(total).toBe(1000);
    const v1Share = (counts.get('v1') ?? 0) / total;
    expect(v1Share).toBeGreaterThanOrEqual(0.75);
    expect(v1Share).toBeLessThanOrEqual(0.85);
  });

  it('follows an edit of the YAML file to 0/100 within 2 s, without restarts', async () => {
    const editedAt = Date.now();
    fs.writeFileSync(configFile, routesYaml(v1.port, v2.port, 0, 100));
    // Wait until a whole batch lands on v2, then prove that every later RPC does too.
    await eventually(async () => {
      const counts = await callMany(client, 50, 10);
      expect(counts.get('v1') ?? 0).toBe(0);
    }, 5_000, 10);
    const switchedMs = Date.now() - editedAt;
    expect(switchedMs).toBeLessThan(2_000);
    const after = await callMany(client, 300);
    expect(after.get('v2')).toBe(300);
  });

  it('serves identical versions after a restart with the same YAML, and the client reconnects', async () => {
    const before = await eventually(() => {
      const v = ackedVersions(banyan, 'e2e-client');
      expect(Object.values(v).filter(Boolean).length).toBeGreaterThanOrEqual(4);
      return v;
    });
    await banyan.stop();
    banyan = await start();
    const after = await eventually(() => {
      const v = ackedVersions(banyan, 'e2e-client');
      expect(v).toEqual(before);
      return v;
    }, 20_000, 50);
    expect(after).toEqual(before);
    const counts = await callMany(client, 100);
    expect(counts.get('v2')).toBe(100);
  });
});
