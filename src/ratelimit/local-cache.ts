/**
 * Keys known to be over their limit until their window ends, so hot over-limit keys skip the backend
 * (envoyproxy/ratelimit's LOCAL_CACHE_SIZE_IN_BYTES cache). Only fixed windows qualify: their key
 * names the window, so an entry can never outlive the decision it caches. Bounded; oldest evicted.
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

  add(key: string, untilMs: number): void {
    if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, untilMs);
  }
}
