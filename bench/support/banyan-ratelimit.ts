/**
 * `banyan ratelimit` as shipped, for the benches: `node bin/banyan.js ratelimit --config <dir> ...` in
 * its own process on free loopback ports, with `--metrics-port` so that its own counters can be read
 * (Prometheus text), and its log kept (warnings and errors, fail-open lines counted).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connects, freePort, httpGet, httpOk, stopChild, waitReady } from './child.js';

/** bin/banyan.js, from source (bench/support) or from the build (dist/bench/support). */
export function banyanBin(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return path.resolve(here, '..', '..', ...(here.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []), 'bin', 'banyan.js');
}

/** `banyan ratelimit --help`, to find which flags this build has (e.g. --workers). */
export async function ratelimitHelp(): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [banyanBin(), 'ratelimit', '--help'], { timeout: 30_000 });
  return stdout;
}

/** Sum over all label sets of each sample named `name` in Prometheus text exposition. */
export function promSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

export interface BanyanCounts {
  /** ShouldRateLimit calls answered (banyan_ratelimit_decision_seconds_count). */
  calls: number;
  hits: number;
  overLimit: number;
  backendErrors: number;
  failOpen: number;
}

export interface BanyanRateLimit {
  proc: ChildProcess;
  port: number;
  metricsPort: number;
  counts(): Promise<BanyanCounts>;
  /** Warn-or-worse log lines so far (pino JSON, level ≥ 40). */
  warnings(): string[];
  /** How many log lines said that requests were let through uncounted. */
  failOpenLogLines(): number;
  stop(): Promise<void>;
}

/** Starts `banyan ratelimit` on loopback; resolves once gRPC accepts and /metrics answers 200. */
export async function startBanyanRateLimit(o: { config: string; redisUrl?: string; args?: string[]; env?: Record<string, string> }): Promise<BanyanRateLimit> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const args = [banyanBin(), 'ratelimit', '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort), '--config', o.config, ...(o.redisUrl ? ['--redis', o.redisUrl] : []), ...(o.args ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  const warnings: string[] = [];
  let failOpenLines = 0;
  let stderr = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.includes('let through uncounted')) failOpenLines++;
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level && Number(level) >= 40 && warnings.length < 100) warnings.push(line);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const stop = () => stopChild(proc, 10_000);
  try {
    await waitReady(proc, 'banyan ratelimit', async () => (await connects(port)) && (await httpOk(metricsPort, '/metrics', 5000)), () => `${stderr}${warnings.join('\n')}`, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    proc,
    port,
    metricsPort,
    async counts() {
      const { status, body } = await httpGet(metricsPort, '/metrics');
      if (status !== 200) throw new Error(`banyan ratelimit /metrics answered ${status}`);
      return {
        calls: promSum(body, 'banyan_ratelimit_decision_seconds_count'),
        hits: promSum(body, 'banyan_ratelimit_total_hits_total'),
        overLimit: promSum(body, 'banyan_ratelimit_over_limit_total'),
        backendErrors: promSum(body, 'banyan_ratelimit_backend_errors_total'),
        failOpen: promSum(body, 'banyan_ratelimit_failure_mode_allowed_total'),
      };
    },
    warnings: () => [...warnings],
    failOpenLogLines: () => failOpenLines,
    stop,
  };
}
