import type { JWTPayload } from 'jose';
import type { Revocation, RevocationKind, Store } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * The revoked jti, sub and sid values the authorizer denies, as plain maps: a check costs at most
 * three lookups, so it runs on every request, cache hit or not. Semantics (see store/types.ts):
 * `jti` denies that token; `sid` every token of that session; `sub` the subject's tokens issued at
 * or before the revocation (iat ≤ createdAt; a token without iat counts as older), so a user whose
 * tokens were revoked can log in again. An entry is ignored from its expiresAt on.
 */
export class RevocationList {
  private jti = new Map<string, Revocation>();
  private sub = new Map<string, Revocation>();
  private sid = new Map<string, Revocation>();

  /** Replaces the whole list (what the store holds now). */
  replace(revocations: readonly Revocation[]): void {
    const next = { jti: new Map<string, Revocation>(), sub: new Map<string, Revocation>(), sid: new Map<string, Revocation>() };
    for (const r of revocations) next[r.kind].set(r.value, r);
    this.jti = next.jti;
    this.sub = next.sub;
    this.sid = next.sid;
  }

  /** Adds one entry at once (a revocation made through this process). */
  add(r: Revocation): void {
    this.mapOf(r.kind).set(r.value, r);
  }

  remove(kind: RevocationKind, value: string): void {
    this.mapOf(kind).delete(value);
  }

  get size(): number {
    return this.jti.size + this.sub.size + this.sid.size;
  }

  /** The entry that revokes this token at `now`, if any. */
  match(payload: JWTPayload, now: number): Revocation | undefined {
    if (!this.size) return undefined;
    const live = (r: Revocation | undefined) => (r && r.expiresAt > now ? r : undefined);
    if (typeof payload.jti === 'string') {
      const r = live(this.jti.get(payload.jti));
      if (r) return r;
    }
    if (typeof payload.sid === 'string') {
      const r = live(this.sid.get(payload.sid));
      if (r) return r;
    }
    if (typeof payload.sub === 'string') {
      const r = live(this.sub.get(payload.sub));
      if (r && (typeof payload.iat !== 'number' || payload.iat * 1000 <= r.createdAt)) return r;
    }
    return undefined;
  }

  /** Forgets entries expired at `now` (the list is also replaced whole on every sync). */
  prune(now: number): void {
    for (const m of [this.jti, this.sub, this.sid]) for (const [k, r] of m) if (r.expiresAt <= now) m.delete(k);
  }

  private mapOf(kind: RevocationKind): Map<string, Revocation> {
    return kind === 'jti' ? this.jti : kind === 'sub' ? this.sub : this.sid;
  }
}

export type RevocationStore = Pick<Store, 'listRevocations' | 'pruneRevocations' | 'watch'>;

export interface RevocationSyncOptions {
  /** Full re-read as a safety net besides change notifications; default 30 s. */
  resyncMs?: number;
  now?: () => number;
  logger?: Logger;
}

/**
 * Keeps a RevocationList equal to the store's revocations: loaded at start, re-read on every
 * `revocation` (or `resync`) change the store reports — for PostgreSQL, any replica's, over
 * LISTEN/NOTIFY — and every `resyncMs` in case a notification was lost. Re-reads never overlap: a
 * change during one triggers exactly one more. The periodic pass also prunes expired entries.
 */
export class RevocationSync {
  private unwatch?: () => void;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(
    readonly list: RevocationList,
    private readonly store: RevocationStore,
    private readonly opts: RevocationSyncOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads the list (throws if the store cannot be read) and starts following changes. */
  async start(): Promise<void> {
    this.unwatch = this.store.watch((change) => {
      if (change.kind === 'revocation' || change.kind === 'resync') void this.refresh();
    });
    await this.load();
    this.timer = setInterval(() => void this.periodic(), this.opts.resyncMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    clearInterval(this.timer);
  }

  /** Re-reads now; resolves when a read that started after this call has finished (or failed, logged). */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        try {
          await this.load();
        } catch (err) {
          this.opts.logger?.warn({ err: String(err) }, 'cannot read token revocations; keeping the last list');
        }
      } while (this.again && !this.stopped);
    };
    this.running = run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async load(): Promise<void> {
    const list = await this.store.listRevocations(this.now());
    if (!this.stopped) this.list.replace(list);
  }

  private async periodic(): Promise<void> {
    try {
      await this.store.pruneRevocations(this.now());
    } catch {
      // the store is down: refresh() below logs it
    }
    await this.refresh();
  }
}
