/**
 * A circuit breaker in front of the backend, so that a Redis that is down or stalled costs each call
 * nothing rather than the whole timeout:
 *
 * - closed: every call goes to the backend; `failures` consecutive timeouts or errors open it.
 * - open: calls are refused at once (the failure mode answers) until the backoff has passed.
 * - half-open: one call at a time goes through as a probe (the others are still refused); a probe
 *   that succeeds closes the breaker, one that fails opens it again with the backoff doubled (up to
 *   `maxBackoffMs`). The backoff starts again from `backoffMs` once closed.
 *
 * The clock is monotonic (performance.now) and injectable for tests.
 */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker; 0 turns the breaker off. Default 5. */
  failures?: number;
  /** First wait before a probe, doubled after each failed probe. Default 100 ms. */
  backoffMs?: number;
  /** Longest wait between probes. Default 5 s. */
  maxBackoffMs?: number;
  now?: () => number;
  /** Told of every state change (metrics, logs). */
  onChange?: (state: BreakerState) => void;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export const BREAKER_DEFAULTS = { failures: 5, backoffMs: 100, maxBackoffMs: 5000 } as const;

/** Why a call was refused without asking the backend. */
export class BreakerOpenError extends Error {
  constructor(readonly retryInMs: number) {
    super(`circuit breaker open (next probe in ${Math.max(0, Math.ceil(retryInMs))}ms)`);
    this.name = 'BreakerOpenError';
  }
}

export class CircuitBreaker {
  private stateValue: BreakerState = 'closed';
  private consecutive = 0;
  private backoff: number;
  private openUntil = 0;
  private probing = false;
  private readonly threshold: number;
  private readonly baseBackoff: number;
  private readonly maxBackoff: number;
  private readonly now: () => number;
  private readonly onChange?: (state: BreakerState) => void;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = opts.failures ?? BREAKER_DEFAULTS.failures;
    this.baseBackoff = Math.max(1, opts.backoffMs ?? BREAKER_DEFAULTS.backoffMs);
    this.maxBackoff = Math.max(this.baseBackoff, opts.maxBackoffMs ?? BREAKER_DEFAULTS.maxBackoffMs);
    this.backoff = this.baseBackoff;
    this.now = opts.now ?? (() => performance.now());
    this.onChange = opts.onChange;
  }

  get state(): BreakerState {
    return this.stateValue;
  }

  get enabled(): boolean {
    return this.threshold > 0;
  }

  /**
   * Asks to call the backend. Returns a token to settle with success() or failure(), or throws
   * BreakerOpenError when the call must not go out (open, or half-open with a probe in flight).
   */
  acquire(): Ticket {
    if (this.threshold <= 0 || this.stateValue === 'closed') return CLOSED_TICKET;
    const now = this.now();
    if (this.stateValue === 'open') {
      if (now < this.openUntil) throw new BreakerOpenError(this.openUntil - now);
      this.set('half_open');
    }
    if (this.probing) throw new BreakerOpenError(0);
    this.probing = true;
    return PROBE_TICKET;
  }

  success(ticket: Ticket): void {
    if (ticket === PROBE_TICKET) this.probing = false;
    this.consecutive = 0;
    if (this.stateValue !== 'closed') {
      this.backoff = this.baseBackoff;
      this.set('closed');
    }
  }

  failure(ticket: Ticket): void {
    if (this.threshold <= 0) return;
    if (ticket === PROBE_TICKET) {
      this.probing = false;
      this.backoff = Math.min(this.backoff * 2, this.maxBackoff);
      this.trip(this.backoff);
      return;
    }
    if (this.stateValue !== 'closed') return;
    this.consecutive++;
    if (this.consecutive >= this.threshold) this.trip(this.backoff);
  }

  private trip(waitMs: number): void {
    this.consecutive = 0;
    this.openUntil = this.now() + waitMs;
    this.set('open');
  }

  private set(state: BreakerState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.onChange?.(state);
  }
}

/** Which kind of call a ticket stands for: a regular one (closed) or the half-open probe. */
export type Ticket = typeof CLOSED_TICKET | typeof PROBE_TICKET;
const CLOSED_TICKET = Symbol('closed');
const PROBE_TICKET = Symbol('probe');
