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
