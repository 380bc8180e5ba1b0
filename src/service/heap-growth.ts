/**
 * How far V8 lets the old generation grow past what survived the last full GC before it collects
 * again. V8's own factor (up to 4× on a small heap) suits a process whose old objects live long; a
 * request-path service promotes short-lived objects at a steady rate (node:http2 streams that outlive
 * a scavenge), so its heap saws between the live set and several times it, and each full GC pays
 * for the whole sawtooth at once. A small growth keeps RSS near the live set and full-GC pauses
 * short, for some more (smaller) full GCs: bench:ratelimit measures the trade (BENCH_RATELIMIT_VARIANTS).
 */
import v8 from 'node:v8';

/** Sets the old generation's growth between full GCs to `percent`; 0 leaves V8's heuristics. */
export function setHeapGrowth(percent: number): void {
  if (percent === 0) return;
  // Read by V8 each time it sets the next full GC's limit, so a change at run time takes effect at the
  // next full GC (unlike the heap's sizes, which are fixed at start).
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** `--gc-heap-growth`: a whole percent, 0 (V8's own) or 5–400. */
export function parseHeapGrowth(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || (n !== 0 && (n < 5 || n > 400))) throw new Error(`"${value}" is not a heap growth (a whole percent, 5–400, or 0 for V8's own)`);
  return n;
}
