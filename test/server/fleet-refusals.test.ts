/**
 * Refusals of proxies for their certificate identity, fleet-wide (README "Proxy identity"): each
 * replica's status record carries the latest proxies it refused, so GET /api/v1/proxies on any
 * replica lists every live replica's, each naming its replica, and `banyan proxies` prints them with
 * it. Two real `banyan serve` replicas with mTLS on xDS, on one real PostgreSQL; real mTLS ADS
 * clients with certificates from src/ca; a record of an older replica (no refusals column written)
 * reads as none.
 */
import { fleetView } from '../../src/server/admin-endpoint.js';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthorizer } from '../../src/admin/auth.js';
import { Router } from '../../src/admin/router.js';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { AdminServer } from '../../src/admin/server.js';
import { certToPem, createCa, issueCert, keyToPem, type KeyedCert } from '../../src/ca/index.js';
import { loadEnvoyProtos, TypeUrl } from '../../src/proto/envoy.js';
import { methodDefinition } from '../../src/proto/grpc.js';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import { PipelineView } from '../../src/server/served-view.js';
import type { ReplicaRefusal } from '../../src/store/types.js';
import { routesYaml } from '../cli/config.yaml.js';
import { banyan } from '../cli/run.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { sampleProxy, sampleRefusal } from '../store/contract.js';

const FLEET_INTERVAL_MS = 200;

const groupsYaml = `groups:
  - name: edge
    match: { cluster: edge }
    identities: [ "spiffe://example.org/ns/edge/*" ]
`;

/** One SotW ADS stream over mTLS that asks for listeners as `node`; `failure()` is how the server ended it. */
class TlsAds {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, unknown>;
  private error?: grpc.ServiceError;
  readonly responses: unknown[] = [];

  constructor(port: number, creds: grpc.ChannelCredentials, node: { id: string; cluster: string }) {
    const Ctor = grpc.makeGenericClientConstructor(
      {
        StreamAggregatedResources: methodDefinition(
          'envoy.service.discovery.v3.AggregatedDiscoveryService',
          'StreamAggregatedResources',
          'envoy.service.discovery.v3.DiscoveryRequest',
          'envoy.service.discovery.v3.DiscoveryResponse',
          { request: true, response: true },
        ),
      },
      'TlsAds',
    );
    this.client = new Ctor(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>).StreamAggregatedResources();
    this.call.on('data', (r) => this.responses.push(r));
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    this.call.write({ node, type_url: TypeUrl.Listener, resource_names: [] });
  }

  failure(): Promise<grpc.ServiceError> {
    return eventually(() => {
      if (!this.error) throw new Error('stream not ended yet');
      return this.error;
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

type Listed = ReplicaRefusal & { replica: string };

describe('refusals fleet-wide, on two replicas sharing PostgreSQL', () => {
  let pg_: PostgresServer;
  let dir: string;
  let ca: KeyedCert;
  let tls: { certFile: string; keyFile: string; caFile: string; requireClientCert: true };
  let dbs = 0;
  const cleanups: (() => unknown)[] = [];

  /** A client certificate from src/ca with one URI SAN. */
  const clientCreds = async (uri: string) => {
    const c = await issueCert(ca, { uri: [uri], usage: 'client', hours: 1 });
    return grpc.credentials.createSsl(Buffer.from(certToPem(ca.cert)), Buffer.from(await keyToPem(c.privateKey)), Buffer.from(certToPem(c.cert)));
  };

  beforeAll(async () => {
    loadEnvoyProtos();
    pg_ = await startPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-fleet-refusals-'));
    fs.writeFileSync(path.join(dir, 'routes.yaml'), routesYaml() + groupsYaml);
    ca = await createCa({ name: 'fleet refusals CA', days: 1 });
    const server = await issueCert(ca, { dns: ['localhost'], ip: ['127.0.0.1'], usage: 'server', hours: 1 });
    tls = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key'), caFile: path.join(dir, 'ca.crt'), requireClientCert: true };
    fs.writeFileSync(tls.certFile, certToPem(server.cert));
    fs.writeFileSync(tls.keyFile, await keyToPem(server.privateKey));
    fs.writeFileSync(tls.caFile, certToPem(ca.cert));
  }, 60_000);
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  });
  afterAll(async () => {
    await pg_?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function replica(name: string, url: string, withConfig: boolean): Promise<RunningBanyan> {
    const b = await startBanyan(loopbackServe(name, {
      config: withConfig ? path.join(dir, 'routes.yaml') : undefined,
      postgresUrl: url,
      replica: name,
      fleetIntervalMs: FLEET_INTERVAL_MS,
      tls,
    }));
    cleanups.push(() => b.stop());
    return b;
  }

  /**
   * GET /api/v1/proxies of replica `b`, over the core routes mounted on its own parts as serveAdmin
   * mounts them (the view over its pipeline and xDS server, its FleetPublisher as the fleet), served
   * plainly on loopback so the CLI can ask it without a client certificate.
   */
  async function adminOf(b: RunningBanyan): Promise<string> {
    const router = new Router(bearerAuthorizer(undefined));
    mountCoreRoutes(router, { view: new PipelineView(b.pipeline, () => b.xds.status(), b.fleet, () => b.xds.refused()), registries: [], fleet: fleetView(b.fleet) });
    const admin = new AdminServer(router);
    const port = await admin.listen(0, '127.0.0.1');
    cleanups.push(() => admin.close());
    return `http://127.0.0.1:${port}`;
  }
  const refusedOf = async (base: string, query = ''): Promise<Listed[]> => {
    const res = await fetch(`${base}/api/v1/proxies${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { refused: Listed[] }).refused;
  };

  function ads(b: RunningBanyan, creds: grpc.ChannelCredentials, node: { id: string; cluster: string }): TlsAds {
    const c = new TlsAds(b.ports.xds, creds, node);
    cleanups.push(() => c.close());
    return c;
  }

  it("lists a refusal on replica A in replica B's GET /api/v1/proxies within a couple of fleet intervals, naming A; gone once A stops", async () => {
    const url = await pg_.createDatabase(`refusals_${++dbs}`);
    const a = await replica('replica-a', url, true);
    const b = await replica('replica-b', url, false);
    const baseB = await adminOf(b);
    const baseA = await adminOf(a);
    // both serve the config (B from the store): the group with identities is known to both
    await eventually(() => expect(b.control.servedKey()).toBe(a.control.servedKey()));
    expect(await refusedOf(baseB)).toEqual([]);

    // an allowed identity is served; another is refused on A with PERMISSION_DENIED
    const allowed = ads(a, await clientCreds('spiffe://example.org/ns/edge/e1'), { id: 'edge-1', cluster: 'edge' });
    await eventually(() => expect(allowed.responses.length).toBeGreaterThan(0));
    const intruder = ads(a, await clientCreds('spiffe://example.org/ns/other/x'), { id: 'edge-7', cluster: 'edge' });
    const err = await intruder.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    const refusedAt = Date.now();
    expect(a.xds.refused()).toHaveLength(1);

    // B lists it within a couple of fleet intervals, naming replica A
    const seen = await eventually(async () => {
      const r = await refusedOf(baseB);
      expect(r).toHaveLength(1);
      return r;
    }, 2 * FLEET_INTERVAL_MS + 500, 10);
    expect(Date.now() - refusedAt).toBeLessThan(2 * FLEET_INTERVAL_MS + 500);
    expect(seen[0]).toEqual({
      replica: 'replica-a',
      nodeId: 'edge-7',
      nodeCluster: 'edge',
      identities: ['spiffe://example.org/ns/other/x'],
      group: 'edge',
      allowed: ['spiffe://example.org/ns/edge/*'],
      reason: err.details,
      peer: expect.any(String),
      when: 'first-request',
      at: expect.any(String),
    });
    // B's own scope has none; A's lists it (without a replica: it is A's own)
    expect(await refusedOf(baseB, '?scope=local')).toEqual([]);
    expect((await refusedOf(baseA, '?scope=local')).map((r) => [r.nodeId, r.replica])).toEqual([['edge-7', undefined]]);

    // a refusal on B too: the fleet's, oldest first, each naming its replica, on either replica
    const other = ads(b, await clientCreds('spiffe://example.org/ns/other/y'), { id: 'edge-8', cluster: 'edge' });
    expect((await other.failure()).code).toBe(grpc.status.PERMISSION_DENIED);
    for (const base of [baseA, baseB]) {
      await eventually(async () => expect((await refusedOf(base)).map((r) => `${r.nodeId}@${r.replica}`)).toEqual(['edge-7@replica-a', 'edge-8@replica-b']), 2 * FLEET_INTERVAL_MS + 500, 10);
    }

    // `banyan proxies` on B: the REFUSED section names the replica of each, latest first
    const cli = await banyan(['proxies', '--server', baseB]);
    expect(cli.code).toBe(0);
    const refusedSection = cli.stdout.slice(cli.stdout.indexOf('REFUSED:'));
    expect(refusedSection.split('\n').slice(1, 3)).toEqual([
      expect.stringMatching(/^ {2}edge-8 \(replica-b\) group edge \(on connecting, .* ago\): node "edge-8" with identity spiffe:\/\/example.org\/ns\/other\/y may not join group "edge"/),
      expect.stringMatching(/^ {2}edge-7 \(replica-a\) group edge \(on connecting, .* ago\): node "edge-7" with identity spiffe:\/\/example.org\/ns\/other\/x may not join group "edge"/),
    ]);
    // --local: B's own, as "this replica"
    const local = await banyan(['proxies', '--local', '--server', baseB]);
    expect(local.stdout).toMatch(/REFUSED:\n {2}edge-8 \(this replica\) group edge/);
    expect(local.stdout).not.toContain('edge-7');

    // A's record holds its proxies beside its refusals (the refused stream never became one)
    expect((await b.store.listReplicaStatus(Date.now())).find((r) => r.replica === 'replica-a')!.proxies.map((p) => p.nodeId)).toEqual(['edge-1']);

    // A stops: its refusals leave with its record
    await a.stop();
    expect((await refusedOf(baseB)).map((r) => `${r.nodeId}@${r.replica}`)).toEqual(['edge-8@replica-b']);
  });

  it("drops a dead replica's refusals with its lease, and reads an older replica's record (no refusals written) as none", async () => {
    const url = await pg_.createDatabase(`refusals_${++dbs}`);
    const b = await replica('replica-b', url, true);
    const baseB = await adminOf(b);
    const now = Date.now();
    // a replica that renewed once with a refusal, then died without removing its record
    await b.store.putReplicaStatus({ replica: 'ghost', servedKey: 'old', reportedAt: now, expiresAt: now + 1500, proxies: [], refused: [sampleRefusal('ghost', 'edge-9')] });
    // a replica of the version before refusals, putting its row as it always did (migration 6 applied by B)
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO banyan_replicas (replica, served_key, reported_at, expires_at, proxies) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (replica) DO UPDATE SET served_key = $2, reported_at = $3, expires_at = $4, proxies = $5`,
        ['old-version', 'old', now, now + 60_000, JSON.stringify([sampleProxy('envoy-old')])],
      );
    } finally {
      await client.end();
    }
    const listed = await fetch(`${baseB}/api/v1/proxies`).then((r) => r.json() as Promise<{ proxies: { nodeId: string; replica: string }[]; refused: Listed[] }>);
    expect(listed.proxies.map((p) => `${p.nodeId}@${p.replica}`)).toEqual(['envoy-old@old-version']);
    expect(listed.refused.map((r) => `${r.nodeId}@${r.replica}`)).toEqual(['edge-9@ghost']);
    // its lease runs out: its refusals go with it
    await eventually(async () => expect(await refusedOf(baseB)).toEqual([]), 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(now + 1500);
  });
});
