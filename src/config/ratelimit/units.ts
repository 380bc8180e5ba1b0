import type { RateLimitUnit } from '../model.js';

/**
 * Window lengths in seconds, as envoyproxy/ratelimit's UnitToDivider: a month is 30 days and a year
 * 365 days, so windows stay epoch-aligned fixed buckets rather than calendar periods.
 */
export const UNIT_SECONDS: Record<RateLimitUnit, number> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86_400,
  week: 604_800,
  month: 2_592_000,
  year: 31_536_000,
};

export const UNITS = Object.keys(UNIT_SECONDS) as RateLimitUnit[];

export function isUnit(text: string): text is RateLimitUnit {
  return Object.hasOwn(UNIT_SECONDS, text);
}

/** The largest unit whose length divides `seconds` (a 5m window reports MINUTE to Envoy). */
export function unitForWindow(seconds: number): RateLimitUnit {
  for (const u of [...UNITS].reverse()) if (seconds >= UNIT_SECONDS[u] && seconds % UNIT_SECONDS[u] === 0) return u;
  return 'second';
}

/** Envoy's RateLimitResponse.RateLimit.Unit / type.v3.RateLimitUnit enum name for a unit. */
export function envoyUnitName(unit: RateLimitUnit): string {
  return unit.toUpperCase();
}

/** The model unit for an Envoy/RateLimitConfig enum name or number, or undefined (UNKNOWN or unrecognised). */
export function unitFromEnvoy(value: string | number | undefined): RateLimitUnit | undefined {
  if (typeof value === 'number') return ENVOY_UNIT_NUMBERS[value];
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return isUnit(lower) ? lower : undefined;
}

// Envoy's type.v3.RateLimitUnit numbering (WEEK came last, after MONTH and YEAR).
const ENVOY_UNIT_NUMBERS: Record<number, RateLimitUnit> = {
  1: 'second',
  2: 'minute',
  3: 'hour',
  4: 'day',
  5: 'month',
  6: 'year',
  7: 'week',
};
