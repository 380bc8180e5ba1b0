/**
 * The limits of the fields Banyan's values land in on the wire, in one place, so the schema (and with
 * it editors, via `banyan schema`), runtime weight overrides and the CLI refuse the same values with
 * the same words. Admission re-checks the compiled resources against Envoy's own rules; these make
 * sure the operator hears about it at the exact key, before anything is compiled.
 */

/** protobuf uint32: weights, circuit breaker thresholds, token buckets, outlier counts. */
export const UINT32_MAX = 4_294_967_295;

/** google.protobuf.Duration's range (10,000 years), which Envoy also enforces on every duration. */
export const MAX_DURATION_MS = 315_576_000_000 * 1000;

/** What is wrong with one relative backend weight, or undefined. */
export function backendWeightProblem(b: { cluster: string; weight: number }): string | undefined {
  if (!Number.isInteger(b.weight) || b.weight < 0) return `weight for '${b.cluster}' must be a whole number >= 0, got ${b.weight}`;
  if (b.weight > UINT32_MAX) return `weight for '${b.cluster}' is ${b.weight}, above ${UINT32_MAX} (weights are uint32 on the wire)`;
  return undefined;
}

/** What is wrong with a route's weights taken together (each one already valid), or undefined. */
export function backendWeightSetProblem(weights: readonly { weight: number }[]): string | undefined {
  if (weights.length > 0 && weights.every((b) => b.weight === 0)) return 'all weights are zero: at least one backend must get traffic';
  const sum = weights.reduce((s, b) => s + b.weight, 0);
  if (sum > UINT32_MAX) return `weights sum to ${sum}, above ${UINT32_MAX}: Envoy refuses a weighted cluster whose total does not fit uint32`;
  return undefined;
}

/**
 * Envoy's `envoy.type.v3.StatusCode` values: the only statuses a local rate limit (or any HttpStatus)
 * can answer with. test/config asserts this list equals the enum in the protos Banyan loads.
 */
export const ENVOY_STATUS_CODES: readonly number[] = [
  100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
  408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508,
  510, 511,
];

/**
 * Characters Envoy refuses in header values, authorities, paths and domains (PGV's HTTP_HEADER_VALUE
 * in non-strict mode): NUL, CR and LF — a header injection otherwise.
 */
export function headerValueProblem(v: string): string | undefined {
  const bad = /[\u0000\r\n]/.exec(v);
  return bad ? `contains ${bad[0] === '\u0000' ? 'NUL' : bad[0] === '\r' ? 'CR' : 'LF'}, which Envoy refuses in header values, hosts and paths` : undefined;
}

/**
 * A percent as Envoy's finest FractionalPercent (denominator MILLION) carries it: in millionths,
 * rounded. The one rounding rule; compile/route.ts encodes with it, and a percent it would change
 * (a mirror or a fault that would never fire, 0.00005% sent as 0.0001%) is refused, not rounded.
 */
export function percentInMillionths(percent: number): number {
  return Math.round(percent * 10_000);
}

/** The smallest percent that survives percentInMillionths: one in a million. */
export const SMALLEST_PERCENT = 0.0001;

/** Why `percent` would not reach Envoy exactly as written, or undefined when it would. */
export function fractionalPercentProblem(percent: number): string | undefined {
  if (percent > 0 && percentInMillionths(percent) === 0) return `${percent}% would be sent to Envoy as 0% (a FractionalPercent counts in millionths): the smallest is ${SMALLEST_PERCENT}; use 0 for never`;
  if (Math.abs(percent * 10_000 - percentInMillionths(percent)) > 1e-6) return `${percent}% would be sent to Envoy as ${percentInMillionths(percent) / 10_000}% (a FractionalPercent counts in millionths): write at most 4 decimals`;
  return undefined;
}
