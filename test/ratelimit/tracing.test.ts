/** What a decision span records before deciding: keys and counts, never a descriptor value. */
import { describe, expect, it } from 'vitest';
import { requestAttributes, SHOULD_RATE_LIMIT_SPAN } from '../../src/ratelimit/tracing.js';

describe('rate limit span attributes', () => {
  it("each descriptor's keys in order, dot-joined, and no value anywhere", () => {
    const a = requestAttributes(
      {
        domain: 'edge',
        descriptors: [{ entries: [{ key: 'remote_address', value: '203.0.113.7' }, { key: 'path', value: '/login' }] }, { entries: [{ key: 'user', value: 'u-42' }] }, {}],
      },
      'redis',
    );
    expect(a).toMatchObject({ 'banyan.ratelimit.domain': 'edge', 'banyan.ratelimit.descriptors': 3, 'banyan.ratelimit.descriptor_keys': ['remote_address.path', 'user', ''], 'banyan.ratelimit.backend': 'redis' });
    const text = JSON.stringify(a);
    for (const value of ['203.0.113.7', '/login', 'u-42']) expect(text).not.toContain(value);
  });

  it('hits_addend only when it is more than the default 1 (0 and absent mean 1)', () => {
    const of = (hits_addend?: number) => requestAttributes({ domain: 'd', descriptors: [], ...(hits_addend === undefined ? {} : { hits_addend }) }, 'memory')['banyan.ratelimit.hits_addend'];
    expect([of(), of(0), of(1), of(5)]).toEqual([undefined, undefined, undefined, 5]);
  });

  it("is named as the authz service's span: the gRPC full method name", () => {
    expect(SHOULD_RATE_LIMIT_SPAN).toBe('envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit');
  });
});
