import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, messageType } from '../../src/proto/envoy.js';
import { plainToStruct, structToPlain } from '../../src/proto/struct.js';
import { nodeInfo, type RawNode } from '../../src/xds/node.js';
import { decodeStructBytes, encodeStructBytes } from './independent-struct.js';

const SAMPLE = {
  kind: 'edge',
  replicas: 3,
  canary: false,
  nothing: null,
  labels: { zone: 'eu-1', tier: ['gold', 1, true] },
};

// Both directions are checked against a codec that never sees protobufjs's bundled struct.proto.
describe('Struct/Value conversion (src/proto/struct.ts) on the wire', () => {
  it('what Banyan encodes, an independent decoder reads with every value set', () => {
    const bytes = encodeMessage('google.protobuf.Struct', plainToStruct(SAMPLE));
    expect(decodeStructBytes(bytes)).toEqual(SAMPLE);
  });

  it('what an independent encoder sends, Banyan reads back as plain JSON', () => {
    const decoded = decodeMessage('google.protobuf.Struct', encodeStructBytes(SAMPLE));
    expect(structToPlain(decoded)).toEqual(SAMPLE);
  });

  it('node metadata of a decoded DiscoveryRequest reaches groupOf() as values, not nulls', () => {
    const request = encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', { type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
    // The node as another implementation writes it: DiscoveryRequest.node (field 2) holding Node's
    // id (1), cluster (2) and metadata (3), the Struct encoded from Google's own struct.proto.
    const node = messageType('envoy.config.core.v3.Node');
    expect([node.fields.id.id, node.fields.cluster.id, node.fields.metadata.id]).toEqual([1, 2, 3]);
    expect(messageType('envoy.service.discovery.v3.DiscoveryRequest').fields.node.id).toBe(2);
    const nodeBytes = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .string('n1')
      .uint32((2 << 3) | 2)
      .string('c1')
      .uint32((3 << 3) | 2)
      .bytes(encodeStructBytes({ kind: 'edge', shard: 7 }))
      .finish();
    const nodeField = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(nodeBytes).finish();
    const decoded = decodeMessage<{ node: RawNode }>('envoy.service.discovery.v3.DiscoveryRequest', Buffer.concat([request, nodeField]));
    expect(nodeInfo(decoded.node)).toEqual({ id: 'n1', cluster: 'c1', metadata: { kind: 'edge', shard: 7 }, userAgentName: '' });
  });
});
