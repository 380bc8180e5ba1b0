import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { DeltaResponse, encodeAnyBytes, encodeDeltaResource, encodeSotwBody, SotwResponse } from '../../src/xds/wire.js';

const cluster = (name: string) => encodeAnyBytes(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, { name, connect_timeout: { seconds: 1 } }));

describe('lazily assembled responses', () => {
  it('SotW: shared body + nonce decode as one DiscoveryResponse, and size is the encoded length', () => {
    // A body over 127 bytes and a long nonce exercise multi-byte length varints.
    const anys = Array.from({ length: 20 }, (_, i) => cluster(`cluster-${i}`));
    const body = encodeSotwBody('v1', TypeUrl.Cluster, anys);
    const r = new SotwResponse(body, 'n'.repeat(200));
    const bytes = r.encode();
    expect(bytes.length).toBe(r.size);
    const msg = decodeMessage<{ version_info: string; type_url: string; nonce: string; resources: unknown[] }>('envoy.service.discovery.v3.DiscoveryResponse', bytes);
    expect(msg).toMatchObject({ version_info: 'v1', type_url: TypeUrl.Cluster, nonce: 'n'.repeat(200) });
    expect(msg.resources).toHaveLength(20);
  });

  it('delta: resources, removals and nonce decode as one DeltaDiscoveryResponse, and size is the encoded length', () => {
    const resources = Array.from({ length: 30 }, (_, i) => encodeDeltaResource(`cluster-${i}`, `v${i}`, cluster(`cluster-${i}`)));
    const removed = ['gone-1', 'g'.repeat(300)];
    const r = new DeltaResponse('sys', TypeUrl.Cluster, resources, removed, '7');
    const bytes = r.encode();
    expect(bytes.length).toBe(r.size);
    const msg = decodeMessage<{ system_version_info: string; nonce: string; resources: { name: string }[]; removed_resources: string[] }>(
      'envoy.service.discovery.v3.DeltaDiscoveryResponse',
      bytes,
    );
    expect(msg.system_version_info).toBe('sys');
    expect(msg.nonce).toBe('7');
    expect(msg.resources.map((x) => x.name)).toEqual(resources.map((_, i) => `cluster-${i}`));
    expect(msg.removed_resources).toEqual(removed);
  });
});
