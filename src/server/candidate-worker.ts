/**
 * Candidate configs (validate, diff) are loaded, compiled and admitted in a worker thread, one at a
 * time, with a bounded queue: the event loop that pushes xDS never waits for them.
 *
 * Why a worker and not only a queue on the main thread: measured with pipeline.check on a
 * generated config (routes with retries, headers and two weighted clusters each), one check blocks
 * for 4.1 s at 0.5 MB, 5.9 s at 1 MB and 336 s at 7.6 MB. Serialising them would still stall every
 * push behind one check for seconds, so a shift could not reach proxies within 1 s.
 *
 * The worker builds its own ConfigPipeline with the server's load and compile options, and derives
 * what is live from the live files and overrides (cached by content), so its diffs are the same as
 * ControlPlane.diffCandidate's.
 */
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { OverloadedError, type CandidateCheck, type CandidateDiff, type DiffLevel } from '../admin/operations.js';
import { ConfigRejectedError } from '../admission/errors.js';
import type { CompileOptions } from '../compile/index.js';
import { hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { readFileFromDisk, type LoadOptions } from '../config/load.js';
import type { OverrideLike } from '../config/overrides.js';
import type { ConfigFile } from '../store/types.js';
import { createLogger } from '../telemetry/logger.js';
import { createRegistry } from '../telemetry/metrics.js';
import { ConfigPipeline } from './pipeline.js';

type Job =
  | { kind: 'validate'; files: ConfigFile[] }
  | { kind: 'diff'; files: ConfigFile[]; level: DiffLevel; live: { files: ConfigFile[]; overrides: OverrideLike[] } };

type Reply = { ok: true; value: unknown } | { ok: false; rejected?: Diagnostic[]; message?: string };

interface Options {
  loadOptions: LoadOptions;
  compileOptions: CompileOptions;
}

/** The options a pipeline was made with (the worker must load and compile exactly alike). */
/** Undefined when they cannot cross to a worker (a readFile other than the disk's): then checks run in-process. */
export function pipelineOptions(pipeline: ConfigPipeline): Options | undefined {
  const { loadOptions, compileOptions } = pipeline.options();
  const { readFile, ...load } = loadOptions;
  // The worker's pipeline reads secrets from the disk by default, as this one does.
  if (readFile !== undefined && readFile !== readFileFromDisk) return undefined;
  return { loadOptions: load, compileOptions };
}

/** What the worker does for one job (also the in-process fallback). */
function run(pipeline: ConfigPipeline, job: Job): Reply {
  const { config, diagnostics } = pipeline.check(job.files);
  if (job.kind === 'validate') return { ok: true, value: { valid: !hasErrors(diagnostics), diagnostics } satisfies CandidateCheck };
  if (!config || hasErrors(diagnostics)) return { ok: false, rejected: diagnostics };
  const applied = pipeline.apply(job.live.files, job.live.overrides);
  if (!applied.ok) return { ok: false, message: 'the live config did not load in the check worker' };
  return { ok: true, value: pipeline.diffCandidate(config, job.level, applied.applied) };
}

if (!isMainThread && (workerData as { banyanCandidateWorker?: Options } | null)?.banyanCandidateWorker) {
  const opts = (workerData as { banyanCandidateWorker: Options }).banyanCandidateWorker;
  const pipeline = new ConfigPipeline({ snapshot() {} }, createLogger('candidate-worker', 'silent'), createRegistry(), opts.loadOptions, opts.compileOptions);
  parentPort!.on('message', (job: Job) => {
    let reply: Reply;
    try {
      reply = run(pipeline, job);
    } catch (err) {
      reply = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    parentPort!.postMessage(reply);
  });
}

function unwrap(reply: Reply): unknown {
  if (reply.ok) return reply.value;
  if (reply.rejected) throw new ConfigRejectedError(reply.rejected);
  throw new Error(`config check failed: ${reply.message}`);
}

interface Pending {
  job: Job;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

/**
 * Runs candidate checks in one worker thread, one at a time; `maxQueued` more may wait, beyond that
 * a check is refused (OverloadedError: 503 with Retry-After). Memory stays bounded the same way:
 * one candidate is being compiled at any time.
 */
export class CandidateChecker {
  private worker?: Worker;
  private busy?: Pending;
  private readonly queue: Pending[] = [];
  private closed = false;
  private readonly options?: Options;

  constructor(
    private readonly pipeline: ConfigPipeline,
    private readonly maxQueued = 2,
  ) {
    this.options = pipelineOptions(pipeline);
  }

  /** Checks running or queued. */
  get pending(): number {
    return (this.busy ? 1 : 0) + this.queue.length;
  }

  async validate(files: ConfigFile[]): Promise<CandidateCheck> {
    return (await this.submit({ kind: 'validate', files })) as CandidateCheck;
  }

  async diff(files: ConfigFile[], level: DiffLevel): Promise<CandidateDiff> {
    const live = this.pipeline.served();
    return (await this.submit({ kind: 'diff', files, level, live: { files: live.files, overrides: live.overrides } })) as CandidateDiff;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new OverloadedError('the server is shutting down'));
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private async submit(job: Job): Promise<unknown> {
    if (this.closed) throw new OverloadedError('the server is shutting down');
    if (!this.options) return unwrap(run(this.pipeline, job));
    if (this.busy && this.queue.length >= this.maxQueued) {
      throw new OverloadedError(`busy: ${1 + this.queue.length} config checks are running or queued; retry later`, 5);
    }
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.next();
    });
    return unwrap(reply);
  }

  private next(): void {
    if (this.busy || this.closed) return;
    const p = this.queue.shift();
    if (!p) return;
    this.busy = p;
    let worker: Worker;
    try {
      worker = this.spawn();
    } catch (err) {
      this.busy = undefined;
      p.reject(err as Error);
      return this.next();
    }
    worker.ref();
    worker.postMessage(p.job);
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const self = fileURLToPath(import.meta.url);
    const workerData = { banyanCandidateWorker: this.options };
    // Under tsx/vitest this module is TypeScript: the worker registers tsx's loader before importing it.
    const worker = self.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`, { eval: true, workerData })
      : new Worker(self, { workerData });
    worker.unref();
    worker.on('message', (reply: Reply) => this.done(reply));
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      const p = this.busy;
      this.busy = undefined;
      p?.reject(err);
      this.next();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`config check worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private done(reply: Reply): void {
    const p = this.busy;
    this.busy = undefined;
    this.worker?.unref();
    p?.resolve(reply);
    this.next();
  }
}
