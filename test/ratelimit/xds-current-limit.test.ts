/**
 * current_limit and the RateLimit-* headers carry the true window (issue 12, item 3). Envoy's
 * current_limit names a unit, so a 5m window is reported as what really passes in the smallest unit
 * that holds whole windows (3 per 5m → 36/HOUR), never as 3/MINUTE (five times what is allowed);
 * RateLimit-Policy carries the limit and the window in seconds, as the IETF ratelimit-headers draft's
 * quota policy (`3;w=300`) and Envoy's DRAFT_VERSION_03 `X-RateLimit-Limit: 3, 3;w=300` write it.
 */
import { describe, expect, it } from 'vitest';
import type { RateLimitPolicy } from '../../src/config/model.js';
import { currentLimitOf, policyHeaderValue } from '../../src/ratelimit/current-limit.js';
import { limiterFor, req } from './helpers.js';

const policy = (p: Partial<RateLimitPolicy>): RateLimitPolicy => ({ unit: 'minute', requestsPerUnit: 3, unlimited: false, replaces: [], algorithm: 'fixed', ...p });

describe('current_limit is never more permissive than the policy', () => {
  it('a unit window is itself; 3 per 5m is 36/HOUR; a window that divides no unit is its limit per the next unit', () => {
    expect(currentLimitOf(policy({ unit: 'second', requestsPerUnit: 10 }))).toEqual({ requests_per_unit: 10, unit: 'SECOND' });
    expect(currentLimitOf(policy({ windowSeconds: 300 }))).toEqual({ requests_per_unit: 36, unit: 'HOUR' });
    expect(currentLimitOf(policy({ unit: 'second', windowSeconds: 7, requestsPerUnit: 4 }))).toEqual({ requests_per_unit: 345_600, unit: 'WEEK' });
    expect(currentLimitOf(policy({ unit: 'second', windowSeconds: 11, requestsPerUnit: 4 }))).toEqual({ requests_per_unit: 4, unit: 'MINUTE' });
    expect(currentLimitOf(policy({ windowSeconds: 300, algorithm: 'sliding' }))).toEqual({ requests_per_unit: 3, unit: 'HOUR' });
  });
  it('RateLimit-Policy: the limit and its window in seconds', () => {
    expect(policyHeaderValue(policy({ windowSeconds: 300 }))).toBe('3;w=300');
    expect(policyHeaderValue(policy({ unit: 'hour', requestsPerUnit: 100 }))).toBe('100;w=3600');
  });
});

describe("the service's response for a 5m window", () => {
  it('current_limit 36/HOUR (not 3/MINUTE), RateLimit-Limit 3 and RateLimit-Policy 3;w=300', async () => {
    const { rl } = limiterFor(`domain: w
descriptors:
  - key: k
    rate_limit: { window: 5m, requests_per_unit: 3 }
`, { responseHeaders: true });
    const res = await rl.shouldRateLimit(req('w', [['k', 'v']]));
    expect(res.statuses[0].current_limit).toEqual({ requests_per_unit: 36, unit: 'HOUR' });
    expect(res.statuses[0].limit_remaining).toBe(2);
    expect(res.response_headers_to_add).toEqual(
      expect.arrayContaining([
        { key: 'RateLimit-Limit', value: '3' },
        { key: 'RateLimit-Remaining', value: '2' },
        { key: 'RateLimit-Policy', value: '3;w=300' },
      ]),
    );
  });
});
