import * as grpc from '@grpc/grpc-js';

/** What one batch of RPCs did: successes per backend name, failures per status name (UNAVAILABLE, ...). */
export interface BatchResult {
  counts: Record<string, number>;
  errors: Record<string, number>;
}

export interface RecordedBatch extends BatchResult {
  /** Date.now() when the batch's first call was issued and when its last answer came. */
  start: number;
  end: number;
}

/**
 * `n` calls of the echo service's Who through `client` (test/support/echo.ts), `concurrency` at a
 * time, counted by the backend that answered; failures are counted by status name, never thrown.
 */
export async function echoBatch(client: grpc.Client, n: number, concurrency = 5, deadlineMs = 5_000): Promise<BatchResult> {
  const out: BatchResult = { counts: {}, errors: {} };
  let issued = 0;
  const call = () =>
    new Promise<void>((resolve) =>
      (client as unknown as Record<string, Function>).Who({}, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res?: { backend: string }) => {
        if (err) {
          const name = grpc.status[err.code] ?? String(err.code);
          out.errors[name] = (out.errors[name] ?? 0) + 1;
        } else {
          out.counts[res!.backend] = (out.counts[res!.backend] ?? 0) + 1;
        }
        resolve();
      }),
    );
  const worker = async () => {
    while (issued < n) {
      issued++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out;
}

/** Sums batches. */
export function total(batches: readonly BatchResult[]): BatchResult & { calls: number } {
  const out = { counts: {} as Record<string, number>, errors: {} as Record<string, number>, calls: 0 };
  for (const b of batches) {
    for (const [k, v] of Object.entries(b.counts)) {
      out.counts[k] = (out.counts[k] ?? 0) + v;
      out.calls += v;
    }
    for (const [k, v] of Object.entries(b.errors)) {
      out.errors[k] = (out.errors[k] ?? 0) + v;
      out.calls += v;
    }
  }
  return out;
}

/**
 * Steady traffic from one client: batch after batch, each recorded with when it ran, until stop().
 * `pauseMs` between batches shapes the load (a 2-core machine shared with other tests must not be
 * saturated by a client spinning as fast as loopback allows); nothing waits on it for a result.
 * A batch that rejects (the client process died) stops the loop; `failure` says why.
 */
export class SteadyTraffic {
  readonly batches: RecordedBatch[] = [];
  failure?: Error;
  private running = false;
  private loop?: Promise<void>;
  private pause?: { timer: NodeJS.Timeout; resolve: () => void };

  constructor(
    readonly name: string,
    private readonly batch: () => Promise<BatchResult>,
    private readonly pauseMs = 100,
  ) {}

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.loop = this.run();
    return this;
  }

  /** Stops after the batch in flight (which is still recorded). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.resolve();
    }
    await this.loop;
  }

  /** Batches that ran entirely within [from, to]. */
  within(from: number, to = Infinity): RecordedBatch[] {
    return this.batches.filter((b) => b.start >= from && b.end <= to);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const start = Date.now();
      try {
        const r = await this.batch();
        this.batches.push({ ...r, start, end: Date.now() });
      } catch (err) {
        this.failure = err as Error;
        this.running = false;
        return;
      }
      if (!this.running) return;
      await new Promise<void>((resolve) => {
        this.pause = { timer: setTimeout(resolve, this.pauseMs), resolve };
      });
      this.pause = undefined;
    }
  }
}
