import { describe, expect, it } from 'vitest';
import { structToPlain } from '../../src/proto/struct.js';
import { codes, limiterFor, metricValue, req } from './helpers.js';

// Each case: a config, a request, and the decision envoyproxy/ratelimit gives for it
// (src/config/config_impl.go GetLimit, src/limiter/base_limiter.go, src/service/ratelimit.go).

const BASIC = `domain: test-domain
descriptors:
  - key: key1
    value: value1
    descriptors:
      - key: subkey1
        rate_limit: { unit: second, requests_per_unit: 2 }
      - key: subkey1
        value: subvalue1
        rate_limit: { unit: second, requests_per_unit: 3 }
  - key: key2
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: key2
    value: value2
    rate_limit: { unit: minute, requests_per_unit: 4 }
  - key: key2
    value: value3
  - key: blocked
    rate_limit: { unit: hour, requests_per_unit: 0 }
`;

describe('decisions match envoyproxy/ratelimit', () => {
  it('nested override: the exact value beats the value-less key at the same level', async () => {
    const { rl } = limiterFor(BASIC);
    expect(await codes(rl, req('test-domain', [['key1', 'value1'], ['subkey1', 'subvalue1']]), 4)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(await codes(rl, req('test-domain', [['key1', 'value1'], ['subkey1', 'other']]), 3)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
  });

  it('value-less key is the default for any value and each value counts separately', async () => {
    const { rl } = limiterFor(BASIC);
    expect(await codes(rl, req('test-domain', [['key2', 'a']]), 3)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    expect(await codes(rl, req('test-domain', [['key2', 'b']]), 1)).toEqual(['OK']);
    const res = await rl.shouldRateLimit(req('test-domain', [['key2', 'value2']]));
    expect(res.statuses[0]).toEqual({ code: 'OK', current_limit: { requests_per_unit: 4, unit: 'MINUTE' }, limit_remaining: 3, duration_until_reset: { seconds: 60 - ((1_700_000_000 % 60)) } });
  });

  it('a matched descriptor without limit and children allow-lists', async () => {
    const { rl } = limiterFor(BASIC);
    const res = await rl.shouldRateLimit(req('test-domain', [['key2', 'value3']]));
    expect(res).toEqual({ overall_code: 'OK', statuses: [{ code: 'OK' }] });
    expect(await codes(rl, req('test-domain', [['key2', 'value3']]), 5)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
  });

  it('depth must match: no limit for a shorter or longer request descriptor', async () => {
    const { rl } = limiterFor(BASIC);
    expect((await rl.shouldRateLimit(req('test-domain', [['key1', 'value1']]))).statuses[0]).toEqual({ code: 'OK' });
    expect((await rl.shouldRateLimit(req('test-domain', [['key2', 'value2'], ['extra', 'x']]))).statuses[0]).toEqual({ code: 'OK' });
  });

  it('requests_per_unit 0 blocks everything', async () => {
    const { rl } = limiterFor(BASIC);
    const res = await rl.shouldRateLimit(req('test-domain', [['blocked', 'x']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', limit_remaining: 0, current_limit: { requests_per_unit: 0, unit: 'HOUR' } });
  });

  it('unmatched descriptors and unknown domains are OK; overall is OVER_LIMIT if any descriptor is', async () => {
    const { rl } = limiterFor(BASIC);
    expect(await rl.shouldRateLimit(req('nope', [['key2', 'a']]))).toEqual({ overall_code: 'OK', statuses: [{ code: 'OK' }] });
    const res = await rl.shouldRateLimit(req('test-domain', [['unknown', 'x']], [['blocked', 'y']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('errors for an empty domain or an empty descriptor list', async () => {
    const { rl } = limiterFor(BASIC);
    await expect(rl.shouldRateLimit({ domain: '', descriptors: [{ entries: [{ key: 'a', value: 'b' }] }] })).rejects.toThrow('rate limit domain must not be empty');
    await expect(rl.shouldRateLimit({ domain: 'test-domain', descriptors: [] })).rejects.toThrow('rate limit descriptor list must not be empty');
  });

  it('epoch-aligned fixed windows: the count resets at the window boundary, not 1s after the first hit', async () => {
    const { rl, clock } = limiterFor(BASIC, { at: 1_700_000_000_900 });
    const r = req('test-domain', [['key1', 'value1'], ['subkey1', 'x']]);
    expect(await codes(rl, r, 3)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    clock.now = 1_700_000_001_000;
    expect(await codes(rl, r, 1)).toEqual(['OK']);
  });

  it('wildcards: foo*, bar*b, foo*bar*baz, in declaration order before the bare key', async () => {
    const { rl } = limiterFor(`domain: w
descriptors:
  - key: path
    value: foo*bar*baz
    rate_limit: { unit: second, requests_per_unit: 3 }
  - key: path
    value: foo*
    rate_limit: { unit: second, requests_per_unit: 1 }
  - key: path
    value: bar*b
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: path
    rate_limit: { unit: second, requests_per_unit: 5 }
`);
    const limitOf = async (v: string) => (await rl.shouldRateLimit(req('w', [['path', v]]))).statuses[0].current_limit?.requests_per_unit;
    expect(await limitOf('foo1barXbaz')).toBe(3);
    expect(await limitOf('foobarbaz')).toBe(3);
    expect(await limitOf('foo-anything')).toBe(1);
    expect(await limitOf('foo')).toBe(1);
    expect(await limitOf('barb')).toBe(2);
    expect(await limitOf('bar-x-b')).toBe(2);
    expect(await limitOf('bar-x-c')).toBe(5);
    expect(await limitOf('other')).toBe(5);
  });

  it('an exact value wins over a wildcard declared before it', async () => {
    const { rl } = limiterFor(`domain: w
descriptors:
  - { key: k, value: "a*", rate_limit: { unit: second, requests_per_unit: 1 } }
  - { key: k, value: abc, rate_limit: { unit: second, requests_per_unit: 7 } }
`);
    expect((await rl.shouldRateLimit(req('w', [['k', 'abc']]))).statuses[0].current_limit?.requests_per_unit).toBe(7);
  });

  it('unlimited: OK with limit_remaining MaxUint32 and never counted', async () => {
    const { rl } = limiterFor('domain: u\ndescriptors:\n  - key: k\n    rate_limit: { unlimited: true }\n');
    const res = await rl.shouldRateLimit(req('u', [['k', 'v']]));
    expect(res).toEqual({ overall_code: 'OK', statuses: [{ code: 'OK', limit_remaining: 4294967295 }] });
  });

  it('replaces: a matched rule drops the rule it names', async () => {
    const { rl } = limiterFor(`domain: r
descriptors:
  - key: user
    rate_limit: { unit: second, requests_per_unit: 1, name: per_user }
  - key: vip
    rate_limit: { unit: second, requests_per_unit: 5, replaces: [{ name: per_user }] }
`);
    const both = req('r', [['user', 'alice']], [['vip', 'alice']]);
    expect(await codes(rl, both, 3)).toEqual(['OK', 'OK', 'OK']);
    expect((await rl.shouldRateLimit(both)).statuses[0]).toEqual({ code: 'OK' });
    const { rl: plain } = limiterFor(`domain: r
descriptors:
  - key: user
    rate_limit: { unit: second, requests_per_unit: 1, name: per_user }
`);
    expect(await codes(plain, req('r', [['user', 'alice']]), 2)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('per-rule shadow mode answers OK but counts over_limit and shadow_mode', async () => {
    const { rl } = limiterFor('domain: s\ndescriptors:\n  - key: k\n    shadow_mode: true\n    rate_limit: { unit: second, requests_per_unit: 1 }\n');
    expect(await codes(rl, req('s', [['k', 'v']]), 3)).toEqual(['OK', 'OK', 'OK']);
    expect(await metricValue(rl, 'banyan_ratelimit_shadow_mode_total', 's.k')).toBe(2);
    expect(await metricValue(rl, 'banyan_ratelimit_over_limit_total', 's.k')).toBe(2);
  });

  it('global shadow mode turns OVER_LIMIT into OK while statuses keep the truth', async () => {
    const { rl } = limiterFor('domain: s\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 0 }\n', { globalShadowMode: true });
    const res = await rl.shouldRateLimit(req('s', [['k', 'v']]));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses[0].code).toBe('OVER_LIMIT');
  });

  it('hits_addend: request-level adds N, per-descriptor overrides it, and 0 checks without counting', async () => {
    const { rl } = limiterFor('domain: h\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 10 }\n');
    const r = req('h', [['k', 'v']]);
    expect((await rl.shouldRateLimit({ ...r, hits_addend: 4 })).statuses[0].limit_remaining).toBe(6);
    const checkOnly = { domain: 'h', descriptors: [{ entries: [{ key: 'k', value: 'v' }], hits_addend: { value: 0 } }] };
    expect((await rl.shouldRateLimit(checkOnly)).statuses[0].limit_remaining).toBe(6);
    expect((await rl.shouldRateLimit(checkOnly)).statuses[0].limit_remaining).toBe(6);
    const perDescriptor = { domain: 'h', hits_addend: 1, descriptors: [{ entries: [{ key: 'k', value: 'v' }], hits_addend: { value: 5 } }] };
    expect((await rl.shouldRateLimit(perDescriptor)).statuses[0].limit_remaining).toBe(1);
    expect((await rl.shouldRateLimit({ ...r, hits_addend: 2 })).overall_code).toBe('OVER_LIMIT');
  });

  it('near-limit counting follows the reference thresholds (80%)', async () => {
    const { rl } = limiterFor('domain: n\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 10 }\n');
    await codes(rl, req('n', [['k', 'v']]), 12);
    // near threshold floor(10*0.8)=8: hits 9 and 10 are near; 11 and 12 over.
    expect(await metricValue(rl, 'banyan_ratelimit_near_limit_total', 'n.k')).toBe(2);
    expect(await metricValue(rl, 'banyan_ratelimit_within_limit_total', 'n.k')).toBe(10);
    expect(await metricValue(rl, 'banyan_ratelimit_over_limit_total', 'n.k')).toBe(2);
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'n.k')).toBe(12);
  });

  it('near-limit with a multi-hit jump over the limit counts the near part and the over part', async () => {
    const { rl } = limiterFor('domain: n\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 10 }\n');
    await rl.shouldRateLimit({ ...req('n', [['k', 'v']]), hits_addend: 7 });
    await rl.shouldRateLimit({ ...req('n', [['k', 'v']]), hits_addend: 5 });
    expect(await metricValue(rl, 'banyan_ratelimit_over_limit_total', 'n.k')).toBe(2);
    expect(await metricValue(rl, 'banyan_ratelimit_near_limit_total', 'n.k')).toBe(2);
  });

  it('detailed_metric names the stats after the request values', async () => {
    const { rl } = limiterFor('domain: d\ndescriptors:\n  - key: k\n    detailed_metric: true\n    rate_limit: { unit: second, requests_per_unit: 5 }\n');
    await rl.shouldRateLimit(req('d', [['k', 'alice']]));
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'd.k_alice')).toBe(1);
  });

  it('a limit override in the request descriptor replaces the configured limit', async () => {
    const { rl } = limiterFor(BASIC);
    const r = { domain: 'test-domain', descriptors: [{ entries: [{ key: 'key2', value: 'z' }], limit: { requests_per_unit: 1, unit: 'HOUR' } }] };
    const res = await rl.shouldRateLimit(r);
    expect(res.statuses[0].current_limit).toEqual({ requests_per_unit: 1, unit: 'HOUR' });
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OVER_LIMIT');
  });

  it('quota mode (since the 2026-03 change): a quota descriptor over its limit is OVER_LIMIT, and the only quota descriptor over fails the request', async () => {
    // service/ratelimit_test.go TestServiceQuotaModeOnlyAllOverTheLimit (one quota descriptor here; more in quota-mode.test.ts).
    const { rl } = limiterFor('domain: q\ndescriptors:\n  - key: k\n    quota_mode: true\n    rate_limit: { unit: minute, requests_per_unit: 1 }\n');
    await rl.shouldRateLimit(req('q', [['k', 'v']]));
    const res = await rl.shouldRateLimit(req('q', [['x', 'y']], [['k', 'v']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
    expect(structToPlain(res.dynamic_metadata)).toMatchObject({ domain: 'q', quotaModeEnabled: true, quotaModeViolations: [1] });
  });

  it('response headers come from the descriptor closest to its limit', async () => {
    const { rl } = limiterFor(
      `domain: hd
descriptors:
  - { key: a, rate_limit: { unit: minute, requests_per_unit: 100 } }
  - { key: b, rate_limit: { unit: second, requests_per_unit: 3 } }
`,
      { responseHeaders: true },
    );
    const res = await rl.shouldRateLimit(req('hd', [['a', '1']], [['b', '1']]));
    expect(res.response_headers_to_add).toEqual([
      { key: 'RateLimit-Limit', value: '3' },
      { key: 'RateLimit-Remaining', value: '2' },
      { key: 'RateLimit-Reset', value: '1' },
      { key: 'RateLimit-Policy', value: '3;w=1' },
    ]);
  });
});

describe('Banyan extensions (opt-in)', () => {
  it('several limits on one descriptor: the tightest decides', async () => {
    const { rl, clock } = limiterFor(`domain: m
descriptors:
  - key: k
    rate_limit: { unit: second, requests_per_unit: 2 }
    limits: [{ unit: minute, requests_per_unit: 3 }]
`);
    const r = req('m', [['k', 'v']]);
    expect(await codes(rl, r, 3)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    clock.now += 1000;
    const res = await rl.shouldRateLimit(r);
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses[0].current_limit).toEqual({ requests_per_unit: 3, unit: 'MINUTE' });
  });

  it('custom window (5m) is epoch-aligned to 300s', async () => {
    const { rl, clock } = limiterFor('domain: c\ndescriptors:\n  - key: k\n    rate_limit: { window: 5m, requests_per_unit: 1 }\n', { at: 1_700_000_100_000 });
    const r = req('c', [['k', 'v']]);
    expect(await codes(rl, r, 2)).toEqual(['OK', 'OVER_LIMIT']);
    expect((await rl.shouldRateLimit(r)).statuses[0].duration_until_reset).toEqual({ seconds: 300 - (1_700_000_100 % 300) });
    clock.now = Math.ceil(1_700_000_100_001 / 300_000) * 300_000;
    expect(await codes(rl, r, 1)).toEqual(['OK']);
  });

  it('sliding window weighs the previous window', async () => {
    const { rl, clock } = limiterFor('domain: s\ndescriptors:\n  - key: k\n    rate_limit: { unit: minute, requests_per_unit: 10, algorithm: sliding }\n', { at: 1_699_999_980_000 });
    const r = req('s', [['k', 'v']]);
    expect((await codes(rl, r, 10)).every((c) => c === 'OK')).toBe(true);
    clock.now = 1_699_999_980_000 + 60_000 + 30_000; // halfway into the next window: 5 of 10 still weigh
    expect(await codes(rl, r, 6)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'OVER_LIMIT']);
  });

  it('gcra (token bucket) allows a burst of the limit, then refills one per interval', async () => {
    const { rl, clock } = limiterFor('domain: g\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 4, algorithm: gcra }\n');
    const r = req('g', [['k', 'v']]);
    expect(await codes(rl, r, 5)).toEqual(['OK', 'OK', 'OK', 'OK', 'OVER_LIMIT']);
    clock.now += 250;
    expect(await codes(rl, r, 2)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('setConfig keeps the last good config when a new one is invalid', async () => {
    const { rl } = limiterFor('domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 0 }\n');
    const pos = { file: 'x', line: 1, col: 1 };
    expect(() => rl.setConfig([{ domain: 'a', descriptors: [], pos }, { domain: 'a', descriptors: [], pos }])).toThrow(/duplicate domain 'a'/);
    expect((await rl.shouldRateLimit(req('a', [['k', 'v']]))).overall_code).toBe('OVER_LIMIT');
    const m = await rl.metrics.registry.getSingleMetric('banyan_ratelimit_config_load_error_total')?.get();
    expect(m?.values[0].value).toBe(1);
  });
});
