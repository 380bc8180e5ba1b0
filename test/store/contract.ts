/**
 * The Store contract: every implementation must pass this suite unchanged (embedded.test.ts,
 * postgres.test.ts). Each test gets a fresh, empty store from the harness.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { ActiveRolloutExistsError, RevisionConflictError } from '../../src/store/errors.js';
import { BanyanError } from '../../src/errors.js';
import { hashConfigContent } from '../../src/store/hash.js';
import type { LoadSample, ProxyRecord, ReplicaRefusal, ReplicaStatus, Rollout, Store, StoreChange, StoredCa } from '../../src/store/types.js';

export interface StoreHarness {
  store: Store;
  /** Closes `store` and opens another on the same data (a restart). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export function sampleRollout(id: string, route: string, overrides: Partial<Rollout> = {}): Omit<Rollout, 'revision'> {
  return {
    id,
    route,
    fromBackends: [
      { cluster: 'monolith', weight: 90 },
      { cluster: 'auth-v2', weight: 10 },
    ],
    startOverride: null,
    baseHash: 'h',
    toBackend: 'auth-v2',
    steps: [25, 50, 100],
    intervalMs: 60_000,
    currentStep: 0,
    percent: 25,
    state: 'running',
    nextStepAt: 1_000_000,
    pausedRemainingMs: null,
    startedBy: 'alice',
    createdAt: 1,
    updatedAt: 1,
    ...overrides,
  };
}

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

export function sampleProxy(nodeId: string, overrides: Partial<ProxyRecord> = {}): ProxyRecord {
  return {
    streamId: `s-${nodeId}`,
    nodeId,
    nodeCluster: 'edge',
    group: 'default',
    kind: 'ads-sotw',
    service: 'envoy.service.discovery.v3.AggregatedDiscoveryService',
    peer: 'ipv4:127.0.0.1:40000',
    connectedSince: '2026-01-01T00:00:00.000Z',
    userAgent: { name: 'envoy', version: '1.32.4' },
    types: [
      { typeUrl: LDS, state: 'SYNCED', currentVersion: 'v1', versionSent: 'v1', versionAcked: 'v1', lastNonce: '1', subscribed: ['*'] },
      {
        typeUrl: RDS,
        state: 'NACKED',
        currentVersion: 'v2',
        versionSent: 'v2',
        versionAcked: 'v1',
        lastNonce: '2',
        lastNack: { version: 'v2', nonce: '2', message: 'bad route', code: 3, at: '2026-01-01T00:00:01.000Z' },
        subscribed: ['edge'],
      },
    ],
    ...overrides,
  };
}

export function sampleReplica(replica: string, overrides: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return { replica, servedKey: 'hash|[]', reportedAt: 10_000, expiresAt: 20_000, proxies: [sampleProxy(`${replica}-proxy`)], ...overrides };
}

/** A proxy refused for its certificate identity, as a replica's record holds it. */
export function sampleRefusal(replica: string, nodeId: string, overrides: Partial<ReplicaRefusal> = {}): ReplicaRefusal {
  return {
    replica,
    nodeId,
    nodeCluster: 'edge',
    identities: ['spiffe://example.org/ns/other/sa/x'],
    group: 'edge',
    allowed: ['spiffe://example.org/ns/edge/*'],
    reason: `node "${nodeId}" with identity spiffe://example.org/ns/other/sa/x may not join group "edge", which allows spiffe://example.org/ns/edge/*`,
    peer: 'ipv4:127.0.0.1:40001',
    when: 'first-request',
    at: '2026-01-01T00:00:02.000Z',
    ...overrides,
  };
}

export function sampleLoad(cluster: string, at: number, overrides: Partial<LoadSample> = {}): LoadSample {
  return { replica: 'r1', cluster, source: 'lrs', at, intervalMs: 1000, node: 'envoy-1', successes: 90, errors: 10, issued: 100, dropped: 0, ...overrides };
}

/** A CA record as a store sees it: opaque PEM text (the store does not parse it), the key marked encrypted. */
export function sampleCa(tag: string, createdAt = 1_000): StoredCa {
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${tag}\n-----END CERTIFICATE-----\n`,
    keyPem: `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${tag}\n-----END ENCRYPTED PRIVATE KEY-----\n`,
    createdAt,
  };
}

export function storeContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness | undefined;
    const fresh = async () => {
      h = await makeHarness();
      return h.store;
    };
    afterEach(async () => {
      await h?.cleanup();
      h = undefined;
    });

    it('numbers config versions monotonically, hashes content and lists newest first', async () => {
      const store = await fresh();
      expect(await store.latestConfigVersion()).toBeUndefined();
      const contents = [1, 2, 3].map((i) => [{ file: 'banyan.yaml', text: `listeners: [] # ${i}\n` }]);
      for (const [i, content] of contents.entries()) {
        const v = await store.appendConfigVersion({ content, author: 'alice', message: `change ${i + 1}` });
        expect(v.version).toBe(i + 1);
        expect(v.hash).toBe(hashConfigContent(content));
      }
      expect((await store.latestConfigVersion())?.version).toBe(3);
      const v2 = await store.getConfigVersion(2);
      expect(v2).toMatchObject({ version: 2, author: 'alice', message: 'change 2', content: contents[1] });
      expect(await store.getConfigVersion(99)).toBeUndefined();
      expect((await store.listConfigVersions()).map((v) => v.version)).toEqual([3, 2, 1]);
      expect((await store.listConfigVersions({ limit: 2 })).map((v) => v.version)).toEqual([3, 2]);
      const audit = await store.listAudit();
      expect(audit.map((e) => [e.action, e.target])).toEqual([
        ['config.apply', 'version 3'],
        ['config.apply', 'version 2'],
        ['config.apply', 'version 1'],
      ]);
      // results are copies
      v2!.content[0].text = 'mutated';
      expect((await store.getConfigVersion(2))!.content[0].text).toBe(contents[1][0].text);
    });

    it('records the audit action a caller gives (a rollback)', async () => {
      const store = await fresh();
      await store.appendConfigVersion({ content: [], author: 'bob', message: 'rollback to 1', action: 'config.rollback', details: { from: 1 } });
      const [e] = await store.listAudit();
      expect(e).toMatchObject({ actor: 'bob', action: 'config.rollback', target: 'version 1', details: { from: 1 } });
    });

    it('sets, replaces, lists and clears overrides, auditing each change', async () => {
      const store = await fresh();
      const o = await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 70 }, { cluster: 'b', weight: 30 }], author: 'alice', reason: 'canary', baseHash: 'h1' });
      expect(o.updatedAt).toBeGreaterThan(0);
      await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 50 }, { cluster: 'b', weight: 50 }], author: 'bob', reason: 'more', baseHash: 'h1' });
      await store.setOverride({ route: 'other', backends: [{ cluster: 'c', weight: 1 }], author: 'bob', reason: '', baseHash: 'h2' });
      expect(await store.getOverride('auth')).toMatchObject({ author: 'bob', backends: [{ cluster: 'a', weight: 50 }, { cluster: 'b', weight: 50 }] });
      expect((await store.listOverrides()).map((x) => x.route).sort()).toEqual(['auth', 'other']);
      expect(await store.clearOverride('auth', 'carol', 'done')).toBe(true);
      expect(await store.clearOverride('auth', 'carol')).toBe(false);
      expect(await store.getOverride('auth')).toBeUndefined();
      const audit = await store.listAudit();
      expect(audit.map((e) => e.action)).toEqual(['override.clear', 'override.set', 'override.set', 'override.set']);
      expect(audit[0]).toMatchObject({ actor: 'carol', target: 'auth', details: { reason: 'done' } });
    });

    it('allows one active rollout per route and frees the route when it ends', async () => {
      const store = await fresh();
      const r1 = await store.createRollout(sampleRollout('r1', 'auth'), { actor: 'alice', action: 'rollout.start' });
      expect(r1.revision).toBe(1);
      await expect(store.createRollout(sampleRollout('r2', 'auth'), { actor: 'bob', action: 'rollout.start' })).rejects.toBeInstanceOf(ActiveRolloutExistsError);
      // a one-step rollout is created already completed; it must not slip past a running one either
      await expect(
        store.createRollout(sampleRollout('r4', 'auth', { state: 'completed', nextStepAt: null }), { actor: 'bob', action: 'rollout.start' }),
      ).rejects.toBeInstanceOf(ActiveRolloutExistsError);
      await store.createRollout(sampleRollout('r3', 'other'), { actor: 'bob', action: 'rollout.start' });
      expect((await store.activeRollout('auth'))?.id).toBe('r1');
      expect((await store.activeRollouts()).map((r) => r.id).sort()).toEqual(['r1', 'r3']);
      await store.updateRollout({ ...r1, state: 'aborted', nextStepAt: null }, 1, { actor: 'alice', action: 'rollout.abort' });
      expect(await store.activeRollout('auth')).toBeUndefined();
      await store.createRollout(sampleRollout('r2', 'auth'), { actor: 'bob', action: 'rollout.start' });
      expect((await store.listRollouts({ route: 'auth' })).map((r) => r.id)).toEqual(['r2', 'r1']);
      expect((await store.listRollouts({ limit: 1 })).map((r) => r.id)).toEqual(['r2']);
      expect((await store.listAudit()).filter((e) => e.action === 'rollout.start')).toHaveLength(3);
    });

    it('lets exactly one of many concurrent creates on a route win', async () => {
      const store = await fresh();
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.createRollout(sampleRollout(`c${i}`, 'busy'), { actor: `u${i}`, action: 'rollout.start' })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ActiveRolloutExistsError);
      expect(await store.listRollouts({ route: 'busy' })).toHaveLength(1);
      expect((await store.listAudit()).filter((e) => e.action === 'rollout.start')).toHaveLength(1);
    });

    it('updates rollouts with optimistic concurrency: one of two writers on a revision wins', async () => {
      const store = await fresh();
      const r = await store.createRollout(sampleRollout('r1', 'auth'), { actor: 'a', action: 'rollout.start' });
      const step = { ...r, currentStep: 1, percent: 50 };
      const results = await Promise.allSettled([
        store.updateRollout(step, 1, { actor: 'replica-1', action: 'rollout.step' }),
        store.updateRollout(step, 1, { actor: 'replica-2', action: 'rollout.step' }),
      ]);
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      const failed = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
      expect(failed.reason).toBeInstanceOf(RevisionConflictError);
      const stored = await store.getRollout('r1');
      expect(stored).toMatchObject({ revision: 2, currentStep: 1, percent: 50 });
      expect((await store.listAudit()).filter((e) => e.action === 'rollout.step')).toHaveLength(1);
      await expect(store.updateRollout({ ...stored!, percent: 99 }, 1, { actor: 'x', action: 'rollout.step' })).rejects.toBeInstanceOf(RevisionConflictError);
      await expect(store.updateRollout(sampleRollout('nope', 'auth') as Rollout, 1, { actor: 'x', action: 'rollout.step' })).rejects.toBeInstanceOf(RevisionConflictError);
      expect((await store.getRollout('r1'))?.percent).toBe(50);
    });

    it('applies a rollout weight effect in the same write as the rollout, and not at all on conflict', async () => {
      const store = await fresh();
      const set = { route: 'auth', backends: [{ cluster: 'auth-v2', weight: 25 }, { cluster: 'monolith', weight: 75 }], author: 'rollout', reason: 'rollout r1', baseHash: 'h' };
      const r = await store.createRollout(sampleRollout('r1', 'auth'), { actor: 'a', action: 'rollout.start' }, { set });
      expect((await store.getOverride('auth'))?.backends).toEqual(set.backends);
      const bad = { set: { ...set, backends: [{ cluster: 'auth-v2', weight: 100 }] } };
      await expect(store.updateRollout({ ...r, percent: 100 }, 7, { actor: 'a', action: 'rollout.step' }, bad)).rejects.toBeInstanceOf(RevisionConflictError);
      expect((await store.getOverride('auth'))?.backends).toEqual(set.backends);
      await store.updateRollout({ ...r, state: 'aborted' }, 1, { actor: 'a', action: 'rollout.abort' }, { clear: 'auth' });
      expect(await store.getOverride('auth')).toBeUndefined();
    });

    it('lists the audit log newest first with limit and since', async () => {
      const store = await fresh();
      for (let i = 0; i < 5; i++) await store.setOverride({ route: `r${i}`, backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
      const all = await store.listAudit();
      expect(all.map((e) => e.target)).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
      expect(all[0].id).toBeGreaterThan(all[1].id);
      expect((await store.listAudit({ limit: 2 })).map((e) => e.target)).toEqual(['r4', 'r3']);
      expect(await store.listAudit({ since: all[0].at + 60_000 })).toEqual([]);
      expect((await store.listAudit({ since: all[4].at })).length).toBe(5);
    });

    it('notifies watchers of each committed change until unsubscribed', async () => {
      const store = await fresh();
      const seen: StoreChange[] = [];
      const stop = store.watch((c) => seen.push(c));
      await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
      await store.appendConfigVersion({ content: [], author: 'a', message: 'm' });
      await eventually(() => {
        expect(seen).toContainEqual({ kind: 'override', target: 'auth' });
        expect(seen).toContainEqual({ kind: 'config', target: '1' });
      });
      stop();
      const count = seen.length;
      await store.clearOverride('auth', 'a');
      await store.appendConfigVersion({ content: [], author: 'a', message: 'm2' });
      // Changes are delivered in order: once a live watcher has seen a later change, the stopped one would have seen these.
      const live: StoreChange[] = [];
      const stopLive = store.watch((c) => live.push(c));
      await store.appendConfigVersion({ content: [], author: 'a', message: 'm3' });
      await eventually(() => expect(live).toContainEqual({ kind: 'config', target: '3' }));
      stopLive();
      expect(seen.length).toBe(count);
    });

    it('puts, lists and replaces replica status; results are copies', async () => {
      const store = await fresh();
      expect(await store.listReplicaStatus(0)).toEqual([]);
      const a = sampleReplica('a');
      await store.putReplicaStatus(a);
      a.proxies[0].nodeId = 'mutated after put';
      const [listed] = await store.listReplicaStatus(15_000);
      expect(listed).toEqual(sampleReplica('a'));
      // a stored record keeps every field of every proxy, lastNack and userAgent included
      expect(listed.proxies[0].types[1].lastNack).toEqual({ version: 'v2', nonce: '2', message: 'bad route', code: 3, at: '2026-01-01T00:00:01.000Z' });
      listed.proxies[0].types[0].state = 'STALE';
      listed.proxies.push(sampleProxy('extra'));
      expect(await store.listReplicaStatus(15_000)).toEqual([sampleReplica('a')]);
      // a put replaces the replica's whole record: proxies it no longer holds are gone
      const replaced = sampleReplica('a', { servedKey: 'hash2|[]', reportedAt: 11_000, expiresAt: 21_000, proxies: [sampleProxy('p2'), sampleProxy('p3')] });
      await store.putReplicaStatus(replaced);
      expect(await store.listReplicaStatus(15_000)).toEqual([replaced]);
      await store.putReplicaStatus({ ...replaced, proxies: [] });
      expect(await store.listReplicaStatus(15_000)).toEqual([{ ...replaced, proxies: [] }]);
    });

    it('leaves out replicas whose lease has expired at the given time', async () => {
      const store = await fresh();
      await store.putReplicaStatus(sampleReplica('a', { expiresAt: 20_000 }));
      await store.putReplicaStatus(sampleReplica('b', { expiresAt: 30_000 }));
      const names = async (now: number) => (await store.listReplicaStatus(now)).map((r) => r.replica);
      expect(await names(19_999)).toEqual(['a', 'b']);
      expect(await names(20_000)).toEqual(['b']);
      expect(await names(29_999)).toEqual(['b']);
      expect(await names(30_000)).toEqual([]);
      // expiry is judged at the time asked about: nothing was deleted by asking
      expect(await names(0)).toEqual(['a', 'b']);
      // a renewal extends the lease
      await store.putReplicaStatus(sampleReplica('a', { reportedAt: 25_000, expiresAt: 35_000 }));
      expect(await names(30_000)).toEqual(['a']);
      // a lease over a minute past its end is forgotten by the next put (a replica that died without removing it)
      await store.putReplicaStatus(sampleReplica('d', { reportedAt: 40_000, expiresAt: 50_000 }));
      await store.putReplicaStatus(sampleReplica('c', { reportedAt: 35_000 + 60_001, expiresAt: 200_000 }));
      expect(await names(0)).toEqual(['c', 'd']);
    });

    it('removes a replica at once, leaving the others', async () => {
      const store = await fresh();
      await store.putReplicaStatus(sampleReplica('a'));
      await store.putReplicaStatus(sampleReplica('b'));
      await store.removeReplicaStatus('a');
      expect((await store.listReplicaStatus(15_000)).map((r) => r.replica)).toEqual(['b']);
      await store.removeReplicaStatus('never-was');
      await store.removeReplicaStatus('b');
      expect(await store.listReplicaStatus(15_000)).toEqual([]);
    });

    it('keeps two replicas apart: each put replaces only its own record', async () => {
      const store = await fresh();
      const a = sampleReplica('replica-a', { servedKey: 'k1', proxies: [sampleProxy('envoy-1'), sampleProxy('envoy-2')] });
      const b = sampleReplica('replica-b', { servedKey: 'k2', proxies: [sampleProxy('envoy-3')] });
      await store.putReplicaStatus(b);
      await store.putReplicaStatus(a);
      expect(await store.listReplicaStatus(15_000)).toEqual([a, b]);
      await store.putReplicaStatus({ ...a, proxies: [sampleProxy('envoy-1')] });
      const listed = await store.listReplicaStatus(15_000);
      expect(listed.map((r) => [r.replica, r.servedKey, r.proxies.map((p) => p.nodeId)])).toEqual([
        ['replica-a', 'k1', ['envoy-1']],
        ['replica-b', 'k2', ['envoy-3']],
      ]);
    });

    it('renews a lease without touching the proxies, and only a record it holds', async () => {
      const store = await fresh();
      const lease = (replica: string, reportedAt: number, servedKey = 'hash|[]') => ({ replica, servedKey, reportedAt, expiresAt: reportedAt + 10_000 });
      // nothing to renew: false, and nothing written
      expect(await store.renewReplicaStatus(lease('a', 11_000))).toBe(false);
      expect(await store.listReplicaStatus(0)).toEqual([]);

      const a = sampleReplica('a', { proxies: [sampleProxy('envoy-1'), sampleProxy('envoy-2')] });
      await store.putReplicaStatus(a);
      const before = await store.listReplicaStatus(15_000);
      expect(await store.renewReplicaStatus(lease('a', 18_000, 'hash2|[]'))).toBe(true);
      // the lease, served key and report time move; the proxies are those of the put
      expect(await store.listReplicaStatus(25_000)).toEqual([{ ...a, servedKey: 'hash2|[]', reportedAt: 18_000, expiresAt: 28_000 }]);
      expect(await store.listReplicaStatus(28_000)).toEqual([]);
      // a list read before the renewal is a copy: it still says what it said
      expect(before).toEqual([a]);
      // the next put replaces the proxies as ever
      await store.putReplicaStatus(sampleReplica('a', { reportedAt: 19_000, expiresAt: 29_000, proxies: [] }));
      expect((await store.listReplicaStatus(25_000))[0].proxies).toEqual([]);

      // a removed record is not brought back by a renewal
      await store.removeReplicaStatus('a');
      expect(await store.renewReplicaStatus(lease('a', 20_000))).toBe(false);
      expect(await store.listReplicaStatus(0)).toEqual([]);
    });

    it('stores refusals with the record: put whole, replaced by a renewal that gives them, kept by one that does not; none reads as absent', async () => {
      const store = await fresh();
      const lease = (reportedAt: number, refused?: ReplicaRefusal[]) => ({ replica: 'a', servedKey: 'hash|[]', reportedAt, expiresAt: reportedAt + 10_000, ...(refused && { refused }) });
      const one = [sampleRefusal('a', 'x-1')];
      const two = [...one, sampleRefusal('a', 'x-2', { when: 'regrouped', at: '2026-01-01T00:00:03.000Z' })];
      // a record without refusals (as a replica older than them puts it) reads without them: none
      await store.putReplicaStatus(sampleReplica('a'));
      expect((await store.listReplicaStatus(15_000))[0]).not.toHaveProperty('refused');
      await store.putReplicaStatus(sampleReplica('a', { refused: [] }));
      expect((await store.listReplicaStatus(15_000))[0]).not.toHaveProperty('refused');

      await store.putReplicaStatus(sampleReplica('a', { refused: one }));
      const [listed] = await store.listReplicaStatus(15_000);
      expect(listed).toEqual(sampleReplica('a', { refused: one }));
      // a copy
      listed.refused!.push(sampleRefusal('a', 'extra'));
      expect((await store.listReplicaStatus(15_000))[0].refused).toEqual(one);

      // a renewal without refusals keeps them; one with refusals replaces them and keeps the proxies
      expect(await store.renewReplicaStatus(lease(11_000))).toBe(true);
      expect((await store.listReplicaStatus(15_000))[0].refused).toEqual(one);
      expect(await store.renewReplicaStatus(lease(12_000, two))).toBe(true);
      expect(await store.listReplicaStatus(15_000)).toEqual([sampleReplica('a', { reportedAt: 12_000, expiresAt: 22_000, refused: two })]);
      // [] clears them
      expect(await store.renewReplicaStatus(lease(13_000, []))).toBe(true);
      expect((await store.listReplicaStatus(15_000))[0]).not.toHaveProperty('refused');
      // a put without refusals replaces them with none
      expect(await store.renewReplicaStatus(lease(14_000, one))).toBe(true);
      await store.putReplicaStatus(sampleReplica('a', { reportedAt: 14_000, expiresAt: 24_000 }));
      expect((await store.listReplicaStatus(15_000))[0]).not.toHaveProperty('refused');

      // each replica's own; they go with its lease or its removal, and a renewal does not bring them back
      await store.putReplicaStatus(sampleReplica('a', { refused: one }));
      await store.putReplicaStatus(sampleReplica('b', { expiresAt: 30_000, refused: [sampleRefusal('b', 'y-1')] }));
      expect((await store.listReplicaStatus(15_000)).map((r) => [r.replica, r.refused?.map((x) => x.nodeId)])).toEqual([['a', ['x-1']], ['b', ['y-1']]]);
      expect((await store.listReplicaStatus(25_000)).map((r) => r.replica)).toEqual(['b']);
      await store.removeReplicaStatus('b');
      expect(await store.renewReplicaStatus({ replica: 'b', servedKey: 'k', reportedAt: 16_000, expiresAt: 26_000, refused: [sampleRefusal('b', 'y-2')] })).toBe(false);
      expect((await store.listReplicaStatus(15_000)).map((r) => r.replica)).toEqual(['a']);
    });

    it("forgets other replicas' long-expired leases on a renewal, as on a put", async () => {
      const store = await fresh();
      await store.putReplicaStatus(sampleReplica('dead', { reportedAt: 10_000, expiresAt: 20_000 }));
      await store.putReplicaStatus(sampleReplica('b', { reportedAt: 10_000, expiresAt: 30_000 }));
      const names = async () => (await store.listReplicaStatus(0)).map((r) => r.replica);
      // 'dead' ended 60 s before this renewal, not more: kept
      expect(await store.renewReplicaStatus({ replica: 'b', servedKey: 'k', reportedAt: 80_000, expiresAt: 90_000 })).toBe(true);
      expect(await names()).toEqual(['b', 'dead']);
      expect(await store.renewReplicaStatus({ replica: 'b', servedKey: 'k', reportedAt: 80_001, expiresAt: 90_001 })).toBe(true);
      expect(await names()).toEqual(['b']);
      // a renewal that finds nothing still forgets the others
      await store.putReplicaStatus(sampleReplica('dead2', { reportedAt: 80_001, expiresAt: 90_001 }));
      expect(await store.renewReplicaStatus({ replica: 'nobody', servedKey: 'k', reportedAt: 200_000, expiresAt: 210_000 })).toBe(false);
      expect(await names()).toEqual([]);
    });

    it('does not notify watchers of replica status (it is renewed every second)', async () => {
      const store = await fresh();
      const seen: StoreChange[] = [];
      const stop = store.watch((c) => seen.push(c));
      try {
        await store.putReplicaStatus(sampleReplica('a'));
        expect(await store.renewReplicaStatus({ replica: 'a', servedKey: 'k', reportedAt: 11_000, expiresAt: 21_000 })).toBe(true);
        await store.removeReplicaStatus('a');
        await store.addLoadSamples([sampleLoad('c', 1)]);
        await store.pruneLoadSamples(10);
        // changes are delivered in order: once this one is seen, any from the calls above would have been
        await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
        await eventually(() => expect(seen).toContainEqual({ kind: 'override', target: 'auth' }));
        expect(seen).toEqual([{ kind: 'override', target: 'auth' }]);
      } finally {
        stop();
      }
    });

    it('lists load samples in (from, to]: from exclusive, to inclusive, oldest first', async () => {
      const store = await fresh();
      await store.addLoadSamples([sampleLoad('c', 1000), sampleLoad('c', 2000, { latency: { bounds: [5, 10, 50], counts: [3, 4, 1] } }), sampleLoad('c', 3000)]);
      await store.addLoadSamples([sampleLoad('c', 1500, { replica: 'r2', source: 'metrics', node: 'envoy-2' })]);
      const ats = async (from: number, to: number) => (await store.listLoadSamples(['c'], from, to)).map((s) => s.at);
      expect(await ats(1000, 3000)).toEqual([1500, 2000, 3000]);
      expect(await ats(999, 2999)).toEqual([1000, 1500, 2000]);
      expect(await ats(2000, 2000)).toEqual([]);
      expect(await ats(1999, 2000)).toEqual([2000]);
      expect(await ats(3000, 9000)).toEqual([]);
      const [s] = await store.listLoadSamples(['c'], 1999, 2000);
      expect(s).toEqual(sampleLoad('c', 2000, { latency: { bounds: [5, 10, 50], counts: [3, 4, 1] } }));
      expect((await store.listLoadSamples(['c'], 1000, 1500))[0]).toEqual(sampleLoad('c', 1500, { replica: 'r2', source: 'metrics', node: 'envoy-2' }));
      // results are copies
      s.successes = -1;
      s.latency!.counts[0] = 99;
      expect((await store.listLoadSamples(['c'], 1999, 2000))[0]).toEqual(sampleLoad('c', 2000, { latency: { bounds: [5, 10, 50], counts: [3, 4, 1] } }));
      // an empty batch is fine
      await store.addLoadSamples([]);
      expect(await ats(0, 9000)).toEqual([1000, 1500, 2000, 3000]);
    });

    it('lists load samples of the clusters asked for only', async () => {
      const store = await fresh();
      const added = [sampleLoad('auth', 1000), sampleLoad('auth-v2', 1000), sampleLoad('orders', 1000), sampleLoad('auth-v2', 2000)];
      await store.addLoadSamples(added);
      added[1].successes = -1; // the store kept its own copy
      const of = async (clusters: string[]) => (await store.listLoadSamples(clusters, 0, 5000)).map((s) => `${s.cluster}@${s.at}:${s.successes}`).sort();
      expect(await of(['auth-v2'])).toEqual(['auth-v2@1000:90', 'auth-v2@2000:90']);
      expect(await of(['auth', 'orders'])).toEqual(['auth@1000:90', 'orders@1000:90']);
      expect(await of(['nope'])).toEqual([]);
      expect(await of([])).toEqual([]);
    });

    it('prunes load samples older than the retention bound, keeping those at it', async () => {
      const store = await fresh();
      await store.addLoadSamples([1000, 2000, 3000, 4000].flatMap((at) => [sampleLoad('a', at), sampleLoad('b', at)]));
      await store.pruneLoadSamples(3000);
      expect((await store.listLoadSamples(['a', 'b'], 0, 9000)).map((s) => `${s.cluster}@${s.at}`).sort()).toEqual(['a@3000', 'a@4000', 'b@3000', 'b@4000']);
      await store.pruneLoadSamples(0);
      expect(await store.listLoadSamples(['a', 'b'], 0, 9000)).toHaveLength(4);
      await store.pruneLoadSamples(9000);
      expect(await store.listLoadSamples(['a', 'b'], 0, 9000)).toEqual([]);
    });

    it('stores, replaces, lists and removes revocations, auditing and notifying each change', async () => {
      const store = await fresh();
      const seen: StoreChange[] = [];
      const stop = store.watch((c) => seen.push(c));
      const before = Date.now();
      const hour = before + 3_600_000;
      const a = await store.addRevocation({ kind: 'jti', value: 't-1', reason: 'leaked', actor: 'alice', expiresAt: hour });
      expect(a).toEqual({ kind: 'jti', value: 't-1', reason: 'leaked', actor: 'alice', createdAt: expect.any(Number), expiresAt: hour });
      expect(a.createdAt).toBeGreaterThanOrEqual(before);
      await store.addRevocation({ kind: 'sub', value: 'user-1', reason: 'offboarded', actor: 'bob', expiresAt: hour });
      // the same kind and value again replaces the entry: a later createdAt, the new reason
      const again = await store.addRevocation({ kind: 'sub', value: 'user-1', reason: 'again', actor: 'bob', expiresAt: hour + 1 });
      const listed = await store.listRevocations(Date.now());
      expect(listed.map((r) => `${r.kind}:${r.value}:${r.reason}`)).toEqual(['jti:t-1:leaked', 'sub:user-1:again']);
      expect(listed[1]).toEqual(again);
      listed[0].value = 'mutated';
      expect((await store.listRevocations(Date.now()))[0].value).toBe('t-1');
      // a jti and a sub with the same value are different entries
      await store.addRevocation({ kind: 'sid', value: 't-1', reason: '', actor: 'carol', expiresAt: hour });
      expect(await store.listRevocations(Date.now())).toHaveLength(3);
      expect(await store.removeRevocation('jti', 't-1', 'alice')).toBe(true);
      expect(await store.removeRevocation('jti', 't-1', 'alice')).toBe(false);
      expect((await store.listRevocations(Date.now())).map((r) => `${r.kind}:${r.value}`).sort()).toEqual(['sid:t-1', 'sub:user-1']);
      await eventually(() => {
        expect(seen.filter((c) => c.kind === 'revocation').map((c) => c.target)).toEqual(['jti:t-1', 'sub:user-1', 'sub:user-1', 'sid:t-1', 'jti:t-1']);
      });
      stop();
      const audit = await store.listAudit();
      expect(audit.filter((e) => e.action.startsWith('token.')).map((e) => `${e.action} ${e.target} ${e.actor}`).reverse()).toEqual([
        'token.revoke jti:t-1 alice',
        'token.revoke sub:user-1 bob',
        'token.revoke sub:user-1 bob',
        'token.revoke sid:t-1 carol',
        'token.unrevoke jti:t-1 alice',
      ]);
    });

    it('leaves expired revocations out of the list and prunes them', async () => {
      const store = await fresh();
      const now = Date.now();
      await store.addRevocation({ kind: 'jti', value: 'a-short', reason: '', actor: 'a', expiresAt: now + 1000 });
      await store.addRevocation({ kind: 'jti', value: 'b-long', reason: '', actor: 'a', expiresAt: now + 3_600_000 });
      expect((await store.listRevocations(now)).map((r) => r.value)).toEqual(['a-short', 'b-long']);
      // at its expiresAt an entry is expired (the bound is exclusive)
      expect((await store.listRevocations(now + 1000)).map((r) => r.value)).toEqual(['b-long']);
      expect(await store.pruneRevocations(now + 999)).toBe(0);
      expect(await store.pruneRevocations(now + 1000)).toBe(1);
      expect((await store.listRevocations(0)).map((r) => r.value)).toEqual(['b-long']);
      // a write prunes what has expired by then
      await store.pruneRevocations(0);
      await store.addRevocation({ kind: 'sid', value: 'gone', reason: '', actor: 'a', expiresAt: Date.now() - 1 });
      expect((await store.listRevocations(0)).map((r) => r.value)).toEqual(['b-long', 'gone']);
      await store.addRevocation({ kind: 'sid', value: 'next', reason: '', actor: 'a', expiresAt: now + 3_600_000 });
      expect((await store.listRevocations(0)).map((r) => r.value)).toEqual(['b-long', 'next']);
    });

    it('keeps revocations across a restart', async () => {
      let store = await fresh();
      const r = await store.addRevocation({ kind: 'sid', value: 's-9', reason: 'stolen laptop', actor: 'a', expiresAt: Date.now() + 60_000 });
      store = await h!.reopen();
      expect(await store.listRevocations(Date.now())).toEqual([r]);
    });

    it('keeps everything across a restart', async () => {
      let store = await fresh();
      await store.appendConfigVersion({ content: [{ file: 'a.yaml', text: 'x: 1\n' }], author: 'a', message: 'first' });
      await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: 'r', baseHash: 'h' });
      const r = await store.createRollout(sampleRollout('r1', 'auth'), { actor: 'a', action: 'rollout.start' });
      await store.updateRollout({ ...r, currentStep: 1, percent: 50 }, 1, { actor: 'a', action: 'rollout.step' });
      store = await h!.reopen();
      expect(await store.latestConfigVersion()).toMatchObject({ version: 1, content: [{ file: 'a.yaml', text: 'x: 1\n' }] });
      expect(await store.getOverride('auth')).toMatchObject({ reason: 'r', baseHash: 'h' });
      expect(await store.getRollout('r1')).toEqual({ ...r, currentStep: 1, percent: 50, revision: 2 });
      expect((await store.listAudit()).length).toBe(4);
      expect((await store.appendConfigVersion({ content: [], author: 'a', message: 'second' })).version).toBe(2);
    });

    it('stores the CA once: the first put wins, later puts get the stored one back, audited once', async () => {
      let store = await fresh();
      expect(await store.getCa()).toBeUndefined();
      const a = sampleCa('ca-a', 1_000);
      expect(await store.putCaIfAbsent(a)).toEqual(a);
      expect(await store.getCa()).toEqual(a);
      expect(await store.putCaIfAbsent(sampleCa('ca-b', 2_000))).toEqual(a);
      expect((await store.listAudit()).filter((e) => e.action === 'ca.create').map((e) => e.target)).toEqual(['ca']);
      // results are copies
      (await store.getCa())!.certPem = 'mutated';
      expect(await store.getCa()).toEqual(a);
      store = await h!.reopen();
      expect(await store.getCa()).toEqual(a);
      expect(await store.putCaIfAbsent(sampleCa('ca-c'))).toEqual(a);
    });

    it('of concurrent CA puts exactly one is stored, and every caller gets that one', async () => {
      const store = await fresh();
      const offered = ['ca-1', 'ca-2', 'ca-3', 'ca-4'].map((t) => sampleCa(t));
      const results = await Promise.all(offered.map((ca) => store.putCaIfAbsent(ca)));
      const stored = await store.getCa();
      expect(offered).toContainEqual(stored);
      expect(results).toEqual(offered.map(() => stored));
      expect((await store.listAudit()).filter((e) => e.action === 'ca.create')).toHaveLength(1);
    });

    it('refuses a CA whose key is not encrypted, and stores nothing', async () => {
      const store = await fresh();
      const plain = { ...sampleCa('plain'), keyPem: '-----BEGIN PRIVATE KEY-----\nplain\n-----END PRIVATE KEY-----\n' };
      const err = await store.putCaIfAbsent(plain).catch((e) => e);
      expect(err).toBeInstanceOf(BanyanError);
      expect(err.code).toBe('bad-input');
      expect(err.message).toContain('not encrypted');
      expect(await store.getCa()).toBeUndefined();
      expect(await store.listAudit()).toEqual([]);
    });
  });
}
