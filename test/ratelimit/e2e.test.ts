import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, decodeMessage } from '../../src/proto/envoy.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { createRateLimitServer, type RateLimitServer } from '../../src/ratelimit/server.js';
import { req, rlsClient } from './helpers.js';

// Envoy's side of the wire: rls.proto RateLimitRequest/RateLimitResponse through grpc-js.
describe('ShouldRateLimit end to end over gRPC (memory backend)', () => {
  let server: RateLimitServer;
  let client: ReturnType<typeof rlsClient>;

  beforeAll(async () => {
    const { domains } = parseRateLimitYaml(
      `domain: edge
descriptors:
  - key: remote_address
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: plan
    value: free
    descriptors:
      - key: user
        rate_limit: { unit: week, requests_per_unit: 5 }
`,
      'edge.yaml',
    );
    server = createRateLimitServer({ domains, responseHeaders: true });
    client = rlsClient(await server.start(0, '127.0.0.1'));
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('answers OK, then OVER_LIMIT with statuses and RateLimit headers', async () => {
    const r = req('edge', [['remote_address', '10.0.0.1']]);
    const first = await client.call(r);
    expect(first).toMatchObject({
      overall_code: 'OK',
      statuses: [{ code: 'OK', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, limit_remaining: 1 }],
      response_headers_to_add: [
        { key: 'RateLimit-Limit', value: '2' },
        { key: 'RateLimit-Remaining', value: '1' },
        { key: 'RateLimit-Reset', value: expect.stringMatching(/^\d+$/) },
        { key: 'RateLimit-Policy', value: '2;w=60' },
      ],
    });
    await client.call(r);
    const third = await client.call(r);
    expect(third.overall_code).toBe('OVER_LIMIT');
    expect(third.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', duration_until_reset: { seconds: expect.any(Number) } });
  });

  it('nested descriptors, WEEK units and per-descriptor hits_addend cross the wire', async () => {
    const r = { domain: 'edge', descriptors: [{ entries: [{ key: 'plan', value: 'free' }, { key: 'user', value: 'u1' }], hits_addend: { value: 3 } }] };
    // The field really is on the wire (field 3 of RateLimitDescriptor), as newer Envoys send it.
    const bytes = encodeMessage('envoy.service.ratelimit.v3.RateLimitRequest', r);
    expect(decodeMessage('envoy.service.ratelimit.v3.RateLimitRequest', bytes)).toMatchObject({ descriptors: [{ hits_addend: { value: 3 } }] });
    const res = await client.call(r);
    expect(res.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 5, unit: 'WEEK' }, limit_remaining: 2 });
  });

  it('an empty descriptor list is a gRPC error, as the reference', async () => {
    await expect(client.call({ domain: 'edge', descriptors: [] })).rejects.toMatchObject({ code: 2, details: 'rate limit descriptor list must not be empty' });
  });
});
