import { createLocalJWKSet, errors, type CryptoKey, type JSONWebKeySet, type JWSHeaderParameters, type LocalJWKSet } from 'jose';
import { invalid } from './failure.js';

export interface KeyStoreOptions {
  /** Loads the current key set (HTTP fetch, OIDC discovery, file read). Throws on failure. */
  load: () => Promise<JSONWebKeySet>;
  /** Keys are refreshed in the background at 80% of this age; undefined = no timer (e.g. a watched file). */
  refreshMs?: number;
  /** Minimum time between refetches triggered by unknown kids. */
  cooldownMs: number;
  now?: () => number;
  onLoad?: (outcome: { ok: true; keys: number } | { ok: false; error: unknown }) => void;
}

/**
 * A provider's verification keys. The last good key set is kept when a reload fails, so an issuer
 * outage does not lock users out; with no key set at all every token is rejected. A token whose kid
 * is unknown may trigger one reload per cooldown window (concurrent ones share the in-flight load), so
 * a flood of made-up kids costs the issuer at most one request per window.
 */
export class KeyStore {
  private keys?: LocalJWKSet;
  private kids = new Set<string>();
  private inflight?: Promise<void>;
  private lastKidReload = -Infinity;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private lastOk = false;
  private readonly now: () => number;

  constructor(private readonly opts: KeyStoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads once (failure is not fatal: keys may arrive on a later attempt) and starts the refresh timer. */
  async start(): Promise<void> {
    const ok = await this.reload();
    this.schedule(ok);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  get hasKeys(): boolean {
    return this.keys !== undefined;
  }

  /** Reloads now (coalesced with any load already running); resolves true when keys were replaced. */
  async reload(): Promise<boolean> {
    if (!this.inflight) {
      this.inflight = this.loadOnce().finally(() => (this.inflight = undefined));
    }
    const before = this.keys;
    await this.inflight;
    return this.keys !== before;
  }

  /** The jose key resolver: picks the key for a JWS header, reloading on an unknown kid within the cooldown. */
  readonly resolve = async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    if (this.inflight) await this.inflight;
    if (!this.keys && this.mayReloadForKid()) await this.reload();
    if (!this.keys) throw invalid('no_keys', 'no signing keys available for this issuer');
    try {
      return await this.keys(header);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      const unknownKid = typeof header.kid === 'string' && !this.kids.has(header.kid);
      if (unknownKid && this.mayReloadForKid()) {
        await this.reload();
        return this.keys(header);
      }
      throw err;
    }
  };

  private mayReloadForKid(): boolean {
    const now = this.now();
    if (now - this.lastKidReload < this.opts.cooldownMs) return false;
    this.lastKidReload = now;
    return true;
  }

  private async loadOnce(): Promise<void> {
    try {
      const jwks = await this.opts.load();
      const keys = createLocalJWKSet(jwks);
      this.keys = keys;
      this.kids = new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string'));
      this.lastOk = true;
      this.opts.onLoad?.({ ok: true, keys: jwks.keys.length });
    } catch (error) {
      this.lastOk = false;
      this.opts.onLoad?.({ ok: false, error });
    }
  }

  private schedule(lastOk: boolean): void {
    if (this.stopped || this.opts.refreshMs === undefined) return;
    // Refresh before the cached set goes stale; after a failure retry sooner, but never in a tight loop.
    const delay = lastOk ? Math.max(1000, this.opts.refreshMs * 0.8) : Math.max(1000, Math.min(this.opts.cooldownMs, this.opts.refreshMs));
    this.timer = setTimeout(() => {
      void this.reload().then(() => this.schedule(this.lastOk));
    }, delay);
    this.timer.unref();
  }
}
