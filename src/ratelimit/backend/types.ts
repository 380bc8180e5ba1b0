import type { RateLimitPolicy } from '../../config/model.js';

/** One counter operation. Every algorithm reports in the same terms so the service's decision is uniform. */
export interface LimitCheck {
  /** Storage key. For fixed windows it already ends with the window start, as in envoyproxy/ratelimit. */
  key: string;
  algorithm: RateLimitPolicy['algorithm'];
  limit: number;
  windowSeconds: number;
  /** 0 = look without counting (the reference's hits_addend 0). */
  hits: number;
  nowMs: number;
}

/**
 * `after` is the count including this request's hits (for sliding/gcra the estimate, rounded up);
 * the request is over the limit when after > limit, exactly the reference's test for fixed windows.
 * Over-limit requests are not counted by sliding/gcra, so a client that keeps retrying recovers.
 */
export interface LimitResult {
  after: number;
  /** Milliseconds until the limit resets (sliding: end of the current window; gcra: bucket refilled). */
  resetMs: number;
}

export interface LimiterBackend {
  readonly name: 'memory' | 'redis';
  /** Answers from this process's own memory: nothing to wait for, so no deadline or timer applies. */
  readonly inProcess?: boolean;
  /** All checks of one request, answered in one round trip to the store. */
  check(checks: LimitCheck[]): Promise<LimitResult[]>;
  /**
   * When the backend last answered anything (a reply or an error reply), on performance.now()'s
   * clock: a backend that answers is alive, so a call waiting on it is late because this process
   * is. Absent: the service judges by its deadline alone.
   */
  lastAnswerAt?(): number;
  close(): Promise<void>;
}

// Floating-point slack so that e.g. 2.9999999 requests' worth of GCRA debt counts as 3, not 4.
export const EPSILON = 1e-6;

/** Fixed-window reset: to the end of the epoch-aligned window. */
export function fixedResetMs(windowSeconds: number, nowMs: number): number {
  const w = windowSeconds * 1000;
  return w - (nowMs % w);
}
