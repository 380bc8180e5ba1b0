/**
 * envoyproxy/ratelimit's current semantics, case by case. Each test names the reference code or test
 * it encodes (paths in github.com/envoyproxy/ratelimit): quota mode after its 2026-03 change, the
 * response's dynamic metadata and per-descriptor `metadata`, share_threshold, value_to_metric, domain
 * merge (MERGE_DOMAIN_CONFIG), STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, a limit override whose unit
 * is UNKNOWN, and a service that never loaded a config.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { rateLimitConfigLosses, toRateLimitConfig } from '../../src/config/ratelimit/resource.js';
import { validateDomains } from '../../src/config/ratelimit/validate.js';
import { structToPlain } from '../../src/proto/struct.js';
import { RateLimitError, RateLimiter } from '../../src/ratelimit/service.js';
import type { RlsRequest } from '../../src/ratelimit/types.js';
import { limiterFor, metricValue, req } from './helpers.js';

/** One descriptor with a per-descriptor hits_addend. */
const hit = (key: string, value: string, hits: number) => ({ entries: [{ key, value }], hits_addend: { value: hits } });

describe('quota mode (service/ratelimit.go shouldRateLimitWorker, since the 2026-03 change)', () => {
  const QUOTA = `domain: quota-domain
descriptors:
  - { key: regular, rate_limit: { unit: minute, requests_per_unit: 1 } }
  - { key: quota1, quota_mode: true, rate_limit: { unit: minute, requests_per_unit: 1 } }
  - { key: quota2, quota_mode: true, rate_limit: { unit: minute, requests_per_unit: 1 } }
`;
  const exhaust = async (rl: RateLimiter, ...keys: string[]) => {
    for (const k of keys) await rl.shouldRateLimit(req('quota-domain', [[k, 'limit']]));
  };

  it('all quota descriptors over: OVER_LIMIT overall, each OVER_LIMIT (TestServiceQuotaModeOnlyAllOverTheLimit)', async () => {
    const { rl } = limiterFor(QUOTA);
    await exhaust(rl, 'quota1', 'quota2');
    const res = await rl.shouldRateLimit(req('quota-domain', [['quota1', 'limit']], [['quota2', 'limit']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => [s.code, s.limit_remaining])).toEqual([
      ['OVER_LIMIT', 0],
      ['OVER_LIMIT', 0],
    ]);
  });

  it('some quota descriptors over: OK overall, the over one still OVER_LIMIT in its status (TestServiceQuotaModeOnlySomeOverTheLimit)', async () => {
    const { rl } = limiterFor(QUOTA);
    await exhaust(rl, 'quota1');
    const res = await rl.shouldRateLimit(req('quota-domain', [['quota1', 'limit']], [['quota2', 'limit']]));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OK']);
    expect(structToPlain(res.dynamic_metadata)).toMatchObject({ quotaModeEnabled: true, quotaModeViolations: [0] });
  });

  it('a regular descriptor over fails the request whatever the quota descriptors say (TestServicePerDescriptorQuotaMode)', async () => {
    const { rl } = limiterFor(QUOTA);
    await exhaust(rl, 'regular');
    const res = await rl.shouldRateLimit(req('quota-domain', [['regular', 'limit']], [['quota1', 'limit']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OK']);
  });

  it('regular under, the only quota descriptor over: OVER_LIMIT (TestServiceMixedPerDescriptorModes); both under: OK (…UnderLimit)', async () => {
    const { rl } = limiterFor(QUOTA);
    const under = await rl.shouldRateLimit(req('quota-domain', [['regular', 'a']], [['quota1', 'a']]));
    expect(under.overall_code).toBe('OK');
    const res = await rl.shouldRateLimit(req('quota-domain', [['regular', 'b']], [['quota1', 'a']]));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('global quota mode makes every descriptor a quota descriptor (TestServiceGlobalQuotaMode, QUOTA_MODE)', async () => {
    const { rl } = limiterFor(QUOTA, { globalQuotaMode: true });
    await exhaust(rl, 'regular');
    const some = await rl.shouldRateLimit(req('quota-domain', [['regular', 'limit']], [['quota1', 'limit']]));
    expect(some.overall_code).toBe('OK');
    const all = await rl.shouldRateLimit(req('quota-domain', [['regular', 'limit']], [['quota1', 'limit']]));
    expect(all.overall_code).toBe('OVER_LIMIT');
    expect(all.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
  });

  it('per-rule shadow mode turns a quota descriptor OK before the quota decision (base_limiter.go GetResponseDescriptorStatus)', async () => {
    const { rl } = limiterFor('domain: s\ndescriptors:\n  - { key: q, quota_mode: true, shadow_mode: true, rate_limit: { unit: minute, requests_per_unit: 0 } }\n');
    const res = await rl.shouldRateLimit(req('s', [['q', 'v']]));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses[0].code).toBe('OK');
  });
});

describe('dynamic metadata and descriptor metadata (service/ratelimit.go ratelimitToMetadata)', () => {
  const META = `domain: quota-domain
descriptors:
  - key: regular
    metadata: { name: service_1, route: { weight: 1 } }
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: quota
    quota_mode: true
    metadata: { name: service_2, other: service_2, route: { weight: 2, zone: b } }
    rate_limit: { unit: minute, requests_per_unit: 1 }
`;
  const both = req('quota-domain', [['regular', 'limit']], [['quota', 'limit']]);

  it('only descriptors under their limit contribute metadata (TestMetadataReturnedForPassedDescriptors)', async () => {
    const { rl } = limiterFor(META, { globalQuotaMode: true, responseDynamicMetadata: true });
    await rl.shouldRateLimit(req('quota-domain', [['quota', 'limit']]));
    const res = await rl.shouldRateLimit(both);
    expect(res.overall_code).toBe('OK');
    expect(structToPlain(res.dynamic_metadata).metadata).toEqual({ name: 'service_1', route: { weight: 1 } });
  });

  it('all passed: merged, the first value of a key kept, maps merged (TestMetadataReturnedForAllPassedDescriptors, TestOverlappingMetadataReturnsTheFirstValue)', async () => {
    const { rl } = limiterFor(META, { globalQuotaMode: true, responseDynamicMetadata: true });
    const md = structToPlain((await rl.shouldRateLimit(both)).dynamic_metadata);
    expect(md).toMatchObject({
      domain: 'quota-domain',
      descriptors: [{ entries: ['regular=limit'] }, { entries: ['quota=limit'] }],
      metadata: { name: 'service_1', other: 'service_2', route: { weight: 1, zone: 'b' } },
    });
  });

  it('RESPONSE_DYNAMIC_METADATA on: every response carries domain, descriptors and hitsAddend; off and no quota rule: none', async () => {
    const { rl } = limiterFor(META, { responseDynamicMetadata: true });
    const r: RlsRequest = { ...req('quota-domain', [['regular', 'x']]), hits_addend: 1 };
    expect(structToPlain((await rl.shouldRateLimit(r)).dynamic_metadata)).toEqual({
      domain: 'quota-domain',
      descriptors: [{ entries: ['regular=x'] }],
      hitsAddend: 1,
      metadata: { name: 'service_1', route: { weight: 1 } },
    });
    const { rl: plain } = limiterFor(META);
    expect((await plain.shouldRateLimit(req('quota-domain', [['regular', 'x']]))).dynamic_metadata).toBeUndefined();
  });

  it('metadata must be a map of JSON values (config error at its position)', () => {
    const { diagnostics } = parseRateLimitYaml('domain: m\ndescriptors:\n  - key: k\n    metadata: [a, b]\n    rate_limit: { unit: second, requests_per_unit: 1 }\n', 'm.yaml');
    expect(diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual(['4: metadata must be a map']);
  });
});

describe('share_threshold (config_impl.go GetLimit, limiter/cache_key.go)', () => {
  // test/integration/runtime/current/ratelimit/config/share_threshold.yaml
  const SHARE = `domain: share-threshold-test
descriptors:
  - key: files
    value: files/*
    share_threshold: true
    rate_limit: { unit: hour, requests_per_unit: 10 }
  - key: files_no_share
    value: files_no_share/*
    rate_limit: { unit: hour, requests_per_unit: 10 }
  - key: parent
    value: value1
    descriptors:
      - key: files
        value: nested/*
        share_threshold: true
        rate_limit: { unit: hour, requests_per_unit: 3 }
`;

  it('every value under the wildcard spends one counter; without share_threshold each value has its own', async () => {
    const { rl } = limiterFor(SHARE);
    const values = ['files/a.pdf', 'files/b.csv', 'files/c.txt', 'files/d.json', 'files/e.xml', 'files/subdir/f.txt', 'files/g', 'files/h', 'files/i', 'files/j'];
    for (const v of values) expect((await rl.shouldRateLimit(req('share-threshold-test', [['files', v]]))).overall_code).toBe('OK');
    expect((await rl.shouldRateLimit(req('share-threshold-test', [['files', 'files/k']]))).overall_code).toBe('OVER_LIMIT');
    for (const v of values) expect((await rl.shouldRateLimit(req('share-threshold-test', [['files_no_share', `files_no_share/${v}`]]))).overall_code).toBe('OK');
    // Stats are kept under the pattern too (config_impl.go: share_threshold keeps the wildcard in the key).
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'share-threshold-test.files_files/*')).toBe(11);
  });

  it('nested: the parent entry keeps its value, the shared entry its pattern (base_limiter_test.go TestGenerateCacheKeysWithShareThreshold, case 3)', async () => {
    const { rl } = limiterFor(SHARE);
    const nested = (f: string) => req('share-threshold-test', [['parent', 'value1'], ['files', f]]);
    expect([(await rl.shouldRateLimit(nested('nested/1'))).overall_code, (await rl.shouldRateLimit(nested('nested/2'))).overall_code, (await rl.shouldRateLimit(nested('nested/3'))).overall_code]).toEqual([
      'OK',
      'OK',
      'OK',
    ]);
    expect((await rl.shouldRateLimit(nested('nested/4'))).overall_code).toBe('OVER_LIMIT');
  });

  it('only on a wildcard value (config_impl.go loadDescriptors wording)', () => {
    const { diagnostics } = parseRateLimitYaml('domain: d\ndescriptors:\n  - key: files\n    value: exact\n    share_threshold: true\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n', 's.yaml');
    expect(diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual(["5: share_threshold can only be used with wildcard values (ending with '*'), but found key 'files_exact'"]);
  });
});

describe('value_to_metric (config_impl.go GetLimit valueToMetricFullKey)', () => {
  // test/integration/runtime/current/ratelimit/config/sanitize.yaml, plus a wildcard level.
  const SANITIZE = `domain: sanitize
descriptors:
  - key: grpc_path
    value_to_metric: true
    rate_limit: { unit: minute, requests_per_unit: 50 }
  - key: detailed_path
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 50 }
  - key: route
    value: api/*
    value_to_metric: true
    rate_limit: { unit: minute, requests_per_unit: 50 }
  - key: plain
    rate_limit: { unit: minute, requests_per_unit: 50 }
`;

  it("the request's value names the stats for a bare-key or wildcard match; counters are unchanged", async () => {
    const { rl } = limiterFor(SANITIZE);
    await rl.shouldRateLimit(req('sanitize', [['grpc_path', '/pkg.Svc/Get']]));
    await rl.shouldRateLimit(req('sanitize', [['route', 'api/users']]));
    await rl.shouldRateLimit(req('sanitize', [['detailed_path', '/x']]));
    await rl.shouldRateLimit(req('sanitize', [['plain', 'y']]));
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'sanitize.grpc_path_/pkg.Svc/Get')).toBe(1);
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'sanitize.route_api/users')).toBe(1);
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'sanitize.detailed_path_/x')).toBe(1);
    expect(await metricValue(rl, 'banyan_ratelimit_total_hits_total', 'sanitize.plain')).toBe(1);
  });
});

describe('domain merge (config_impl.go loadConfig with MERGE_DOMAIN_CONFIG)', () => {
  const files = [
    { file: 'basic.yaml', text: 'domain: basic\ndescriptors:\n  - key: key1\n    rate_limit: { unit: second, requests_per_unit: 50 }\n' },
    // test/integration/runtime/current/ratelimit/existingDomainreload.yaml: a second file for domain "basic".
    { file: 'existingDomainreload.yaml', text: 'domain: basic\ndescriptors:\n  - key: key11\n    rate_limit: { unit: second, requests_per_unit: 50 }\n  - key: block1\n    rate_limit: { unit: second, requests_per_unit: 0 }\n' },
  ];

  it('off: a second file for a domain is an error; on: its descriptors join the domain', async () => {
    const { parseRateLimitFiles } = await import('../../src/config/ratelimit/parse.js');
    expect(parseRateLimitFiles(files).diagnostics.map((d) => `${d.file}: ${d.message}`)).toEqual(["existingDomainreload.yaml: duplicate domain 'basic' in config file"]);
    const merged = parseRateLimitFiles(files, { mergeDomains: true });
    expect(merged.diagnostics).toEqual([]);
    expect(merged.domains.map((d) => [d.domain, d.descriptors.map((x) => x.key)])).toEqual([['basic', ['key1', 'key11', 'block1']]]);
    const rl = new RateLimiter({ domains: merged.domains });
    expect((await rl.shouldRateLimit(req('basic', [['block1', 'x']]))).overall_code).toBe('OVER_LIMIT');
    expect((await rl.shouldRateLimit(req('basic', [['key1', 'x']]))).overall_code).toBe('OK');
  });

  it('merged, a composite key defined in both files is still a duplicate', async () => {
    const { parseRateLimitFiles } = await import('../../src/config/ratelimit/parse.js');
    const dup = [files[0], { file: 'again.yaml', text: 'domain: basic\ndescriptors:\n  - key: key1\n    rate_limit: { unit: second, requests_per_unit: 1 }\n' }];
    expect(parseRateLimitFiles(dup, { mergeDomains: true }).diagnostics.map((d) => d.message)).toEqual(["duplicate descriptor composite key 'basic.key1'"]);
  });
});

describe('STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT (redis/fixed_cache_impl.go DoLimit)', () => {
  const TWO = 'domain: domain\ndescriptors:\n  - { key: key4, rate_limit: { unit: hour, requests_per_unit: 15 } }\n  - { key: key5, rate_limit: { unit: hour, requests_per_unit: 14 } }\n';
  const both = (h: number) => ({ domain: 'domain', descriptors: [hit('key4', 'value4', h), hit('key5', 'value5', h)] });
  const remaining = async (rl: RateLimiter, h: number) => (await rl.shouldRateLimit(both(h))).statuses.map((s) => [s.code, s.limit_remaining]);

  it('a descriptor that would go over is counted alone; the others keep their budget (TestOverLimitWithStopCacheKeyIncrementWhenOverlimitConfig)', async () => {
    const { rl } = limiterFor(TWO, { stopIncrementWhenOverLimit: true });
    await rl.shouldRateLimit(both(10));
    expect(await remaining(rl, 1)).toEqual([
      ['OK', 4],
      ['OK', 3],
    ]);
    expect(await remaining(rl, 2)).toEqual([
      ['OK', 2],
      ['OK', 1],
    ]);
    // key5 would go over (13 + 2 > 14): only it is incremented; key4 stays at 13.
    expect(await remaining(rl, 2)).toEqual([
      ['OK', 2],
      ['OVER_LIMIT', 0],
    ]);
    expect((await rl.shouldRateLimit({ domain: 'domain', descriptors: [hit('key4', 'value4', 0)] })).statuses[0].limit_remaining).toBe(2);
    expect(await metricValue(rl, 'banyan_ratelimit_near_limit_total', 'domain.key4')).toBe(2);
    // The reference's 5 within-limit hits, plus the 10 this test starts the counters with.
    expect(await metricValue(rl, 'banyan_ratelimit_within_limit_total', 'domain.key4')).toBe(15);
  });

  it('a key over in the local cache: the other keys are only read', async () => {
    const { rl } = limiterFor(TWO, { stopIncrementWhenOverLimit: true, localCache: true });
    await rl.shouldRateLimit({ domain: 'domain', descriptors: [hit('key5', 'value5', 15)] });
    for (let i = 0; i < 3; i++) expect((await rl.shouldRateLimit(both(1))).overall_code).toBe('OVER_LIMIT');
    expect(await metricValue(rl, 'banyan_ratelimit_over_limit_with_local_cache_total', 'domain.key5')).toBe(3);
    expect((await rl.shouldRateLimit({ domain: 'domain', descriptors: [hit('key4', 'value4', 0)] })).statuses[0].limit_remaining).toBe(15);
  });

  it('off (the default): every descriptor is counted, as before', async () => {
    const { rl } = limiterFor(TWO);
    await rl.shouldRateLimit(both(13));
    expect(await remaining(rl, 2)).toEqual([
      ['OK', 0],
      ['OVER_LIMIT', 0],
    ]);
  });
});

describe('limit overrides and a service without config', () => {
  const CONF = 'domain: d\ndescriptors:\n  - { key: k, rate_limit: { unit: hour, requests_per_unit: 2 } }\n';

  it('an override with unit UNKNOWN falls back to the configured limit (the reference fails on it: utils.UnitToDivider)', async () => {
    const { rl } = limiterFor(CONF);
    const r = { domain: 'd', descriptors: [{ entries: [{ key: 'k', value: 'v' }], limit: { requests_per_unit: 100, unit: 'UNKNOWN' } }] };
    const res = await rl.shouldRateLimit(r);
    expect(res.statuses[0].current_limit).toEqual({ requests_per_unit: 2, unit: 'HOUR' });
    await rl.shouldRateLimit(r);
    expect((await rl.shouldRateLimit(r)).overall_code).toBe('OVER_LIMIT');
    // A known unit still replaces it (config_impl.go GetLimit).
    const known = await rl.shouldRateLimit({ ...r, descriptors: [{ ...r.descriptors[0], limit: { requests_per_unit: 100, unit: 'MINUTE' } }] });
    expect(known.statuses[0].current_limit).toEqual({ requests_per_unit: 100, unit: 'MINUTE' });
  });

  it('never loaded a valid config: "no rate limit configuration loaded", a gRPC error (service_test TestInitialLoadError)', async () => {
    const rl = new RateLimiter();
    const err = await rl.shouldRateLimit(req('d', [['k', 'v']])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ code: GrpcStatus.UNKNOWN, message: 'no rate limit configuration loaded' });
    expect(() => rl.setConfig([{ domain: '', descriptors: [], pos: { file: 'x', line: 1, col: 1 } }])).toThrow();
    await expect(rl.shouldRateLimit(req('d', [['k', 'v']]))).rejects.toThrow('no rate limit configuration loaded');
    rl.setConfig([]);
    expect((await rl.shouldRateLimit(req('d', [['k', 'v']]))).overall_code).toBe('OK');
  });
});

describe('the new keys outside YAML', () => {
  const YAML = `domain: n
descriptors:
  - key: files
    value: files/*
    share_threshold: true
    value_to_metric: true
    metadata: { svc: a }
    rate_limit: { unit: hour, requests_per_unit: 1 }
`;

  it('setConfig checks share_threshold on configs built in code, as the parser does', () => {
    const { domains } = parseRateLimitYaml(YAML, 'n.yaml');
    expect(validateDomains(domains)).toEqual([]);
    const bad = structuredClone(domains);
    bad[0].descriptors[0].value = 'exact';
    expect(validateDomains(bad)).toEqual(["share_threshold can only be used with wildcard values (ending with '*'), but found key 'files_exact'"]);
  });

  it('the RateLimitConfig resource carries them (metadata in the reference field 8, the others in Banyan fields); rateLimitConfigLosses lists what a reference consumer loses', () => {
    const { domains } = parseRateLimitYaml(YAML, 'n.yaml');
    expect(rateLimitConfigLosses(domains[0]).map((l) => `${l.key}: ${l.feature} (${l.effect})`)).toEqual(['n.files_files/*: share_threshold (weaker)', 'n.files_files/*: value_to_metric (stats)']);
    expect(toRateLimitConfig(domains[0]).descriptors![0]).toMatchObject({ share_threshold: true, value_to_metric: true, metadata: expect.anything() });
  });
});
