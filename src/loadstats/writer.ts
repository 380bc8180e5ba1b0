import type { Logger } from 'pino';
import type client from 'prom-client';
import type { LoadSample, Store } from '../store/types.js';
import { prom } from '../telemetry/metrics.js';

export interface SampleWriterOptions {
  store: Pick<Store, 'addLoadSamples'>;
  logger: Logger;
  registry?: client.Registry;
  /** A batch is written at most this often (default 500 ms). */
  flushMs?: number;
  /** Samples kept while the store refuses them; beyond this the oldest are dropped (default 10,000). */
  maxPending?: number;
  now?: () => number;
}

/**
 * Load samples on their way to the store, in batches: one write per `flushMs` however many streams
 * report. A write that fails is logged and its batch kept for the next one (a store outage must not
 * lose the canary's numbers), up to `maxPending` samples, the oldest dropped first with a warning.
 */
export class SampleWriter {
  private pending: LoadSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private stopped = false;
  /** The store refused the last write: later failures of the same outage log at debug. */
  private failing = false;
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly log: Logger;
  private readonly written: client.Counter;
  private readonly dropped: client.Counter;
  private readonly failures: client.Counter;

  constructor(private readonly opts: SampleWriterOptions) {
    this.flushMs = opts.flushMs ?? 500;
    this.maxPending = opts.maxPending ?? 10_000;
    this.log = opts.logger;
    const registers = opts.registry ? [opts.registry] : [];
    this.written = new prom.Counter({ name: 'banyan_load_samples_written_total', help: 'Load samples (LRS and metrics service) written to the store', registers });
    this.dropped = new prom.Counter({
      name: 'banyan_load_samples_dropped_total',
      help: 'Load samples dropped unwritten because the store kept refusing them and too many were waiting',
      registers,
    });
    this.failures = new prom.Counter({ name: 'banyan_load_samples_write_failures_total', help: 'Batches of load samples the store refused (kept for the next write)', registers });
  }

  /** Samples waiting for the next write. */
  get pendingCount(): number {
    return this.pending.length;
  }

  add(samples: readonly LoadSample[]): void {
    if (!samples.length || this.stopped) return;
    this.pending.push(...samples);
    this.bound();
    this.schedule();
  }

  /** Writes what is waiting now (and waits for a write already under way). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.write(batch);
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
    if (this.pending.length) this.schedule();
  }

  /** Writes what is left once; later samples are ignored. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Each sample is stamped with the time of the write that stores it: analysis runs follow on from
   * one another over `at`, so a sample counts in exactly one run however long it waited here (a
   * batch, or a store outage), instead of falling between two runs.
   */
  private async write(batch: LoadSample[]): Promise<void> {
    try {
      const at = (this.opts.now ?? Date.now)();
      await this.opts.store.addLoadSamples(batch.map((s) => ({ ...s, at })));
      this.written.inc(batch.length);
      if (this.failing) this.log.info({ samples: batch.length }, 'load samples stored again');
      this.failing = false;
    } catch (err) {
      this.failures.inc();
      const level = this.failing ? 'debug' : 'warn';
      this.log[level]({ err, samples: batch.length }, 'load samples not stored; kept for the next write');
      this.failing = true;
      // Older first, so that what is dropped when too many wait is the oldest.
      this.pending = [...batch, ...this.pending];
      this.bound();
    }
  }

  private bound(): void {
    const excess = this.pending.length - this.maxPending;
    if (excess <= 0) return;
    this.pending.splice(0, excess);
    this.dropped.inc(excess);
    this.log.warn({ dropped: excess, kept: this.maxPending }, 'too many load samples waiting for the store: the oldest were dropped');
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.log.error({ err }, 'load sample flush failed'));
    }, this.flushMs);
    this.timer.unref();
  }
}
