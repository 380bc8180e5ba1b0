import type { RateLimitPolicy, RateLimitUnit } from '../config/model.js';
import { envoyUnitName, UNIT_SECONDS } from '../config/ratelimit/units.js';

/** Units Envoy's RateLimitResponse.RateLimit.Unit can name, shortest first. */
const UNITS: readonly RateLimitUnit[] = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'];

/** A policy's window in seconds: its custom `window`, else its unit's. */
export function windowSecondsOf(p: RateLimitPolicy): number {
  return p.windowSeconds ?? UNIT_SECONDS[p.unit];
}

/**
 * `current_limit` for Envoy (RateLimitResponse.DescriptorStatus.current_limit), which names a unit
 * and cannot say a window of 5m. Never more permissive than the true policy: a fixed window of a unit
 * is itself; a window W of N that divides some unit U is N·U/W per U (what really passes in one U
 * bucket: 3 per 5m → 36/HOUR, not 3/MINUTE, which claims five times as much); otherwise N per the
 * smallest unit ≥ W. The exact window goes in the RateLimit-Policy header (`3;w=300`).
 */
export function currentLimitOf(p: RateLimitPolicy): { requests_per_unit: number; unit: string } {
  const w = windowSecondsOf(p);
  if (w === UNIT_SECONDS[p.unit]) return { requests_per_unit: p.requestsPerUnit, unit: envoyUnitName(p.unit) };
  const atLeast = UNITS.filter((u) => UNIT_SECONDS[u] >= w);
  const dividing = p.algorithm === 'fixed' ? atLeast.find((u) => UNIT_SECONDS[u] % w === 0) : undefined;
  if (dividing) return { requests_per_unit: p.requestsPerUnit * (UNIT_SECONDS[dividing] / w), unit: envoyUnitName(dividing) };
  return { requests_per_unit: p.requestsPerUnit, unit: envoyUnitName(atLeast[0] ?? 'year') };
}

/**
 * The IETF httpapi ratelimit-headers quota policy (draft-ietf-httpapi-ratelimit-headers, the
 * `RateLimit-Policy: 10;w=60` form Envoy's DRAFT_VERSION_03 X-RateLimit-Limit also uses): the limit
 * and its true window in seconds, `3;w=300` for 3 per 5m.
 */
export function policyHeaderValue(p: RateLimitPolicy): string {
  return `${p.requestsPerUnit};w=${windowSecondsOf(p)}`;
}
