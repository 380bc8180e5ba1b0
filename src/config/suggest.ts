/**
 * "Did you mean" hints. Optimal string alignment distance (Levenshtein plus adjacent transpositions)
 * because the commonest typo in config keys is two swapped letters ("rotues").
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}

// Operators coming from Envoy write connect_timeout for connectTimeout: compare without case or separators.
const normalize = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/** The closest candidate, or undefined when nothing is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = normalize(word);
  const sameLetters = candidates.find((c) => normalize(c) === norm);
  if (sameLetters !== undefined) return sameLetters;
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(norm, normalize(c));
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/**
 * `; did you mean "x"?` or the empty string. Diagnostics quote YAML names with `"`; the CLI's
 * route and backend messages quote with `'`, as shells do.
 */
export function didYouMean(word: string, candidates: readonly string[], quote: '"' | "'" = '"'): string {
  const hit = closest(word, candidates);
  return hit === undefined ? '' : `; did you mean ${quote}${hit}${quote}?`;
}
