import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiListener, basicGroup, cluster, endpoints, listener, routes, snapshot } from './fixtures.js';
import { CDS, EDS, LDS, namesOf, RDS, SotwClient, startHarness, type Harness } from './harness.js';
import { eventually } from '../support/eventually.js';

let h: Harness;
const clients: SotwClient[] = [];
function ads(id: string, cluster = 'default'): SotwClient {
  const c = SotwClient.ads(h.address, { id, cluster });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await h?.stop();
});

describe('state of the world over ADS', () => {
  it('pushes CDS → EDS → LDS → RDS when a snapshot changes all four types', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('order');
    c.request(RDS, ['edge-routes']);
    c.request(LDS);
    c.request(EDS, ['a', 'b']);
    c.request(CDS);
    for (let i = 0; i < 4; i++) {
      const r = await c.next();
      c.ack(r, r.type_url === RDS ? ['edge-routes'] : r.type_url === EDS ? ['a', 'b'] : []);
    }
    expect(await c.barrier()).toEqual([]);

    h.cache.setSnapshot(
      snapshot({
        default: basicGroup({
          clusters: [cluster('a', 2), cluster('b')],
          endpoints: [endpoints('a', '10.0.0.9:8080'), endpoints('b', '10.0.0.2:8080')],
          listeners: [listener('edge', 'edge-routes', 10001)],
          routes: [routes('edge-routes', ['b', 'a'])],
        }),
      }),
    );
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await c.next()).type_url);
    expect(order).toEqual([CDS, EDS, LDS, RDS]);
  });

  it('does not answer an ACK', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('ack');
    c.request(CDS);
    const r = await c.next(CDS);
    expect(namesOf(r)).toEqual(['a', 'b']);
    c.ack(r);
    c.ack(r); // a duplicate ACK is no more answerable than the first
    expect(await c.barrier()).toEqual([]);
  });

  it('never re-sends a NACKed version, records it, and sends the next different version', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('nack');
    c.request(CDS);
    const good = await c.next(CDS);
    c.ack(good);
    expect(await c.barrier()).toEqual([]); // the ACK is in before the next snapshot makes its nonce stale

    h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 7), cluster('b')] }) }));
    const bad = await c.next(CDS);
    expect(bad.version_info).not.toBe(good.version_info);
    c.nack(bad, 'cluster a: bad timeout', good.version_info);
    expect(await c.barrier()).toEqual([]);

    const st = h.xds.status().find((s) => s.nodeId === 'nack')!.types.find((t) => t.typeUrl === CDS)!;
    expect(st.state).toBe('NACKED');
    expect(st.lastNack).toMatchObject({ version: bad.version_info, message: 'cluster a: bad timeout', nonce: bad.nonce });
    expect(st.versionAcked).toBe(good.version_info);

    // An unrelated change elsewhere, then the very same bad content again: still not re-sent.
    h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 7), cluster('b')], listeners: [listener('edge', 'edge-routes', 10002)] }) }));
    expect(await c.barrier()).toEqual([]);

    h.cache.setSnapshot(snapshot({ default: basicGroup({ clusters: [cluster('a', 3), cluster('b')] }) }));
    const fixed = await c.next(CDS);
    expect(fixed.version_info).not.toBe(bad.version_info);
    c.ack(fixed);
    expect(await c.barrier()).toEqual([]);
  });

  it('ignores a request carrying a stale nonce, and answers its subscription change with the next current one', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('stale');
    c.request(CDS);
    const first = await c.next(CDS);
    // A newer snapshot waits for the answer to `first` (coalescing); a subscription change does not,
    // so two responses are unanswered and `first`'s nonce goes stale.
    c.request(CDS, ['a', 'b']);
    const second = await c.next(CDS);
    expect(second.nonce).not.toBe(first.nonce);

    c.ack(first, ['a']); // ACKs the older response and narrows the subscription: stale, so no answer
    expect(await c.barrier()).toEqual([]);

    c.ack(second, ['a']); // the current nonce, with the narrowed subscription: answered
    const third = await c.next(CDS);
    expect(namesOf(third)).toEqual(['a']);
  });

  it('delivers RDS and EDS names requested before they exist once they appear', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('early');
    c.request(EDS, ['a', 'c']);
    c.request(RDS, ['edge-routes', 'later-routes']);
    const eds = await c.next(EDS);
    const rds = await c.next(RDS);
    expect(namesOf(eds)).toEqual(['a']);
    expect(namesOf(rds)).toEqual(['edge-routes']);
    c.ack(eds, ['a', 'c']);
    c.ack(rds, ['edge-routes', 'later-routes']);
    expect(await c.barrier()).toEqual([]);

    h.cache.setSnapshot(
      snapshot({
        default: basicGroup({
          clusters: [cluster('a'), cluster('b'), cluster('c')],
          endpoints: [endpoints('a', '10.0.0.1:8080'), endpoints('b', '10.0.0.2:8080'), endpoints('c', '10.0.0.3:8080')],
          routes: [routes('edge-routes', ['a', 'b']), routes('later-routes', ['c'])],
        }),
      }),
    );
    // RDS and EDS are not full-state: only what the client lacks is sent.
    expect(namesOf(await c.next(EDS))).toEqual(['c']);
    expect(namesOf(await c.next(RDS))).toEqual(['later-routes']);
  });

  it('sends RDS/EDS updates relative to what the proxy ACKed, and everything after a NACK', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('partial');
    c.request(EDS, ['a', 'b']);
    const all = await c.next(EDS);
    expect(namesOf(all)).toEqual(['a', 'b']);
    c.ack(all, ['a', 'b']);
    expect(await c.barrier()).toEqual([]);

    h.cache.setSnapshot(snapshot({ default: basicGroup({ endpoints: [endpoints('a', '10.0.0.1:8080'), endpoints('b', '10.0.0.7:80')] }) }));
    const onlyB = await c.next(EDS);
    expect(namesOf(onlyB)).toEqual(['b']);
    c.nack(onlyB, 'bad endpoints for b', all.version_info, ['a', 'b']);
    expect(await c.barrier()).toEqual([]);

    // a changes next; the proxy still runs the first version of b, so the update relative to what it
    // ACKed carries both.
    h.cache.setSnapshot(snapshot({ default: basicGroup({ endpoints: [endpoints('a', '10.0.0.5:8080'), endpoints('b', '10.0.0.7:80')] }) }));
    expect(namesOf(await c.next(EDS))).toEqual(['a', 'b']);
  });

  it('sends the full state on wildcard CDS/LDS and keeps api listeners out of wildcard LDS', async () => {
    h.cache.setSnapshot(
      snapshot({ default: basicGroup({ listeners: [listener('edge', 'edge-routes', 10000), apiListener('orders', 'edge-routes')] }) }, ['orders']),
    );
    const c = ads('wild');
    c.request(CDS, ['*']);
    c.request(LDS);
    const cds = await c.next(CDS);
    const lds = await c.next(LDS);
    expect(namesOf(cds)).toEqual(['a', 'b']);
    expect(namesOf(lds)).toEqual(['edge']);
    c.ack(cds, ['*']);
    c.ack(lds);

    h.cache.setSnapshot(
      snapshot(
        { default: basicGroup({ clusters: [cluster('a'), cluster('b', 9)], listeners: [listener('edge', 'edge-routes', 10000), apiListener('orders', 'edge-routes')] }) },
        ['orders'],
      ),
    );
    const changed = await c.next(CDS);
    expect(namesOf(changed)).toEqual(['a', 'b']); // the unchanged cluster too: state of the world

    const grpcClient = ads('proxyless');
    grpcClient.request(LDS, ['orders']);
    expect(namesOf(await grpcClient.next(LDS))).toEqual(['orders']);
  });

  it('answers CDS subscriptions by name added one at a time, even when the version is unchanged', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('by-name');
    c.request(CDS, ['a']);
    const one = await c.next(CDS);
    expect(namesOf(one)).toEqual(['a']);
    c.ack(one, ['a', 'b']);
    const two = await c.next(CDS);
    expect(namesOf(two)).toEqual(['a', 'b']);
    c.ack(two, ['a', 'b', 'not-yet']);
    const three = await c.next(CDS);
    expect(namesOf(three)).toEqual(['a', 'b']);
    expect(three.version_info).toBe(two.version_info);
    c.ack(three, ['a', 'b', 'not-yet']);
    expect(await c.barrier()).toEqual([]);
  });

  it('pushes nothing when an equal snapshot is set again, and encodes nothing', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('same');
    c.request(CDS);
    c.request(LDS);
    const cds = await c.next(CDS);
    const lds = await c.next(LDS);
    c.ack(cds);
    c.ack(lds);
    const encodes = h.cache.encodeCount;
    const change = h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    expect(change.changed.size).toBe(0);
    expect(h.cache.encodeCount).toBe(encodes);
    expect(await c.barrier()).toEqual([]);
  });

  it('produces the same versions after a restart with the same snapshot', async () => {
    const before = h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    expect(before).toBeDefined();
    const c = ads('restart-1');
    c.request(CDS);
    const v1 = (await c.next(CDS)).version_info;

    const other = await startHarness();
    const c2 = SotwClient.ads(other.address, { id: 'restart-2' });
    try {
      other.cache.setSnapshot(snapshot({ default: basicGroup() }));
      c2.request(CDS);
      expect((await c2.next(CDS)).version_info).toBe(v1);
    } finally {
      c2.close();
      await other.stop();
    }
  });

  it('answers unknown type URLs with no resources', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const c = ads('unknown');
    c.request('type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig', ['x']);
    const r = await c.next();
    expect(r.type_url).toBe('type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig');
    expect(r.resources).toEqual([]);
  });

  it('serves each proxy the group its node selects', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup(), canary: basicGroup({ clusters: [cluster('canary-only')] }) }));
    const plain = ads('plain', 'default');
    const canary = ads('canary-1', 'canary');
    plain.request(CDS);
    canary.request(CDS);
    expect(namesOf(await plain.next(CDS))).toEqual(['a', 'b']);
    expect(namesOf(await canary.next(CDS))).toEqual(['canary-only']);
    expect(h.xds.status().find((s) => s.nodeId === 'canary-1')?.group).toBe('canary');
  });
});

describe('a proxy connected before the first snapshot', () => {
  it('gets CDS → EDS → LDS → RDS once the snapshot arrives, whatever order it asked in', async () => {
    const fresh = await startHarness();
    const c = SotwClient.ads(fresh.address, { id: 'early-bird' });
    try {
      c.request(RDS, ['edge-routes']);
      c.request(LDS);
      c.request(EDS, ['a', 'b']);
      c.request(CDS);
      await eventually(() => expect(fresh.xds.status()[0]?.types.length).toBe(4));
      expect(c.received).toEqual([]);
      expect(fresh.xds.status()[0].group).toBeUndefined();

      fresh.cache.setSnapshot(snapshot({ default: basicGroup() }));
      const order = [];
      for (let i = 0; i < 4; i++) order.push((await c.next()).type_url);
      expect(order).toEqual([CDS, EDS, LDS, RDS]);
    } finally {
      c.close();
      await fresh.stop();
    }
  });
});
