/** What the scheduler runs: one stream's flush. */
export interface Flushable {
  flushNow(): void;
}

/** How long one turn of fan-out may run before the event loop gets a turn (admin API, health, ACKs). */
export const FLUSH_SLICE_MS = 4;

/**
 * Runs the streams' flushes for the whole server in slices of at most FLUSH_SLICE_MS, with a
 * setImmediate between slices: a snapshot reaching thousands of streams never holds the event loop for
 * the whole fan-out, so the admin API and /healthz are answered, and ACKs read, between slices. Streams
 * run in the order they were scheduled; one scheduled again before its turn keeps its place (its flush
 * plans the newest state anyway). Everything dirtied in one turn still goes out in one flush per stream.
 */
export class FlushScheduler {
  private readonly due = new Set<Flushable>();
  private running = false;

  constructor(private readonly sliceMs = FLUSH_SLICE_MS) {}

  /** Streams waiting for their flush. */
  get pending(): number {
    return this.due.size;
  }

  schedule(s: Flushable): void {
    this.due.add(s);
    if (!this.running) {
      this.running = true;
      setImmediate(this.slice);
    }
  }

  /** A closed stream leaves the queue. */
  cancel(s: Flushable): void {
    this.due.delete(s);
  }

  private readonly slice = (): void => {
    const end = performance.now() + this.sliceMs;
    for (const s of this.due) {
      this.due.delete(s);
      s.flushNow();
      if (performance.now() >= end) break;
    }
    if (this.due.size) setImmediate(this.slice);
    else this.running = false;
  };
}
