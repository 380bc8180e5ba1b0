/**
 * envoyproxy/ratelimit itself (the reference Banyan's rate limit service is compatible with), for
 * the benches that measure next to it: `go install`ed once from the Go module proxy at a pinned
 * version into node_modules/.cache, and started on loopback with a runtime directory holding the
 * bench's YAML, the bench's Redis, statsd off and free ports.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connects, freePort, httpOk, stopChild, waitReady } from './child.js';

/** A pseudo-version of main (the proxy refuses `@main` for this module); the newest at the time of pinning. */
export const REFERENCE_VERSION = 'v1.4.1-0.20260122083618-3fb702589d36';
export const REFERENCE_PACKAGE = 'github.com/envoyproxy/ratelimit/src/service_cmd';
export const REFERENCE_NAME = `envoyproxy/ratelimit ${REFERENCE_VERSION}`;

export type ReferenceBinary = { bin: string } | { unavailable: string };

/** The repository root, from source (bench/support) or from the build (dist/bench/support). */
function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return path.resolve(here, '..', '..', ...(here.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []));
}

/**
 * envoyproxy/ratelimit's service_cmd: BENCH_REFERENCE_BIN if set, else the cached build, else
 * `go install ...@REFERENCE_VERSION` into node_modules/.cache/banyan-go (about 2 minutes cold).
 * Never throws: when Go is missing or the install fails, says why, for the bench to print.
 */
export async function referenceBinary(timeoutMs = 600_000): Promise<ReferenceBinary> {
  if (process.env.BENCH_REFERENCE_BIN) {
    const bin = process.env.BENCH_REFERENCE_BIN;
    return fs.existsSync(bin) ? { bin } : { unavailable: `BENCH_REFERENCE_BIN=${bin} does not exist` };
  }
  const gobin = path.join(repoRoot(), 'node_modules', '.cache', 'banyan-go', `ratelimit-${REFERENCE_VERSION}`);
  const bin = path.join(gobin, 'service_cmd');
  if (fs.existsSync(bin)) return { bin };
  try {
    await promisify(execFile)('go', ['version'], { timeout: 30_000 });
  } catch (err) {
    return { unavailable: `Go is not available (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? '`go` not on PATH' : (err as Error).message.split('\n')[0]}); install Go ≥ 1.23 to measure the reference` };
  }
  console.error(`installing ${REFERENCE_PACKAGE}@${REFERENCE_VERSION} into ${gobin} (once; about 2 minutes)...`);
  try {
    await promisify(execFile)('go', ['install', `${REFERENCE_PACKAGE}@${REFERENCE_VERSION}`], {
      cwd: os.tmpdir(),
      env: { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const why = (e.stderr?.trim().split('\n').slice(-3).join(' | ') || e.message.split('\n')[0]).slice(0, 500);
    return { unavailable: `go install ${REFERENCE_PACKAGE}@${REFERENCE_VERSION} failed: ${why}` };
  }
  return fs.existsSync(bin) ? { bin } : { unavailable: `go install succeeded but ${bin} is missing` };
}

export interface ReferenceServer {
  proc: ChildProcess;
  /** gRPC port. */
  port: number;
  /** The last 4 kB of its stderr (it logs there). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts the reference on loopback: RUNTIME_ROOT/ratelimit/config/<file> for each entry of `config`,
 * Redis at `redisHostPort` (host:port), USE_STATSD=false, every port free; resolves once its gRPC
 * port accepts and its /healthcheck answers 200 (config loaded, Redis connected).
 */
export async function startReference(o: { bin: string; redisHostPort: string; config: Record<string, string>; dir: string; env?: Record<string, string> }): Promise<ReferenceServer> {
  const runtime = fs.mkdtempSync(path.join(o.dir, 'reference-runtime-'));
  const configDir = path.join(runtime, 'ratelimit', 'config');
  fs.mkdirSync(configDir, { recursive: true });
  for (const [file, yaml] of Object.entries(o.config)) fs.writeFileSync(path.join(configDir, file), yaml);
  const [grpcPort, httpPort, debugPort] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(o.bin, [], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      USE_STATSD: 'false',
      LOG_LEVEL: 'warn',
      BACKEND_TYPE: 'redis',
      REDIS_SOCKET_TYPE: 'tcp',
      REDIS_URL: o.redisHostPort,
      RUNTIME_ROOT: runtime,
      RUNTIME_SUBDIRECTORY: 'ratelimit',
      RUNTIME_WATCH_ROOT: 'false',
      RUNTIME_IGNOREDOTFILES: 'true',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HOST: '127.0.0.1',
      PORT: String(httpPort),
      DEBUG_HOST: '127.0.0.1',
      DEBUG_PORT: String(debugPort),
      ...o.env,
    },
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const stop = async (): Promise<void> => {
    await stopChild(proc, 5000);
    fs.rmSync(runtime, { recursive: true, force: true });
  };
  try {
    await waitReady(proc, 'envoyproxy/ratelimit', async () => (await connects(grpcPort)) && (await httpOk(httpPort, '/healthcheck')), () => stderr, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, port: grpcPort, log: () => stderr, stop };
}
