/**
 * Replica-wide proxy status: every replica leases its proxies' status in the store (FleetPublisher),
 * and GET /api/v1/proxies on any replica lists every proxy of every live replica. Two real `banyan
 * serve` replicas on one real PostgreSQL, real ADS clients; plus the publisher's failure handling
 * over the embedded store.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthorizer } from '../../src/admin/auth.js';
import { Router } from '../../src/admin/router.js';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { AdminServer } from '../../src/admin/server.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import { FleetPublisher, fleetRefusals, MAX_FLEET_REFUSALS, replicaId } from '../../src/server/fleet.js';
import { ConfigPipeline } from '../../src/server/pipeline.js';
import { PipelineView } from '../../src/server/served-view.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { ProxyRecord, ReplicaStatus, Store } from '../../src/store/types.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { XDS_SERVICES } from '../../src/xds/services.js';
import type { ProxyStatus, RefusalRecord } from '../../src/xds/status.js';
import { routesYaml } from '../cli/config.yaml.js';
import { banyan } from '../cli/run.js';
import { SotwClient, type NodeSpec } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { sampleProxy, sampleRefusal } from '../store/contract.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS } = TypeUrl;

/**
 * A scripted proxy on ADS that says which client it is (user_agent_* in its node) and answers every
 * response of a subscribed type at once: ACK, or NACK with `nack` as the error.
 */
class AgentProxy extends SotwClient {
  constructor(
    address: string,
    node: NodeSpec,
    private readonly agent: Record<string, unknown>,
    answers: Record<string, { names: string[]; nack?: string }>,
  ) {
    super(address, XDS_SERVICES[0], 'sotw', node);
    this.call.on('data', () => {
      const r = this.received.at(-1)!;
      const a = answers[r.type_url];
      if (a?.nack) this.nack(r, a.nack, '', a.names);
      else if (a) this.ack(r, a.names);
    });
    for (const [typeUrl, a] of Object.entries(answers)) this.request(typeUrl, a.names);
  }

  protected override withNode(req: Record<string, unknown>): Record<string, unknown> {
    const out = super.withNode(req);
    return out.node ? { ...out, node: { ...(out.node as object), ...this.agent } } : out;
  }
}

type ApiProxy = ProxyRecord & { replica: string };

async function proxiesOf(b: RunningBanyan, query = ''): Promise<{ status: number; body: { proxies: ApiProxy[]; partial?: boolean } }> {
  const res = await fetch(`http://127.0.0.1:${b.ports.admin}/api/v1/proxies${query}`);
  return { status: res.status, body: await res.json() };
}

const states = (p: ProxyRecord) => Object.fromEntries(p.types.map((t) => [t.typeUrl, t.state]));

describe('fleet status on two replicas sharing PostgreSQL', () => {
  let pg: PostgresServer;
  let dir: string;
  let dbs = 0;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-fleet-'));
    fs.writeFileSync(path.join(dir, 'routes.yaml'), routesYaml());
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  });
  afterAll(async () => {
    await pg?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A replica on a fresh (i === 0) or the same database; the first brings the YAML, others follow the store. */
  async function replica(name: string, url: string, withConfig: boolean): Promise<RunningBanyan> {
    const b = await startBanyan(loopbackServe(name, {
      config: withConfig ? path.join(dir, 'routes.yaml') : undefined,
      postgresUrl: url,
      replica: name,
      fleetIntervalMs: 100,
    }));
    cleanups.push(() => b.stop());
    return b;
  }

  function proxy(b: RunningBanyan, ...args: [NodeSpec, Record<string, unknown>, Record<string, { names: string[]; nack?: string }>]): AgentProxy {
    const p = new AgentProxy(`127.0.0.1:${b.ports.xds}`, ...args);
    cleanups.push(() => p.close());
    return p;
  }

  it("lists every replica's proxies with their replica, client and per-type state; a stopped replica's leave at once", async () => {
    const url = await pg.createDatabase(`fleet_${++dbs}`);
    const a = await replica('replica-a', url, true);
    const b = await replica('replica-b', url, false);
    expect([a.replica, b.replica]).toEqual(['replica-a', 'replica-b']);

    proxy(a, { id: 'envoy-1', cluster: 'edge' }, { user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 32, patch: 4 } } }, {
      [CDS]: { names: [] },
      [LDS]: { names: [] },
      [RDS]: { names: ['edge'] },
    });
    proxy(b, { id: 'grpc-1', cluster: 'api' }, { user_agent_name: 'grpc-go', user_agent_version: '1.70.0' }, {
      [LDS]: { names: [] },
      [RDS]: { names: ['edge'], nack: 'route edge: unsupported field' },
    });

    const both = await eventually(async () => {
      const { status, body } = await proxiesOf(a);
      expect(status).toBe(200);
      const byNode = Object.fromEntries(body.proxies.map((p) => [p.nodeId, p]));
      expect(Object.keys(byNode).sort()).toEqual(['envoy-1', 'grpc-1']);
      expect(states(byNode['envoy-1'])).toEqual({ [CDS]: 'SYNCED', [LDS]: 'SYNCED', [RDS]: 'SYNCED' });
      expect(states(byNode['grpc-1'])).toEqual({ [LDS]: 'SYNCED', [RDS]: 'NACKED' });
      return byNode;
    });
    expect(both['envoy-1']).toMatchObject({ replica: 'replica-a', nodeCluster: 'edge', group: 'default', kind: 'ads-sotw', userAgent: { name: 'envoy', version: '1.32.4' } });
    expect(both['grpc-1']).toMatchObject({ replica: 'replica-b', nodeCluster: 'api', userAgent: { name: 'grpc-go', version: '1.70.0' } });
    const rds = both['grpc-1'].types.find((t) => t.typeUrl === RDS)!;
    expect(rds.lastNack).toMatchObject({ message: 'route edge: unsupported field', version: rds.versionSent });
    expect(rds.versionAcked).toBeUndefined();
    expect(both['envoy-1'].types.find((t) => t.typeUrl === EDS)).toBeUndefined();

    // replica B sees the same fleet once A's next status renewal (every 100 ms) has stored envoy-1; ?scope=local is each replica's own
    await eventually(async () => expect((await proxiesOf(b)).body.proxies.map((p) => `${p.nodeId}@${p.replica}`).sort()).toEqual(['envoy-1@replica-a', 'grpc-1@replica-b']));
    expect((await proxiesOf(a, '?scope=local')).body.proxies.map((p) => p.nodeId)).toEqual(['envoy-1']);
    expect((await proxiesOf(b, '?scope=local')).body.proxies.map((p) => p.nodeId)).toEqual(['grpc-1']);

    // both replicas serve the same, and their records say so
    const records = await a.store.listReplicaStatus(Date.now());
    expect(records.map((r) => r.replica)).toEqual(['replica-a', 'replica-b']);
    expect(a.control.servedKey()).not.toBe('');
    expect(records.map((r) => r.servedKey)).toEqual([a.control.servedKey(), a.control.servedKey()]);
    // B's lease runs for seconds yet: what follows is its removal, not its expiry
    const leaseOfB = records.find((r) => r.replica === 'replica-b')!.expiresAt;
    expect(leaseOfB - Date.now()).toBeGreaterThan(5000);

    await b.stop();
    expect(Date.now()).toBeLessThan(leaseOfB);
    expect((await a.store.listReplicaStatus(Date.now())).map((r) => r.replica)).toEqual(['replica-a']);
    const after = await proxiesOf(a);
    expect(after.body.proxies.map((p) => `${p.nodeId}@${p.replica}`)).toEqual(['envoy-1@replica-a']);
  });

  it('stores RouteConfiguration names and only a count of the others; `banyan proxies -o json` says so', async () => {
    const url = await pg.createDatabase(`fleet_${++dbs}`);
    const a = await replica('replica-a', url, true);
    const b = await replica('replica-b', url, false);
    const eds = Array.from({ length: 300 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
    proxy(b, { id: 'envoy-eds', cluster: 'edge' }, {}, { [CDS]: { names: [] }, [EDS]: { names: eds }, [RDS]: { names: ['edge'] } });

    const types = await eventually(async () => {
      const cli = await banyan(['proxies', '-o', 'json', '--server', `http://127.0.0.1:${a.ports.admin}`]);
      expect(cli.code).toBe(0);
      const p = (JSON.parse(cli.stdout).proxies as ApiProxy[]).find((x) => x.nodeId === 'envoy-eds');
      expect(p?.replica).toBe('replica-b');
      expect(p!.types.map((t) => t.typeUrl).sort()).toEqual([CDS, EDS, RDS].sort());
      return Object.fromEntries(p!.types.map((t) => [t.typeUrl, t]));
    });
    expect(types[EDS]).toMatchObject({ subscribed: [], subscribedCount: 300 });
    expect(types[CDS]).toMatchObject({ subscribed: ['*'], subscribedCount: 1 });
    expect(types[RDS].subscribed).toEqual(['edge']);
    expect(types[RDS].subscribedCount).toBeUndefined();
    // what is stored is that form: B's record, as A reads it
    const [stored] = (await a.store.listReplicaStatus(Date.now())).filter((r) => r.replica === 'replica-b');
    expect(stored.proxies[0].types.find((t) => t.typeUrl === EDS)).toMatchObject({ subscribed: [], subscribedCount: 300 });
    // the replica holding the stream still lists every name
    const local = await banyan(['proxies', '-o', 'json', '--local', '--server', `http://127.0.0.1:${b.ports.admin}`]);
    const mine = (JSON.parse(local.stdout).proxies as ProxyRecord[]).find((x) => x.nodeId === 'envoy-eds')!;
    expect(mine.types.find((t) => t.typeUrl === EDS)).toMatchObject({ subscribed: eds });
    expect(mine.types.find((t) => t.typeUrl === EDS)!.subscribedCount).toBeUndefined();
  });

  it('drops a replica that stops renewing once its lease runs out', async () => {
    const url = await pg.createDatabase(`fleet_${++dbs}`);
    const a = await replica('replica-a', url, true);
    proxy(a, { id: 'envoy-1', cluster: 'edge' }, {}, { [LDS]: { names: [] } });
    const now = Date.now();
    // a replica that renewed once, then died without removing its record
    const ghost: ReplicaStatus = { replica: 'ghost', servedKey: 'old', reportedAt: now, expiresAt: now + 1500, proxies: [sampleProxy('envoy-ghost')] };
    await a.store.putReplicaStatus(ghost);
    await eventually(async () => {
      const nodes = (await proxiesOf(a)).body.proxies.map((p) => `${p.nodeId}@${p.replica}`).sort();
      expect(nodes).toEqual(['envoy-1@replica-a', 'envoy-ghost@ghost']);
    }, 1000);
    await eventually(async () => {
      const nodes = (await proxiesOf(a)).body.proxies.map((p) => `${p.nodeId}@${p.replica}`);
      expect(nodes).toEqual(['envoy-1@replica-a']);
    }, 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(ghost.expiresAt);
    // expired, not removed: the record is still stored, only past its lease
    expect((await a.store.listReplicaStatus(now)).map((r) => r.replica)).toEqual(['ghost', 'replica-a']);
  });
});

// ------------------------------------------------------------------ the publisher alone

/**
 * A real store with a counting layer: how many puts and renewals reached it (and landed), and
 * whose replica-status writes can be made to fail or hang.
 */
function faultyStore(inner: Store) {
  const faults = {
    failPuts: 0,
    failRenews: 0,
    failRemove: false,
    holdPut: undefined as Promise<void> | undefined,
    puts: 0,
    landed: 0,
    renews: 0,
    renewed: 0,
    /** Renewals that carried refusals. */
    renewsWithRefused: 0,
  };
  const store: Store = Object.create(inner);
  store.putReplicaStatus = async (s) => {
    faults.puts++;
    if (faults.holdPut) await faults.holdPut;
    if (faults.failPuts > 0) {
      faults.failPuts--;
      throw new StoreUnavailableError('PostgreSQL is unavailable (test)');
    }
    await inner.putReplicaStatus(s);
    faults.landed++;
  };
  store.renewReplicaStatus = async (lease) => {
    faults.renews++;
    if (lease.refused) faults.renewsWithRefused++;
    if (faults.failRenews > 0) {
      faults.failRenews--;
      throw new StoreUnavailableError('PostgreSQL is unavailable (test)');
    }
    const renewed = await inner.renewReplicaStatus(lease);
    if (renewed) faults.renewed++;
    return renewed;
  };
  store.removeReplicaStatus = async (r) => {
    if (faults.failRemove) throw new StoreUnavailableError('PostgreSQL is unavailable (test)');
    return inner.removeReplicaStatus(r);
  };
  return { store, faults };
}

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe('FleetPublisher', () => {
  let dir: string;
  let inner: EmbeddedStore;
  const stops: (() => unknown)[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-fleet-unit-'));
  });
  afterEach(async () => {
    for (const fn of stops.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function publisher(opts: Partial<ConstructorParameters<typeof FleetPublisher>[0]> = {}) {
    inner = await EmbeddedStore.open({ dir: await mkdtemp(path.join(dir, 'store-')) });
    stops.push(() => inner.close());
    const { store, faults } = faultyStore(inner);
    const { logger, lines } = capturingLogger();
    const proxies: ProxyRecord[] = [sampleProxy('envoy-1')];
    const refused: RefusalRecord[] = [];
    const fleet = new FleetPublisher({ store, xds: { status: () => proxies, refused: () => refused.map((r) => ({ ...r })) }, servedKey: () => 'key-1', logger, replica: 'r1', intervalMs: 20, ...opts });
    stops.push(() => fleet.stop());
    return { fleet, faults, lines, proxies, refused };
  }

  it('names a replica host-pid-hex unless given one', () => {
    expect(replicaId()).toMatch(new RegExp(`^${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-${process.pid}-[0-9a-f]{4}$`));
    expect(replicaId()).not.toBe(replicaId());
    expect(replicaId('given')).toBe('given');
  });

  it('renews its lease every interval with what the xDS server reports now', async () => {
    const { fleet, proxies } = await publisher({ ttlMs: 5000 });
    const before = Date.now();
    await fleet.start();
    const [first] = await inner.listReplicaStatus(Date.now());
    expect(first).toMatchObject({ replica: 'r1', servedKey: 'key-1', proxies: [sampleProxy('envoy-1')] });
    expect(first.expiresAt - first.reportedAt).toBe(5000);
    expect(first.reportedAt).toBeGreaterThanOrEqual(before);
    // a new proxy shows in the store by the next renewal, with a later lease
    proxies.push(sampleProxy('envoy-2'));
    const renewed = await eventually(async () => {
      const [r] = await inner.listReplicaStatus(Date.now());
      expect(r.proxies.map((p) => p.nodeId)).toEqual(['envoy-1', 'envoy-2']);
      return r;
    }, 2000);
    expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
  });

  it('puts the record only when its proxies changed, and otherwise only renews the lease', async () => {
    const served = { key: 'key-1' };
    let clock = 1_000_000;
    const { fleet, faults, proxies } = await publisher({ intervalMs: 60_000, ttlMs: 5000, servedKey: () => served.key, now: () => clock });
    await fleet.start();
    expect([faults.puts, faults.renews]).toEqual([1, 0]);
    const stored = async () => (await inner.listReplicaStatus(clock)).find((r) => r.replica === 'r1')!;
    const first = await stored();

    // nothing changed: two renewals, no put; the lease runs on, the proxies are the first put's
    clock += 1000;
    expect(await fleet.publish()).toBe(true);
    clock += 1000;
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewed]).toEqual([1, 2, 2]);
    expect(await stored()).toEqual({ ...first, reportedAt: first.reportedAt + 2000, expiresAt: first.expiresAt + 2000 });

    // a new served key rides on the renewal; a new nonce alone (a response, no new version or state) is no change either
    served.key = 'key-2';
    proxies[0].types[0].lastNonce = '77';
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews]).toEqual([1, 3]);
    expect(await stored()).toMatchObject({ servedKey: 'key-2', proxies: first.proxies });

    // the proxy ACKs the RouteConfiguration it NACKed: the very next publish writes it
    const rds = proxies[0].types[1];
    Object.assign(rds, { state: 'SYNCED', versionAcked: 'v2' });
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews]).toEqual([2, 3]);
    const acked = await stored();
    expect(acked.proxies[0].types[1]).toMatchObject({ state: 'SYNCED', versionAcked: 'v2' });
    expect(acked.proxies[0].types[0].lastNonce).toBe('77');

    // a NACK, a new proxy, a proxy gone: each written at the next publish
    Object.assign(rds, { state: 'NACKED', versionSent: 'v3', lastNack: { version: 'v3', nonce: '3', message: 'no', at: '2026-01-01T00:00:02.000Z' } });
    await fleet.publish();
    expect((await stored()).proxies[0].types[1]).toMatchObject({ state: 'NACKED', lastNack: { version: 'v3', message: 'no' } });
    proxies.push(sampleProxy('envoy-2'));
    await fleet.publish();
    expect((await stored()).proxies.map((p) => p.nodeId)).toEqual(['envoy-1', 'envoy-2']);
    proxies.shift();
    await fleet.publish();
    expect((await stored()).proxies.map((p) => p.nodeId)).toEqual(['envoy-2']);
    expect([faults.puts, faults.renews]).toEqual([5, 3]);
    // and then it is quiet again
    await fleet.publish();
    expect([faults.puts, faults.renews]).toEqual([5, 4]);
  });

  it('stores its refusals with the record, naming the replica: on the renewal when only they changed, never rewriting the proxies for them', async () => {
    let clock = 1_000_000;
    const { fleet, faults, proxies, refused } = await publisher({ intervalMs: 60_000, ttlMs: 5000, now: () => clock });
    const refusal = (nodeId: string, at: string): RefusalRecord => {
      const { replica: _, ...r } = sampleRefusal('-', nodeId, { at });
      return r;
    };
    const stored = async () => (await inner.listReplicaStatus(clock)).find((r) => r.replica === 'r1')!;
    // none: the record says nothing about them
    await fleet.start();
    expect(await stored()).not.toHaveProperty('refused');
    expect(fleet.status()).not.toHaveProperty('refused');

    // a refusal: the next publish renews with it (no put), and the replica is named on it
    refused.push(refusal('x-1', '2026-01-01T00:00:01.000Z'));
    clock += 1000;
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewsWithRefused]).toEqual([1, 1, 1]);
    expect((await stored()).refused).toEqual([{ ...refused[0], replica: 'r1' }]);
    // its own entry in fleet() has it at once, before any publish
    refused.push(refusal('x-2', '2026-01-01T00:00:02.000Z'));
    expect(fleetRefusals(await fleet.fleet()).map((r) => `${r.nodeId}@${r.replica}`)).toEqual(['x-1@r1', 'x-2@r1']);
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewsWithRefused]).toEqual([1, 2, 2]);
    // unchanged: a plain renewal
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewsWithRefused]).toEqual([1, 3, 2]);
    expect((await stored()).refused!.map((r) => r.nodeId)).toEqual(['x-1', 'x-2']);

    // bounded: the latest MAX_FLEET_REFUSALS, oldest first
    for (let i = 0; i < 150; i++) refused.push(refusal(`y-${i}`, `2026-01-01T00:01:${String(Math.floor(i / 10)).padStart(2, '0')}.${String(i % 10).padStart(3, '0')}Z`));
    expect(await fleet.publish()).toBe(true);
    const many = (await stored()).refused!;
    expect(many).toHaveLength(MAX_FLEET_REFUSALS);
    expect([many[0].nodeId, many.at(-1)!.nodeId]).toEqual(['y-50', 'y-149']);
    expect([faults.puts, faults.renewsWithRefused]).toEqual([1, 3]);
    // the xDS server dropping refusals older than the latest MAX_FLEET_REFUSALS is no change; a new one is
    refused.splice(0, 2);
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewsWithRefused]).toEqual([1, 5, 3]);
    refused.push(refusal('z-1', '2026-01-01T00:02:00.000Z'));
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renewsWithRefused]).toEqual([1, 4]);
    expect((await stored()).refused!.at(-1)!.nodeId).toBe('z-1');

    // proxies and refusals changed together: one put holds both
    refused.push(refusal('z-2', '2026-01-01T00:02:01.000Z'));
    proxies.push(sampleProxy('envoy-2'));
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renewsWithRefused]).toEqual([2, 4]);
    expect((await stored()).refused!.at(-1)!.nodeId).toBe('z-2');

    // a renewal carrying them failed: the next one carries them again
    refused.push(refusal('z-3', '2026-01-01T00:02:02.000Z'));
    faults.failRenews = 1;
    expect(await fleet.publish()).toBe(false);
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renewsWithRefused]).toEqual([2, 6]);
    expect((await stored()).refused!.at(-1)!.nodeId).toBe('z-3');

    // the store lost the record: put whole, refusals and all
    await inner.removeReplicaStatus('r1');
    expect(await fleet.publish()).toBe(true);
    expect(faults.puts).toBe(3);
    expect((await stored()).refused).toHaveLength(MAX_FLEET_REFUSALS);
    // and on stop they go with the record
    await fleet.stop();
    expect(await inner.listReplicaStatus(clock)).toEqual([]);
  });

  it('lists the fleet\'s refusals oldest first, each naming the replica of its record; a record without refusals has none', () => {
    const at = (s: number) => `2026-01-01T00:00:0${s}.000Z`;
    const fleet: ReplicaStatus[] = [
      { replica: 'a', servedKey: 'k', reportedAt: 0, expiresAt: 1, proxies: [], refused: [sampleRefusal('a', 'a-1', { at: at(1) }), sampleRefusal('a', 'a-3', { at: at(3) })] },
      { replica: 'old', servedKey: 'k', reportedAt: 0, expiresAt: 1, proxies: [] },
      { replica: 'b', servedKey: 'k', reportedAt: 0, expiresAt: 1, proxies: [], refused: [sampleRefusal('elsewhere', 'b-2', { at: at(2) }), sampleRefusal('b', 'b-3', { at: at(3) })] },
    ];
    expect(fleetRefusals(fleet).map((r) => `${r.nodeId}@${r.replica}`)).toEqual(['a-1@a', 'b-2@b', 'a-3@a', 'b-3@b']);
    expect(fleetRefusals([])).toEqual([]);
  });

  it('writes a change by the next interval on its own timer', async () => {
    const { fleet, faults, proxies } = await publisher({ intervalMs: 20 });
    await fleet.start();
    await eventually(() => expect(faults.renewed).toBeGreaterThanOrEqual(2), 2000);
    expect(faults.puts).toBe(1);
    Object.assign(proxies[0].types[1], { state: 'SYNCED', versionAcked: 'v2' });
    await eventually(async () => expect((await inner.listReplicaStatus(Date.now()))[0].proxies[0].types[1].state).toBe('SYNCED'), 2000);
    expect(faults.puts).toBe(2);
    const renewed = faults.renewed;
    await eventually(() => expect(faults.renewed).toBeGreaterThan(renewed), 2000);
    expect(faults.puts).toBe(2);
  });

  it('puts the whole record again when the store lost it or a put failed, not after a failed renewal', async () => {
    const { fleet, faults, proxies } = await publisher({ intervalMs: 60_000 });
    await fleet.start();
    // removed behind its back (or a new database): the renewal finds nothing, the same publish puts it back
    await inner.removeReplicaStatus('r1');
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewed]).toEqual([2, 1, 0]);
    expect((await inner.listReplicaStatus(Date.now())).map((r) => r.proxies.map((p) => p.nodeId))).toEqual([['envoy-1']]);

    // a failed put may or may not have landed: the next publish puts again, though nothing changed since
    proxies.push(sampleProxy('envoy-2'));
    faults.failPuts = 1;
    expect(await fleet.publish()).toBe(false);
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.landed, faults.renews]).toEqual([4, 3, 1]);
    expect((await inner.listReplicaStatus(Date.now()))[0].proxies.map((p) => p.nodeId)).toEqual(['envoy-1', 'envoy-2']);

    // a failed renewal leaves the stored proxies as they were: the next publish renews
    faults.failRenews = 1;
    expect(await fleet.publish()).toBe(false);
    expect(await fleet.publish()).toBe(true);
    expect([faults.puts, faults.renews, faults.renewed]).toEqual([4, 3, 1]);
  });

  it('keeps RouteConfiguration names and a count of the other types in the record and its fleet view', async () => {
    const eds = Array.from({ length: 500 }, (_, i) => `cluster-${i}`);
    const p = sampleProxy('envoy-1');
    p.types.push({ typeUrl: CDS, state: 'SYNCED', subscribed: ['*', 'extra'] }, { typeUrl: EDS, state: 'SYNCED', currentVersion: 'e1', subscribed: eds });
    p.types[1].subscribed = ['edge', 'orders'];
    const { fleet, proxies } = await publisher({ intervalMs: 60_000 });
    proxies[0] = p;
    await fleet.start();
    const want = [
      [LDS, ['*'], 1],
      [RDS, ['edge', 'orders'], undefined],
      [CDS, ['*'], 2],
      [EDS, [], 500],
    ];
    const [stored] = await inner.listReplicaStatus(Date.now());
    expect(stored.proxies[0].types.map((t) => [t.typeUrl, t.subscribed, t.subscribedCount])).toEqual(want);
    // everything else of the type is kept
    expect(stored.proxies[0].types[3]).toEqual({ typeUrl: EDS, state: 'SYNCED', currentVersion: 'e1', subscribed: [], subscribedCount: 500 });
    const [own] = await fleet.fleet();
    expect(own.proxies[0].types.map((t) => [t.typeUrl, t.subscribed, t.subscribedCount])).toEqual(want);
    // what the xDS server reported is not touched
    expect(p.types[3].subscribed).toHaveLength(500);
  });

  it("reads the fleet with its own entry as it holds it now, and without it after stop", async () => {
    const { fleet, proxies } = await publisher({ intervalMs: 60_000 });
    await fleet.start();
    await inner.putReplicaStatus({ replica: 'r0', servedKey: 'k', reportedAt: Date.now(), expiresAt: Date.now() + 60_000, proxies: [] });
    proxies.push(sampleProxy('envoy-new')); // not yet renewed (the interval is a minute)
    expect((await inner.listReplicaStatus(Date.now())).find((r) => r.replica === 'r1')!.proxies).toHaveLength(1);
    const view = await fleet.fleet();
    expect(view.map((r) => r.replica)).toEqual(['r0', 'r1']);
    expect(view[1].proxies.map((p) => p.nodeId)).toEqual(['envoy-1', 'envoy-new']);
    await fleet.stop();
    expect((await fleet.fleet()).map((r) => r.replica)).toEqual(['r0']);
  });

  it('logs a failed put once, retries every interval until it works, and never throws', async () => {
    const { fleet, faults, lines } = await publisher();
    faults.failPuts = 3;
    await expect(fleet.start()).resolves.toBeUndefined();
    expect(await inner.listReplicaStatus(Date.now())).toEqual([]);
    await eventually(async () => expect((await inner.listReplicaStatus(Date.now())).map((r) => r.replica)).toEqual(['r1']), 2000);
    expect(faults.puts).toBeGreaterThanOrEqual(4);
    const warns = lines.filter((l) => l.level === 40);
    expect(warns.map((l) => l.msg)).toEqual(["could not store this replica's status; retrying every 20 ms"]);
    expect(lines.filter((l) => l.level === 20 && l.msg === 'replica status still not stored')).toHaveLength(2);
    expect(lines.some((l) => l.level === 30 && l.msg === 'replica status stored again')).toBe(true);
  });

  it('on stop, lets an in-flight put land first, then removes the record; a failed removal is logged, not thrown', async () => {
    const { fleet, faults, proxies } = await publisher({ intervalMs: 60_000 });
    await fleet.start();
    let release!: () => void;
    faults.holdPut = new Promise<void>((r) => (release = r));
    proxies.push(sampleProxy('envoy-2')); // a change: the next publish is a put
    const put = fleet.publish();
    await eventually(() => expect(faults.puts).toBe(2));
    let stopped = false;
    const stopping = fleet.stop().then(() => (stopped = true));
    // the removal waits for the put: the record is still there while it hangs
    expect((await inner.listReplicaStatus(Date.now())).map((r) => r.replica)).toEqual(['r1']);
    expect(stopped).toBe(false);
    release();
    expect(await put).toBe(true);
    await stopping;
    expect(await inner.listReplicaStatus(Date.now())).toEqual([]);

    const second = await publisher();
    await second.fleet.start();
    second.faults.failRemove = true;
    await expect(second.fleet.stop()).resolves.toBeUndefined();
    expect(second.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(["could not remove this replica's status; it expires within 10000 ms"]);
  });

  it('does not wait past stopWaitMs for a put that hangs', async () => {
    const { fleet, faults, proxies } = await publisher({ intervalMs: 60_000, stopWaitMs: 50 });
    await fleet.start();
    let release!: () => void;
    faults.holdPut = new Promise<void>((r) => (release = r));
    proxies.push(sampleProxy('envoy-2'));
    void fleet.publish();
    await eventually(() => expect(faults.puts).toBe(2));
    const started = Date.now();
    await fleet.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await inner.listReplicaStatus(Date.now())).toEqual([]);
    // the hung put lands after the removal: it is removed again
    release();
    await eventually(() => expect(faults.landed).toBe(2));
    await eventually(async () => expect(await inner.listReplicaStatus(Date.now())).toEqual([]), 1000);
  });
});

// ------------------------------------------------------------------ the route when the store is down

describe('GET /api/v1/proxies with the store unreachable', () => {
  it("answers this replica's proxies, marked partial, instead of failing", async () => {
    const pipeline = new ConfigPipeline({ snapshot: () => {} }, createLogger('test', 'silent'), createRegistry());
    const local = [sampleProxy('envoy-1')];
    const down = { replica: 'r1', fleet: () => Promise.reject(new StoreUnavailableError('PostgreSQL is unavailable (test)')) };
    const router = new Router(bearerAuthorizer(undefined));
    mountCoreRoutes(router, { view: new PipelineView(pipeline, () => local as unknown as ProxyStatus[], down), registries: [] });
    const admin = new AdminServer(router);
    try {
      const base = `http://127.0.0.1:${await admin.listen(0)}`;
      const res = await fetch(`${base}/api/v1/proxies`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ partial: true, proxies: [{ nodeId: 'envoy-1' }] });
      expect(body.warning).toContain("only this replica's proxies: PostgreSQL is unavailable (test)");
      // and `banyan proxies` shows them, saying why the others are missing
      const cli = await banyan(['proxies', '--server', base]);
      expect(cli.code).toBe(0);
      expect(cli.stderr).toBe("warning: only this replica's proxies: PostgreSQL is unavailable (test)\n");
      expect(cli.stdout).toMatch(/^envoy-1\s+this replica\s+default\s+envoy\/1\.32\.4\s+NOT SENT\s+SYNCED\s+NOT SENT\s+NACKED\s/m);
      // any other failure is still an error
      const broken = new Router(bearerAuthorizer(undefined));
      mountCoreRoutes(broken, { view: new PipelineView(pipeline, () => [], { replica: 'r1', fleet: () => Promise.reject(new Error('boom')) }), registries: [] });
      const admin2 = new AdminServer(broken);
      try {
        expect((await fetch(`http://127.0.0.1:${await admin2.listen(0)}/api/v1/proxies`)).status).toBe(500);
      } finally {
        await admin2.close();
      }
    } finally {
      await admin.close();
    }
  });
});
