import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { basicGroup, cluster, endpoints, snapshot } from './fixtures.js';
import { CDS, EDS, SotwClient, startHarness, type Harness, type Resp } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** The response minus its trailing nonce field (tag byte, length byte, nonce). */
const shared = (r: Resp) => r.raw.subarray(0, r.raw.length - 2 - Buffer.byteLength(r.nonce));

async function encodedTotal(): Promise<number> {
  const m = await h.registry.getSingleMetric('banyan_xds_resources_encoded_total')!.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

describe('encode once', () => {
  it('sends every stream the same bytes but its own nonce', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const one = SotwClient.ads(h.address, { id: 'enc-1' });
    const two = SotwClient.ads(h.address, { id: 'enc-2' });
    try {
      two.request(EDS, ['b']); // a different first request, so the two streams' CDS nonces differ
      const eds = await two.next(EDS);
      one.request(CDS);
      two.request(CDS);
      const a = await one.next(CDS);
      const b = await two.next(CDS);
      expect(a.nonce).not.toBe(b.nonce);
      expect(a.raw.equals(b.raw)).toBe(false);
      expect(Buffer.compare(shared(a), shared(b))).toBe(0);
      expect(eds.names).toEqual(['b']);
    } finally {
      one.close();
      two.close();
    }
  });

  it('encodes exactly the resources whose content changed, and shares unchanged encodings', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup(), canary: basicGroup() }));
    const unchanged = h.cache.get('default', TypeUrl.Cluster).resources.get('b');
    const metricBefore = await encodedTotal();
    const change = h.cache.setSnapshot(
      snapshot({
        default: basicGroup({ clusters: [cluster('a', 5), cluster('b')], endpoints: [endpoints('a', '10.0.0.1:8080'), endpoints('b', '10.9.9.9:80')] }),
        canary: basicGroup(),
      }),
    );
    expect(change.encoded).toBe(2); // cluster a and endpoints b; everything else reused
    expect(await encodedTotal()).toBe(metricBefore + 2);
    expect(h.cache.get('default', TypeUrl.Cluster).resources.get('b')).toBe(unchanged);
    // The same content in two groups is one encoding.
    expect(h.cache.get('canary', TypeUrl.Cluster).resources.get('b')).toBe(h.cache.get('default', TypeUrl.Cluster).resources.get('b'));
    expect([...change.changed.keys()]).toEqual(['default']);
    expect([...change.changed.get('default')!].sort()).toEqual([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment].sort());
  });

  it('rejects a snapshot with an unencodable resource whole, naming it, and keeps the previous one', async () => {
    h.cache.setSnapshot(snapshot({ default: basicGroup() }));
    const generation = h.cache.generation;
    const version = h.cache.get('default', TypeUrl.Cluster).version;
    const bad = basicGroup({ clusters: [{ ...cluster('a'), not_a_field: 1 }, cluster('b', 3)] });
    expect(() => h.cache.setSnapshot(snapshot({ default: bad }))).toThrow(/Cluster "a" \(group "default"\).*not_a_field/);
    expect(h.cache.generation).toBe(generation);
    expect(h.cache.get('default', TypeUrl.Cluster).version).toBe(version);
  });
});
