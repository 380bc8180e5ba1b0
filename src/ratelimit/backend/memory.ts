import { EPSILON, fixedResetMs, type LimitCheck, type LimiterBackend, type LimitResult } from './types.js';

interface Entry {
  value: number;
  /** Sliding windows keep the previous window's count next to the current one. */
  previous?: number;
  windowStart?: number;
  expiresAt: number;
}

export interface MemoryBackendOptions {
  /** Upper bound on stored counters; beyond it expired entries are swept, then the oldest evicted. */
  maxKeys?: number;
  sweepIntervalMs?: number;
}

/**
 * Counters in this process: the default backend, right for one replica. Memory stays bounded: expired
 * windows are swept on a timer and on overflow, and the oldest entries go first when still full.
 */
export class MemoryBackend implements LimiterBackend {
  readonly name = 'memory';
  readonly inProcess = true;
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly timer: NodeJS.Timeout;

  constructor(opts: MemoryBackendOptions = {}) {
    this.maxKeys = opts.maxKeys ?? 1_000_000;
    this.timer = setInterval(() => this.sweep(Date.now()), opts.sweepIntervalMs ?? 10_000);
    this.timer.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  async check(checks: LimitCheck[]): Promise<LimitResult[]> {
    return checks.map((c) => this.checkOne(c));
  }

  checkOne(c: LimitCheck): LimitResult {
    switch (c.algorithm) {
      case 'sliding':
        return this.sliding(c);
      case 'gcra':
        return this.gcra(c);
      default:
        return this.fixed(c);
    }
  }

  private live(key: string, nowMs: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private store(key: string, entry: Entry): void {
    if (!this.entries.has(key) && this.entries.size >= this.maxKeys) {
      this.sweep(entry.expiresAt - 1);
      for (const oldest of this.entries.keys()) {
        if (this.entries.size < this.maxKeys) break;
        this.entries.delete(oldest);
      }
    }
    this.entries.set(key, entry);
  }

  private fixed(c: LimitCheck): LimitResult {
    const w = c.windowSeconds * 1000;
    const e = this.live(c.key, c.nowMs);
    const after = (e?.value ?? 0) + c.hits;
    if (e) e.value = after;
    else if (c.hits > 0) this.store(c.key, { value: after, expiresAt: Math.floor(c.nowMs / w) * w + w });
    return { after, resetMs: fixedResetMs(c.windowSeconds, c.nowMs) };
  }

  private sliding(c: LimitCheck): LimitResult {
    const w = c.windowSeconds * 1000;
    const start = Math.floor(c.nowMs / w) * w;
    const e = this.live(c.key, c.nowMs);
    let current = 0;
    let previous = 0;
    if (e?.windowStart === start) {
      current = e.value;
      previous = e.previous ?? 0;
    } else if (e?.windowStart === start - w) {
      previous = e.value;
    }
    const estimate = previous * (1 - (c.nowMs - start) / w) + current;
    const after = Math.ceil(estimate + c.hits - EPSILON);
    if (after <= c.limit && c.hits > 0) this.store(c.key, { value: current + c.hits, previous, windowStart: start, expiresAt: start + 2 * w });
    return { after, resetMs: start + w - c.nowMs };
  }

  private gcra(c: LimitCheck): LimitResult {
    const w = c.windowSeconds * 1000;
    if (c.limit === 0) return { after: c.hits, resetMs: w };
    const interval = w / c.limit;
    const tat = Math.max(this.live(c.key, c.nowMs)?.value ?? c.nowMs, c.nowMs);
    const after = Math.ceil((tat - c.nowMs) / interval + c.hits - EPSILON);
    let newTat = tat;
    if (after <= c.limit && c.hits > 0) {
      newTat = tat + c.hits * interval;
      this.store(c.key, { value: newTat, expiresAt: Math.ceil(newTat) });
    }
    return { after, resetMs: Math.ceil(newTat - c.nowMs) };
  }

  sweep(nowMs: number): void {
    for (const [k, e] of this.entries) if (e.expiresAt <= nowMs) this.entries.delete(k);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.entries.clear();
  }
}
