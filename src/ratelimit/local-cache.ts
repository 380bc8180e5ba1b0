/**
 * Keys known to be over their limit until their window ends, so hot over-limit keys skip the backend
 * (envoyproxy/ratelimit's LOCAL_CACHE_SIZE_IN_BYTES cache). Only fixed windows qualify: their key
 * names the window and an entry expires at the window's end, so it never outlives the decision it
 * caches. The limiter keys entries with the limit too and clears the cache on every config change,
 * so a raised limit is never answered with the old one. Bounded; oldest evicted.
 */
export class OverLimitCache {
  private readonly entries = new Map<string, number>();

  constructor(private readonly maxKeys = 100_000) {}

  has(key: string, nowMs: number): boolean {
    const until = this.entries.get(key);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.entries.delete(key);
    return false;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  add(key: string, untilMs: number): void {
    if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, untilMs);
  }
}
