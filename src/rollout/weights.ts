import type { BackendWeight } from '../config/routes.js';

/**
 * The route's weights with `target` at `percent` %: the other backends share the rest in proportion
 * to their starting weights, as whole numbers summing to exactly 100 (largest remainder). Backends
 * keep their starting order, the target is appended if it was not among them, and a backend at 0 %
 * stays listed so status output keeps showing it.
 */
export function stepWeights(from: readonly BackendWeight[], target: string, percent: number): BackendWeight[] {
  const others = from.filter((b) => b.cluster !== target);
  const total = others.reduce((s, b) => s + b.weight, 0);
  const rest = 100 - percent;
  const exact = others.map((b) => (total === 0 ? 0 : (rest * b.weight) / total));
  const shares = exact.map(Math.floor);
  let left = total === 0 ? 0 : rest - shares.reduce((s, x) => s + x, 0);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (left-- <= 0) break;
    shares[i]++;
  }
  const weightOf = new Map(others.map((b, i) => [b.cluster, shares[i]]));
  const out = from.map((b) => ({ cluster: b.cluster, weight: b.cluster === target ? percent : weightOf.get(b.cluster)! }));
  if (!from.some((b) => b.cluster === target)) out.push({ cluster: target, weight: percent });
  return out;
}
