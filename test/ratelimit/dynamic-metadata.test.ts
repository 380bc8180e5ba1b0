import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos, messageType } from '../../src/proto/envoy.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { createRateLimitServer, type RateLimitServer } from '../../src/ratelimit/server.js';
import type { RlsRequest } from '../../src/ratelimit/types.js';
import { decodeRlsDynamicMetadata } from '../xds/independent-struct.js';

/** ShouldRateLimit whose response is handed over as the bytes on the wire, for an independent decoder. */
function rawRlsClient(port: number): { call(r: RlsRequest): Promise<Buffer>; close(): void } {
  loadEnvoyProtos();
  const reqT = messageType('envoy.service.ratelimit.v3.RateLimitRequest');
  const Ctor = grpc.makeGenericClientConstructor(
    {
      ShouldRateLimit: {
        path: '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit',
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: RlsRequest) => Buffer.from(reqT.encode(reqT.fromObject(r)).finish()),
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'RateLimitService',
  );
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ShouldRateLimit(r: RlsRequest, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Buffer) => void): void;
  };
  return {
    call: (r) => new Promise((resolve, reject) => client.ShouldRateLimit(r, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res)))),
    close: () => client.close(),
  };
}

// envoyproxy/ratelimit reports quota mode in RateLimitResponse.dynamic_metadata; Envoy's ratelimit
// filter copies it into the request's dynamic metadata. A Value without its kind set reads as nothing.
describe('RateLimitResponse.dynamic_metadata on the wire', () => {
  let server: RateLimitServer;
  let client: ReturnType<typeof rawRlsClient>;

  beforeAll(async () => {
    const { domains } = parseRateLimitYaml(
      `domain: q
descriptors:
  - key: k
    quota_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: route
    quota_mode: true
    metadata: { backend: { name: primary, weight: 2.5, tags: [a, b], on: true, none: null } }
    rate_limit: { unit: minute, requests_per_unit: 100 }
`,
      'q.yaml',
    );
    server = createRateLimitServer({ domains });
    client = rawRlsClient(await server.start(0, '127.0.0.1'));
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('quota mode values decode with their kinds set, read by a decoder independent of Banyan', async () => {
    const r: RlsRequest = { domain: 'q', descriptors: [{ entries: [{ key: 'x', value: 'y' }] }, { entries: [{ key: 'k', value: 'v' }] }] };
    const descriptors = [{ entries: ['x=y'] }, { entries: ['k=v'] }];
    expect(decodeRlsDynamicMetadata(await client.call(r))).toEqual({ domain: 'q', descriptors, quotaModeEnabled: true, quotaModeViolations: [] });
    expect(decodeRlsDynamicMetadata(await client.call(r))).toEqual({ domain: 'q', descriptors, quotaModeEnabled: true, quotaModeViolations: [1] });
  });

  it("a passed descriptor's metadata (nested map, number, list, bool, null) and hits_addend go out with real values", async () => {
    // service/ratelimit_test.go TestMetadataReturnedForPassedDescriptors: the metadata of descriptors under their limit.
    const r: RlsRequest = { domain: 'q', hits_addend: 2, descriptors: [{ entries: [{ key: 'route', value: 'r1' }] }, { entries: [{ key: 'k', value: 'w' }], hits_addend: { value: 1 } }] };
    expect(decodeRlsDynamicMetadata(await client.call(r))).toEqual({
      domain: 'q',
      hitsAddend: 2,
      descriptors: [{ entries: ['route=r1'] }, { entries: ['k=w'], hitsAddend: 1 }],
      metadata: { backend: { name: 'primary', weight: 2.5, tags: ['a', 'b'], on: true, none: null } },
      quotaModeEnabled: true,
      quotaModeViolations: [],
    });
  });
});
