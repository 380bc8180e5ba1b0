/**
 * Durations as operators write them: `500ms`, `2s`, `1.5s`, `1m`, `1h`, and Go-style compounds such
 * as `1m30s`. The model keeps milliseconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';
export const DURATION_HINT = 'use a number with a unit, e.g. 500ms, 2s, 1.5s, 1m, 1h';

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  PART.lastIndex = 0;
  let total = 0;
  let matched = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = PART.lastIndex;
  }
  if (matched === 0 || matched !== text.length) return undefined;
  // Keep microsecond precision but drop float noise such as 1.1s → 1100.0000000000002.
  return Math.round(total * 1000) / 1000;
}

const UNIT_NS: Record<string, bigint> = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** The exact length of `text` in nanoseconds (decimal arithmetic, no float), or undefined when it is not a duration. */
export function parseDurationNanos(text: string): bigint | undefined {
  if (parseDuration(text) === undefined) return undefined;
  PART.lastIndex = 0;
  let total = 0n;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    const [whole, frac = ''] = m[1].split('.');
    const unit = UNIT_NS[m[2]];
    const scale = 10n ** BigInt(frac.length);
    const part = BigInt(whole) * unit * scale + BigInt(frac || '0') * unit;
    // A fraction of a nanosecond is kept as a marker: it can never be written exactly.
    total += part % scale === 0n ? part / scale : -1n;
    if (total < 0n) return -1n;
  }
  return total;
}

/** 2^53 microseconds: beyond it (about 285 years) a millisecond double no longer holds every microsecond. */
const EXACT_MICROS = 2n ** 53n;

/**
 * Why `text` cannot be kept exactly as written, or undefined. Banyan models durations in milliseconds
 * with microsecond precision; anything finer would be rounded silently (a 100ns timeout would go out
 * as 0 — "no timeout"), so it is refused instead.
 */
export function durationPrecisionProblem(text: string): string | undefined {
  const ns = parseDurationNanos(text);
  if (ns === undefined) return undefined;
  if (ns < 0n || ns % 1000n !== 0n) return `duration "${text}" is finer than a microsecond, the precision Banyan keeps`;
  if (ns / 1000n > EXACT_MICROS && ns % 1_000_000_000n !== 0n) return `duration "${text}" is over 285 years with a fraction of a second: write whole seconds`;
  return undefined;
}
