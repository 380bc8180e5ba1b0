/**
 * The rate limit service's knobs as flags, the same on `banyan ratelimit` (`--timeout`) and on
 * `banyan serve` (prefixed: `--ratelimit-timeout`), read into RateLimitServiceOptions. Durations are
 * written with a unit everywhere (`50ms`, `1s`); a bare number is still read as milliseconds, with a
 * deprecation warning on stderr.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { CliError, EXIT } from './admin-client.js';
import { BREAKER_DEFAULTS } from '../ratelimit/backend/breaker.js';
import type { RateLimitServiceOptions } from '../ratelimit/service.js';

/** What the flags set, besides the backend (Redis flags stay with each command). */
export type RateLimitKnobs = Pick<
  RateLimitServiceOptions,
  | 'timeoutMs'
  | 'failureMode'
  | 'globalShadowMode'
  | 'nearLimitRatio'
  | 'cacheKeyPrefix'
  | 'localCache'
  | 'stopIncrementWhenOverLimit'
  | 'responseDynamicMetadata'
  | 'globalQuotaMode'
  | 'responseHeaders'
  | 'breaker'
> & {
  /** Several files naming one domain are merged (the reference's MERGE_DOMAIN_CONFIG). */
  mergeDomains?: boolean;
};

/**
 * A duration flag's parser: `50ms`, `1s`, `1m30s`; a bare number is milliseconds, deprecated
 * (warned once per flag). Negative or malformed values are refused with the flag's name.
 */
export function durationFlag(flag: string, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): (value: string) => number {
  let warned = false;
  return (value: string) => {
    if (/^\d+(\.\d+)?$/.test(value)) {
      if (!warned) warn(`warning: ${flag} ${value} has no unit; read as ${value}ms (deprecated: write ${value}ms)`);
      warned = true;
      return Number(value);
    }
    const ms = parseDuration(value);
    if (ms === undefined) throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 50ms, 1s)`);
    return ms;
  };
}

function ratio(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`"${value}" is not a ratio in (0, 1]`);
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return n;
}

function headerName(value: string): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an HTTP header name`);
  return value;
}

/** Flag spellings: `--timeout` on banyan ratelimit, `--ratelimit-timeout` on serve. */
function names(prefix: string) {
  const f = (n: string) => `--${prefix}${n}`;
  const camel = (n: string) => `${prefix}${n}`.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return { f, camel };
}

/**
 * Adds the knobs to `cmd`. `prefix` is '' for banyan ratelimit and 'ratelimit-' for serve.
 * `--failure-mode`, `--shadow`, `--headers` keep the spellings each command had.
 */
export function addRateLimitFlags(cmd: Command, prefix: '' | 'ratelimit-'): Command {
  const { f } = names(prefix);
  const d = (flag: string) => durationFlag(f(flag));
  cmd
    .addOption(new Option(`${f('timeout')} <duration>`, "bound on each call, from its arrival; the caller's grpc-timeout shortens it (a bare number: ms, deprecated)").argParser(d('timeout')).default(50, '50ms'))
    .option(`${f('failure-mode')} <mode>`, 'when the backend is down or slow: allow (OK, counted in banyan_ratelimit_failure_mode_allowed_total) or deny (gRPC UNAVAILABLE)', 'allow')
    .option(f('shadow'), 'global shadow mode: never answer OVER_LIMIT (still counted) (SHADOW_MODE)')
    .option(`${f('key-prefix')} <prefix>`, 'prefix of every counter key in the backend (CACHE_KEY_PREFIX; default none)')
    .addOption(new Option(`${f('near-limit-ratio')} <ratio>`, 'share of a limit past which hits count as near_limit (NEAR_LIMIT_RATIO)').argParser(ratio).default(0.8))
    .option(`--no-${prefix}local-cache`, 'no local cache of over-limit keys (on by default with Redis; LOCAL_CACHE_SIZE_IN_BYTES=0)')
    .option(f('headers'), 'add RateLimit-Limit/-Remaining/-Reset/-Policy response headers (LIMIT_RESPONSE_HEADERS_ENABLED)')
    .addOption(new Option(`${f('header-limit')} <name>`, 'name of the limit header; implies --headers (LIMIT_LIMIT_HEADER)').argParser(headerName))
    .addOption(new Option(`${f('header-remaining')} <name>`, 'name of the remaining header; implies --headers (LIMIT_REMAINING_HEADER)').argParser(headerName))
    .addOption(new Option(`${f('header-reset')} <name>`, 'name of the reset header; implies --headers (LIMIT_RESET_HEADER)').argParser(headerName))
    .addOption(new Option(`${f('header-policy')} <name>`, 'name of the policy header (limit;w=window seconds); implies --headers').argParser(headerName))
    .option(f('merge-domains'), "merge several config files that name one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG); without it they are an error")
    .option(f('stop-increment-when-over-limit'), "when a descriptor is or would go over its limit, only read the request's other counters (STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT)")
    .option(f('response-dynamic-metadata'), 'dynamic metadata (domain, descriptors, descriptor metadata) on every response, not only quota-mode ones (RESPONSE_DYNAMIC_METADATA)')
    .option(f('quota-mode'), 'global quota mode: every descriptor in quota mode (QUOTA_MODE)')
    .addOption(new Option(`${f('breaker-failures')} <n>`, 'consecutive backend timeouts/errors that open the circuit breaker (then the failure mode answers at once); 0 = no breaker').argParser(count).default(BREAKER_DEFAULTS.failures))
    .addOption(new Option(`${f('breaker-backoff')} <duration>`, 'wait before the first probe of an open breaker, doubled after each failed probe').argParser(d('breaker-backoff')).default(BREAKER_DEFAULTS.backoffMs, `${BREAKER_DEFAULTS.backoffMs}ms`))
    .addOption(new Option(`${f('breaker-max-backoff')} <duration>`, 'longest wait between probes').argParser(d('breaker-max-backoff')).default(BREAKER_DEFAULTS.maxBackoffMs, `${BREAKER_DEFAULTS.maxBackoffMs / 1000}s`));
  return cmd;
}

/** The knobs from commander's parsed options (`o`), for a command set up by addRateLimitFlags. */
export function rateLimitKnobs(o: Record<string, unknown>, prefix: '' | 'ratelimit-'): RateLimitKnobs {
  const { f, camel } = names(prefix);
  const get = <T>(n: string) => o[camel(n)] as T;
  const failureMode = get<string>('failure-mode');
  if (failureMode !== 'allow' && failureMode !== 'deny') throw new CliError(`${f('failure-mode')} must be allow or deny, not '${failureMode}'`, EXIT.usage);
  const given = { limit: get<string | undefined>('header-limit'), remaining: get<string | undefined>('header-remaining'), reset: get<string | undefined>('header-reset'), policy: get<string | undefined>('header-policy') };
  const named = Object.values(given).some((v) => v !== undefined);
  const responseHeaders = named
    ? { limit: given.limit ?? 'RateLimit-Limit', remaining: given.remaining ?? 'RateLimit-Remaining', reset: given.reset ?? 'RateLimit-Reset', policy: given.policy ?? 'RateLimit-Policy' }
    : get<boolean | undefined>('headers') === true;
  const backoffMs = get<number>('breaker-backoff');
  const maxBackoffMs = get<number>('breaker-max-backoff');
  if (maxBackoffMs < backoffMs) throw new CliError(`${f('breaker-max-backoff')} must be at least ${f('breaker-backoff')}`, EXIT.usage);
  return {
    timeoutMs: get<number>('timeout'),
    failureMode,
    globalShadowMode: get<boolean | undefined>('shadow') === true,
    cacheKeyPrefix: get<string | undefined>('key-prefix') ?? '',
    nearLimitRatio: get<number>('near-limit-ratio'),
    // Unset: on for Redis, off for memory (the service's default); --no-local-cache turns it off.
    ...(get<boolean>('local-cache') === false ? { localCache: false } : {}),
    responseHeaders,
    mergeDomains: get<boolean | undefined>('merge-domains') === true,
    stopIncrementWhenOverLimit: get<boolean | undefined>('stop-increment-when-over-limit') === true,
    responseDynamicMetadata: get<boolean | undefined>('response-dynamic-metadata') === true,
    globalQuotaMode: get<boolean | undefined>('quota-mode') === true,
    breaker: { failures: get<number>('breaker-failures'), backoffMs, maxBackoffMs },
  };
}
