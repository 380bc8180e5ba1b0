import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';

interface Entry {
  payload: JWTPayload;
  expiresAt: number;
}

/**
 * A bounded LRU of verified token payloads so a hot token costs a hash instead of a signature check.
 * Keys are sha256 of provider + token: the cache never holds a usable bearer token. An entry never
 * outlives its token's exp (nor `maxTtlMs`, so keys removed from a JWKS stop being honoured soon).
 * Map iteration order is insertion order, which makes delete+set a move-to-front.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxTtlMs: number,
  ) {}

  static key(provider: string, token: string): string {
    return createHash('sha256').update(provider).update('\0').update(token).digest('base64');
  }

  get(key: string, now: number): JWTPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= now) {
      if (entry) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry.payload;
  }

  set(key: string, payload: JWTPayload, now: number): void {
    if (this.capacity <= 0) return;
    const expiresAt = Math.min(typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity, now + this.maxTtlMs);
    if (expiresAt <= now) return;
    this.entries.delete(key);
    this.entries.set(key, { payload, expiresAt });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
