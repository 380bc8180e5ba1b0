/**
 * `banyan proxies`, run as the built CLI against a real `banyan serve`: one row per proxy of every
 * replica, like `istioctl proxy-status`. This replica's proxy is a scripted ADS client; the other
 * replica's record is put in the store as that replica would (an embedded store holds one
 * process's state, so it stands in for a second replica sharing PostgreSQL).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TypeUrl } from '../../src/proto/envoy.js';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import type { ProxyRecord } from '../../src/store/types.js';
import { XDS_SERVICES } from '../../src/xds/services.js';
import { SotwClient, type NodeSpec } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';
import { routesYaml } from './config.yaml.js';
import { banyan } from './run.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS } = TypeUrl;
const TOKEN = 'proxies-token';

/** A scripted Envoy on ADS that names its client (user_agent_*) and ACKs every response of the types it asked for. */
class AgentProxy extends SotwClient {
  constructor(
    address: string,
    node: NodeSpec,
    private readonly agent: Record<string, unknown>,
    subscriptions: Record<string, string[]>,
  ) {
    super(address, XDS_SERVICES[0], 'sotw', node);
    this.call.on('data', () => {
      const r = this.received.at(-1)!;
      const names = subscriptions[r.type_url];
      if (names) this.ack(r, names);
    });
    for (const [typeUrl, names] of Object.entries(subscriptions)) this.request(typeUrl, names);
  }

  protected override withNode(req: Record<string, unknown>): Record<string, unknown> {
    const out = super.withNode(req);
    return out.node ? { ...out, node: { ...(out.node as object), ...this.agent } } : out;
  }
}

/** What replica-b, serving one proxyless gRPC client that rejected its RouteConfiguration, would store. */
function nackingGrpcClient(): ProxyRecord {
  return {
    streamId: 's9',
    nodeId: 'grpc-1',
    nodeCluster: 'api',
    group: 'default',
    kind: 'ads-sotw',
    service: 'envoy.service.discovery.v3.AggregatedDiscoveryService',
    peer: 'ipv4:10.0.0.9:51234',
    connectedSince: new Date(Date.now() - 90_000).toISOString(),
    userAgent: { name: 'grpc-go', version: '1.70.0' },
    types: [
      { typeUrl: LDS, state: 'SYNCED', currentVersion: 'aaaa', versionSent: 'aaaa', versionAcked: 'aaaa', lastNonce: '1', subscribed: ['orders'] },
      {
        typeUrl: RDS,
        state: 'NACKED',
        currentVersion: 'bbbbbbbbbbbbbbbb',
        versionSent: 'bbbbbbbbbbbbbbbb',
        lastNonce: '2',
        lastNack: { version: 'bbbbbbbbbbbbbbbb', nonce: '2', message: 'route orders: unsupported field', code: 3, at: new Date(Date.now() - 5000).toISOString() },
        subscribed: ['orders'],
      },
    ],
  };
}

describe('banyan proxies', () => {
  let dir: string;
  let server: RunningBanyan | undefined;
  let envoy: AgentProxy | undefined;
  let env: Record<string, string>;
  const cli = (...args: string[]) => banyan(['proxies', ...args], env);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-cli-proxies-'));
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
    server = await startBanyan(loopbackServe('banyan-test', {
      config: path.join(dir, 'routes.yaml'),
      dataDir: path.join(dir, 'data'),
      adminToken: TOKEN,
      debounceMs: 50,
      replica: 'replica-a',
    }));
    env = { BANYAN_SERVER: `http://127.0.0.1:${server.ports.admin}`, BANYAN_TOKEN: TOKEN };
    envoy = new AgentProxy(`127.0.0.1:${server.ports.xds}`, { id: 'envoy-1', cluster: 'edge' }, { user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 32, patch: 4 } } }, {
      [CDS]: [],
      [LDS]: [],
      [RDS]: ['edge'],
    });
    const now = Date.now();
    await server.store.putReplicaStatus({ replica: 'replica-b', servedKey: server.control.servedKey(), reportedAt: now, expiresAt: now + 600_000, proxies: [nackingGrpcClient()] });
    // envoy-1 has ACKed all three types
    await eventually(async () => {
      const res = await fetch(`${env.BANYAN_SERVER}/api/v1/proxies?scope=local`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const { proxies } = (await res.json()) as { proxies: ProxyRecord[] };
      expect(proxies.map((p) => p.types.map((t) => t.state))).toEqual([['SYNCED', 'SYNCED', 'SYNCED']]);
    });
  });
  afterAll(async () => {
    envoy?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints one row per proxy of every replica with CDS/LDS/EDS/RDS states, and the NACK below the table', async () => {
    const r = await cli();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^NODE\s+REPLICA\s+GROUP\s+CLIENT\s+CDS\s+LDS\s+EDS\s+RDS\s+CONNECTED$/);
    expect(lines[1]).toMatch(/^envoy-1\s+replica-a\s+default\s+envoy\/1\.32\.4\s+SYNCED\s+SYNCED\s+NOT SENT\s+SYNCED\s+\d+s ago$/);
    expect(lines[2]).toMatch(/^grpc-1\s+replica-b\s+default\s+grpc-go\/1\.70\.0\s+NOT SENT\s+SYNCED\s+NOT SENT\s+NACKED\s+1m\d+s ago$/);
    // the columns line up: every row's RDS state starts where the header's RDS does
    const rdsAt = lines[0].indexOf('RDS');
    expect(lines[1].slice(rdsAt, rdsAt + 6)).toBe('SYNCED');
    expect(lines[2].slice(rdsAt, rdsAt + 6)).toBe('NACKED');
    expect(lines.slice(3, 5)).toEqual(['', 'NACKED:']);
    expect(lines[5]).toMatch(/^ {2}grpc-1 \(replica-b\) RDS: route orders: unsupported field \(version bbbbbbbbbbbb, \d+s ago\)$/);
    expect(lines.slice(6)).toEqual(['']);
  });

  it('prints the full records with -o json and -o yaml', async () => {
    const api = (await (await fetch(`${env.BANYAN_SERVER}/api/v1/proxies`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { proxies: (ProxyRecord & { replica: string })[] };
    const json = await cli('-o', 'json');
    expect(json.code).toBe(0);
    const printed = JSON.parse(json.stdout);
    expect(printed).toEqual(api);
    expect(printed.proxies.map((p: { nodeId: string; replica: string }) => `${p.nodeId}@${p.replica}`)).toEqual(['envoy-1@replica-a', 'grpc-1@replica-b']);
    expect(printed.proxies[1]).toEqual({ ...nackingGrpcClient(), replica: 'replica-b', connectedSince: expect.any(String), types: expect.any(Array) });
    expect(printed.proxies[1].types[1].lastNack).toMatchObject({ message: 'route orders: unsupported field', version: 'bbbbbbbbbbbbbbbb' });
    expect(printed.proxies[0].types.map((t: { versionSent: string; versionAcked: string }) => t.versionAcked === t.versionSent && !!t.versionSent)).toEqual([true, true, true]);

    const yaml = await cli('-o', 'yaml');
    expect(yaml.code).toBe(0);
    expect(parse(yaml.stdout)).toEqual(printed);
    expect(yaml.stdout).toMatch(/^proxies:\n {2}- streamId: /);
  });

  it("--local lists only the proxies of the replica it asks", async () => {
    const r = await cli('--local');
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^envoy-1\s+this replica\s+default\s+envoy\/1\.32\.4\s+SYNCED\s+SYNCED\s+NOT SENT\s+SYNCED\s/);
    expect(r.stdout).not.toContain('NACKED');
  });

  it('refuses an unknown output format as a usage error', async () => {
    const r = await cli('-o', 'xml');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'xml' is invalid");
  });

  it('says so when no replica has a proxy', async () => {
    envoy!.close();
    envoy = undefined;
    await server!.store.removeReplicaStatus('replica-b');
    await eventually(async () => {
      const r = await cli();
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('no proxies connected\n');
    });
  });
});
