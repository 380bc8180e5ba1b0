/**
 * `banyan ratelimit --workers N`: N processes (node:cluster) share one listening port, so that one
 * service uses every core. Each worker is a whole `banyan ratelimit` (same flags: it reads and watches
 * the config, or follows xDS, itself); the primary only forks, restarts a worker that dies, serves
 * the workers' metrics summed, and stops them on a signal.
 *
 * Counters must be shared for N processes to enforce one limit, so workers need Redis: with the
 * memory backend each process would allow the full limit, N times the limit in all. The command
 * refuses that (see ratelimitWorkersError).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import client, { type Registry } from 'prom-client';
import type { StopReport } from '../service/stack.js';
import type { Logger } from '../telemetry/logger.js';

const READY = 'banyan:ratelimit-ready';
const STOP = 'banyan:ratelimit-stop';

/** `--workers`: a count, or `auto` (one per core). */
export function parseWorkers(value: string): number {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`"${value}" is not a worker count (1–256 or auto)`);
  return n;
}

/** Why N workers cannot serve this configuration, or undefined when they can. */
export function ratelimitWorkersError(workers: number, hasRedis: boolean): string | undefined {
  if (workers > 1 && !hasRedis) {
    return `--workers ${workers} needs --redis (or --redis-cluster/--redis-sentinel): with the memory backend each worker counts on its own, so every limit would be served ${workers} times weaker`;
  }
  return undefined;
}

export const isRateLimitWorker = (): boolean => cluster.isWorker;

/**
 * In a worker: reports readiness (the bound port) to the primary, makes the worker's registries the
 * ones the primary sums, and stops gracefully when the primary asks.
 */
export function announceWorker(port: number, registries: Registry[], stop: () => void): void {
  client.AggregatorRegistry.setRegistries(registries);
  // prom-client answers the primary's metric requests from listeners its constructor installs.
  new client.AggregatorRegistry();
  process.on('message', (m: { type?: string }) => {
    if (m?.type === STOP) stop();
  });
  process.send?.({ type: READY, port });
}

/** The sum over workers, as a Registry whose metrics() asks them (prom-client's cluster aggregation). */
class WorkersRegistry extends client.AggregatorRegistry<client.PrometheusContentType> {
  override metrics(): Promise<string> {
    return this.clusterMetrics();
  }
}

export interface RateLimitPrimary {
  port: number;
  /** One registry: its metrics() is every worker's, summed (counters, histograms) or per its aggregator. */
  registry: Registry;
  shutdown(): Promise<StopReport>;
}

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** How long a stopping worker gets before it is killed. */
  stopGraceMs?: number;
}

/**
 * Forks the workers (the same command line), resolves once every one listens. A worker that exits
 * before it is ready fails the start (its own error is on stderr); one that dies later is replaced,
 * with a growing pause when it keeps dying.
 */
export async function runRateLimitPrimary(o: PrimaryOptions): Promise<RateLimitPrimary> {
  const log = o.log;
  let stopping = false;
  let backoffMs = 100;
  const live = new Set<Worker>();
  const registry = new WorkersRegistry();

  const fork = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork();
      live.add(w);
      let ready = false;
      w.on('message', (m: { type?: string; port?: number }) => {
        if (m?.type !== READY || ready) return;
        ready = true;
        backoffMs = 100;
        resolve(m.port!);
      });
      w.on('exit', (code, signal) => {
        live.delete(w);
        if (!ready) return reject(new Error(`rate limit worker ${w.id} exited (${signal ?? `code ${code}`}) before it was ready`));
        if (stopping) return;
        log.error({ worker: w.id, code, signal, restartInMs: backoffMs }, 'rate limit worker died; starting another');
        const t = setTimeout(() => {
          if (!stopping) fork().catch((err: Error) => log.error({ err: err.message }, 'rate limit worker did not start'));
        }, backoffMs);
        t.unref();
        backoffMs = Math.min(backoffMs * 2, 5000);
      });
    });

  const stopAll = async (): Promise<StopReport> => {
    stopping = true;
    const started = performance.now();
    const stopped: string[] = [];
    const failed: string[] = [];
    const timedOut: string[] = [];
    await Promise.all(
      [...live].map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              timedOut.push(`worker ${w.id}`);
              w.process.kill('SIGKILL');
            }, o.stopGraceMs ?? 10_000);
            w.once('exit', (code) => {
              clearTimeout(timer);
              const name = `worker ${w.id}`;
              if (!timedOut.includes(name)) (code !== 0 && code !== null ? failed : stopped).push(name);
              resolve();
            });
            if (w.isConnected()) w.send({ type: STOP });
            else w.process.kill('SIGTERM');
          }),
      ),
    );
    return { clean: failed.length === 0 && timedOut.length === 0, stopped, failed, timedOut, ms: performance.now() - started };
  };

  let port: number;
  try {
    const ports = await Promise.all(Array.from({ length: o.workers }, fork));
    port = ports[0];
  } catch (err) {
    await stopAll();
    throw err;
  }
  log.info({ port, workers: o.workers }, 'rate limit workers listening');
  return { port, registry, shutdown: stopAll };
}
