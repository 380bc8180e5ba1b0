/** Number formatting shared by the bench tables. */
export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';

export const pct = (part: number, whole: number): string => `${fmt((100 * part) / whole, 1)}%`;

export const verdict = (met: boolean): string => (met ? 'met' : 'NOT met');
