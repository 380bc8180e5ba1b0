/**
 * `banyan ratelimit` and `banyan serve` take the rate limit service's knobs as the same flags
 * (serve's prefixed with `ratelimit-`): durations with units, the reference's settings, the in-code
 * knobs (key prefix, near-limit ratio, local cache, header names) and the circuit breaker.
 */
import { Command } from 'commander';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/model.js';
import { register as registerRatelimit } from '../../src/cli/commands/ratelimit.js';
import { register as registerServe } from '../../src/cli/commands/serve.js';
import { durationFlag, rateLimitKnobs, type RateLimitKnobs } from '../../src/cli/ratelimit-flags.js';
import { startServices } from '../../src/server/services.js';
import { ServiceStack } from '../../src/service/stack.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { req } from './helpers.js';

/** Parses `args` for `name` without running it: the action is replaced by one that reads the knobs. */
function knobsOf(name: 'ratelimit' | 'serve', args: string[]): RateLimitKnobs {
  const program = new Command().exitOverride();
  if (name === 'ratelimit') registerRatelimit(program);
  else registerServe(program);
  const cmd = program.commands.find((c) => c.name() === name)!;
  cmd.exitOverride();
  let knobs: RateLimitKnobs | undefined;
  cmd.action((...a: unknown[]) => {
    const o = (name === 'serve' ? a[1] : a[0]) as Record<string, unknown>;
    knobs = rateLimitKnobs(o, name === 'serve' ? 'ratelimit-' : '');
  });
  program.parse(['node', 'banyan', name, ...args]);
  return knobs!;
}

function helpOf(name: 'ratelimit' | 'serve'): string {
  const program = new Command();
  if (name === 'ratelimit') registerRatelimit(program);
  else registerServe(program);
  return program.commands.find((c) => c.name() === name)!.helpInformation();
}

const REFERENCE_FLAGS = ['merge-domains', 'stop-increment-when-over-limit', 'response-dynamic-metadata', 'quota-mode'];

describe('rate limit flags', () => {
  it("banyan ratelimit: --merge-domains, --stop-increment-when-over-limit, --response-dynamic-metadata, --quota-mode, off by default, named after the reference's settings", () => {
    const knobs = knobsOf('ratelimit', ['--config', 'x']);
    expect(knobs).toMatchObject({ mergeDomains: false, stopIncrementWhenOverLimit: false, responseDynamicMetadata: false, globalQuotaMode: false });
    expect(helpOf('ratelimit')).toMatch(/MERGE_DOMAIN_CONFIG[\s\S]*STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT[\s\S]*RESPONSE_DYNAMIC_METADATA[\s\S]*QUOTA_MODE/);
  });

  it('the same four on banyan serve, prefixed', () => {
    expect(knobsOf('serve', [])).toMatchObject({ mergeDomains: false, stopIncrementWhenOverLimit: false, responseDynamicMetadata: false, globalQuotaMode: false });
    const on = knobsOf('serve', REFERENCE_FLAGS.map((f) => `--ratelimit-${f}`));
    expect(on).toMatchObject({ mergeDomains: true, stopIncrementWhenOverLimit: true, responseDynamicMetadata: true, globalQuotaMode: true });
  });

  it('durations with units on both commands; the help shows the default as one (50ms)', () => {
    expect(knobsOf('ratelimit', ['--timeout', '50ms']).timeoutMs).toBe(50);
    expect(knobsOf('ratelimit', ['--timeout', '1.5s']).timeoutMs).toBe(1500);
    expect(knobsOf('serve', ['--ratelimit-timeout', '20ms']).timeoutMs).toBe(20);
    expect(knobsOf('ratelimit', []).timeoutMs).toBe(50);
    expect(knobsOf('serve', []).timeoutMs).toBe(50);
    for (const name of ['ratelimit', 'serve'] as const) expect(helpOf(name)).toMatch(/timeout <duration>[\s\S]*?\(default: 50ms\)/);
    expect(() => knobsOf('ratelimit', ['--timeout', '50x'])).toThrow(/not a duration/);
    expect(() => knobsOf('serve', ['--ratelimit-timeout', '-5ms'])).toThrow(/not a duration/);
  });

  it('a bare number (what --help used to show, and what serve took) is still milliseconds, with a deprecation warning', () => {
    const warnings: string[] = [];
    const parse = durationFlag('--timeout', (l) => warnings.push(l));
    expect(parse('50')).toBe(50);
    expect(parse('75')).toBe(75);
    expect(warnings).toEqual(['warning: --timeout 50 has no unit; read as 50ms (deprecated: write 50ms)']);
    expect(knobsOf('ratelimit', ['--timeout', '50']).timeoutMs).toBe(50);
    expect(knobsOf('serve', ['--ratelimit-timeout', '50']).timeoutMs).toBe(50);
  });

  it('the in-code knobs as flags: key prefix, near-limit ratio, local cache, header names, shadow, breaker', () => {
    const defaults = knobsOf('ratelimit', []);
    expect(defaults).toMatchObject({ cacheKeyPrefix: '', nearLimitRatio: 0.8, responseHeaders: false, globalShadowMode: false, failureMode: 'allow', breaker: { failures: 5, backoffMs: 100, maxBackoffMs: 5000 } });
    expect(defaults.localCache).toBeUndefined();
    const set = knobsOf('ratelimit', ['--key-prefix', 'rl:', '--near-limit-ratio', '0.9', '--no-local-cache', '--header-limit', 'X-RL-Limit', '--shadow', '--failure-mode', 'deny', '--breaker-failures', '0', '--breaker-backoff', '1s', '--breaker-max-backoff', '1m']);
    expect(set).toMatchObject({
      cacheKeyPrefix: 'rl:',
      nearLimitRatio: 0.9,
      localCache: false,
      responseHeaders: { limit: 'X-RL-Limit', remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset', policy: 'RateLimit-Policy' },
      globalShadowMode: true,
      failureMode: 'deny',
      breaker: { failures: 0, backoffMs: 1000, maxBackoffMs: 60_000 },
    });
    const serve = knobsOf('serve', ['--ratelimit-key-prefix', 'rl:', '--ratelimit-near-limit-ratio', '0.5', '--no-ratelimit-local-cache', '--ratelimit-headers', '--ratelimit-shadow']);
    expect(serve).toMatchObject({ cacheKeyPrefix: 'rl:', nearLimitRatio: 0.5, localCache: false, responseHeaders: true, globalShadowMode: true });
    expect(() => knobsOf('ratelimit', ['--near-limit-ratio', '1.5'])).toThrow(/ratio/);
    expect(() => knobsOf('ratelimit', ['--header-reset', 'bad header'])).toThrow(/header name/);
    expect(() => knobsOf('serve', ['--ratelimit-failure-mode', 'maybe'])).toThrow(/allow or deny/);
    expect(() => knobsOf('ratelimit', ['--breaker-backoff', '2s', '--breaker-max-backoff', '1s'])).toThrow(/at least/);
  });
});

describe('serve: the knobs reach the in-process service (ServeOptions.ratelimitOptions → startServices)', () => {
  let stack: ServiceStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  // Domain merge is the config loader's under serve (test/ratelimit/serve-merge-domains.test.ts).
  it('header names, near-limit ratio and quota mode apply', async () => {
    const log = pino({ level: 'silent' });
    stack = new ServiceStack();
    const ratelimitOptions = knobsOf('serve', ['--ratelimit-header-limit', 'X-Limit', '--ratelimit-near-limit-ratio', '0.5', '--ratelimit-quota-mode', '--ratelimit-merge-domains', '--ratelimit-timeout', '20ms']);
    const services = await startServices({ host: '127.0.0.1', ratelimitPort: 0, ratelimitOptions }, createRegistry(), log, stack);
    const domains = parseRateLimitYaml('domain: edge\ndescriptors:\n  - key: a\n    rate_limit: { unit: hour, requests_per_unit: 2 }\n  - key: b\n    rate_limit: { unit: hour, requests_per_unit: 4 }\n', 'a.yaml').domains;
    services.feed({ ratelimit: domains, auth: { providers: [] } } as unknown as Config);
    const rl = services.ratelimit!.limiter;
    expect(rl.domains.map((d) => d.domain)).toEqual(['edge']);
    const first = await rl.shouldRateLimit(req('edge', [['b', 'x']]));
    expect(first.response_headers_to_add?.map((h) => h.key)).toEqual(['X-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']);
    await rl.shouldRateLimit(req('edge', [['b', 'x']]));
    await rl.shouldRateLimit(req('edge', [['b', 'x']]));
    // Near-limit at 50% of 4: the third hit (after = 3 > 2) is near.
    expect(await rl.metrics.text()).toMatch(/banyan_ratelimit_near_limit_total\{key="edge.b"\} 1\b/);
    // Global quota mode: a descriptor over its limit is OVER_LIMIT in its status; the request fails only
    // when every (quota) descriptor is over, so with one under it passes.
    await rl.shouldRateLimit(req('edge', [['a', 'y']]));
    await rl.shouldRateLimit(req('edge', [['a', 'y']]));
    const over = await rl.shouldRateLimit(req('edge', [['a', 'y']], [['b', 'y']]));
    expect(over.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OK']);
    expect(over.overall_code).toBe('OK');
    expect(over.dynamic_metadata).toBeDefined();
  });
});
