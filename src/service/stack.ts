import type { Logger } from '../telemetry/logger.js';

/** Long enough for in-flight calls and a store flush; short enough for a Kubernetes grace period (30 s). */
export const DEFAULT_STOP_DEADLINE_MS = 10_000;

export interface StopReport {
  /** Parts that stopped, in the order they did. */
  stopped: string[];
  failed: string[];
  /** Parts still stopping when the deadline passed. */
  timedOut: string[];
  clean: boolean;
  ms: number;
}

type StopFn = () => unknown;

/**
 * What a process started, as a stack: stopped in reverse order, so that whatever feeds a part (the
 * watcher, the admin API) stops before it and the store closes last. One deadline bounds the whole
 * stop: a part that hangs (a client holding a stream open) cannot keep the process alive, and the
 * parts after it are still stopped. Ends with one `stopped` log line naming what stopped.
 */
export class ServiceStack {
  private readonly parts: { name: string; stop: StopFn }[] = [];
  private stopping?: Promise<StopReport>;

  constructor(
    private readonly log?: Logger,
    private readonly deadlineMs = DEFAULT_STOP_DEADLINE_MS,
  ) {}

  add(name: string, stop: StopFn): void {
    // A part started while stopping would outlive the process's idea of what runs.
    if (this.stopping) throw new Error(`cannot add ${name}: stopping`);
    this.parts.push({ name, stop });
  }

  /** Idempotent: a second call (a signal during a stop) waits for the same stop. */
  stop(): Promise<StopReport> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<StopReport> {
    const started = Date.now();
    const deadline = started + this.deadlineMs;
    const report: StopReport = { stopped: [], failed: [], timedOut: [], clean: true, ms: 0 };
    for (const part of this.parts.splice(0).reverse()) {
      const outcome = await settleBy(part.stop, deadline);
      if (outcome.ok) report.stopped.push(part.name);
      else if (outcome.timedOut) report.timedOut.push(part.name);
      else {
        report.failed.push(part.name);
        this.log?.error({ err: outcome.err, part: part.name }, `stopping ${part.name} failed`);
      }
    }
    report.clean = !report.failed.length && !report.timedOut.length;
    report.ms = Date.now() - started;
    if (report.clean) this.log?.info({ stopped: report.stopped, ms: report.ms }, 'stopped');
    else this.log?.warn({ stopped: report.stopped, failed: report.failed, timedOut: report.timedOut, ms: report.ms }, 'stopped');
    return report;
  }
}

type Outcome = { ok: true } | { ok: false; timedOut: true } | { ok: false; timedOut: false; err: unknown };

async function settleBy(stop: StopFn, deadline: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, timedOut: true }), Math.max(0, deadline - Date.now()));
  });
  const done = (async (): Promise<Outcome> => {
    await stop();
    return { ok: true };
  })().catch((err: unknown): Outcome => ({ ok: false, timedOut: false, err }));
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
