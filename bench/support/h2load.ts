/**
 * Drives a gRPC unary method with h2load (nghttp2-client): a native, single-threaded HTTP/2 load
 * generator that costs far less CPU than the service it loads, so the figures describe the service.
 * Latencies come from h2load's per-request log and percentiles are computed exactly here.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface GrpcTarget {
  port: number;
  /** `/package.Service/Method` */
  method: string;
  /** A framed request body (see grpc-frame.ts), sent on every request. */
  bodyFile: string;
}

export interface LoadStats {
  /** Requests answered HTTP 200 (gRPC puts errors in trailers; callers check a sample's grpc-status). */
  ok: number;
  /** Streams that failed, were reset or answered anything but 200. */
  failed: number;
  /** Answers per second over the measured window. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface OpenLoopStats extends LoadStats {
  /** Requests per second actually sent (h2load's timer runs a little late; see openLoop). */
  offered: number;
}

const H2LOAD = process.env.H2LOAD ?? 'h2load';
const GRPC_HEADERS = ['-H', 'content-type: application/grpc', '-H', 'te: trailers'];
/** Timing-script granularity: libev's epoll backend sleeps in whole milliseconds. */
const TICK_MS = 1;

function h2load(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(H2LOAD, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(
            (err as NodeJS.ErrnoException).code === 'ENOENT'
              ? new Error(`h2load not found: install Debian's nghttp2-client (apt-get install nghttp2-client) or set H2LOAD`)
              : new Error(`h2load ${args.join(' ')}: ${err.message}\n${stderr}${stdout}`),
          )
        : resolve(stdout),
    ),
  );
}

interface LogRow {
  startUs: number;
  status: number;
  us: number;
}

function readLog(file: string): LogRow[] {
  const rows: LogRow[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [start, status, us] = line.split('\t');
    rows.push({ startUs: Number(start), status: Number(status), us: Number(us) });
  }
  return rows;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] : NaN;
}

function summarize(rows: LogRow[], seconds: number): LoadStats {
  // Status 0: a stream started in h2load's warm-up and finished in the measured window (h2load
  // records no status for it); it is neither counted nor held against the service.
  const measured = rows.filter((r) => r.status !== 0);
  const ok = measured.filter((r) => r.status === 200);
  const lat = Float64Array.from(ok, (r) => r.us / 1000).sort();
  return { ok: ok.length, failed: measured.length - ok.length, perSecond: ok.length / seconds, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), maxMs: lat[lat.length - 1] ?? NaN };
}

async function withLog<T>(fn: (log: string, dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h2load-'));
  try {
    return await fn(path.join(dir, 'requests.tsv'), dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Closed loop: `connections` × `streams` requests always in flight, as fast as they are answered. */
export function closedLoop(t: GrpcTarget, o: { connections: number; streams: number; seconds: number; warmupSeconds: number }): Promise<LoadStats> {
  return withLog(async (log) => {
    const uri = `http://127.0.0.1:${t.port}${t.method}`;
    await h2load(['-c', String(o.connections), '-m', String(o.streams), '-D', String(o.seconds), '--warm-up-time', String(o.warmupSeconds), '-d', t.bodyFile, ...GRPC_HEADERS, '--log-file', log, uri]);
    return summarize(readLog(log), o.seconds);
  });
}

/**
 * Open loop at a fixed rate over one connection. h2load's --rps fires its timer at most every 10 ms
 * and sends each tick's requests as one burst (rate/100 at once), which measures the burst, not the
 * service; a timing script sends a group every millisecond instead. Its timer re-arms from the
 * moment it fired, so each tick runs a little long: warm-up passes measure the real tick and the
 * measured pass sizes its groups to it. The rate actually sent is reported as `offered`; with
 * `tolerance`, a measured pass whose rate is further off than that is run again (`retries` times).
 */
export function openLoop(t: GrpcTarget, o: { rate: number; seconds: number; warmupSeconds: number; tolerance?: number; retries?: number }): Promise<OpenLoopStats> {
  return withLog(async (log, dir) => {
    const uri = `http://127.0.0.1:${t.port}${t.method}`;
    const pass = async (tickMs: number, seconds: number) => {
      const script = path.join(dir, 'script.tsv');
      const ticks = Math.round((seconds * 1000) / tickMs);
      const lines: string[] = [];
      for (let i = 0; i < ticks; i++) {
        const group = Math.floor(((i + 1) * o.rate * tickMs) / 1000) - Math.floor((i * o.rate * tickMs) / 1000);
        for (let j = 0; j < group; j++) lines.push(`${(i * TICK_MS).toFixed(3)}\t${uri}`);
      }
      fs.writeFileSync(script, lines.join('\n') + '\n');
      fs.rmSync(log, { force: true });
      // Enough streams that the script never waits for a free one (which would close the loop).
      await h2load(['-c', '1', '-m', '4096', '-n', String(lines.length), '--timing-script-file', script, '-d', t.bodyFile, ...GRPC_HEADERS, '--log-file', log]);
      const rows = readLog(log);
      let first = Infinity;
      let last = -Infinity;
      for (const r of rows) {
        first = Math.min(first, r.startUs);
        last = Math.max(last, r.startUs);
      }
      const spanS = (last - first) / 1e6;
      return { rows, spanS, realTickMs: (spanS * 1000) / Math.max(1, ticks - 1) };
    };
    // Two short passes: the tick stretches a little with the group size, so size once more.
    const warm = await pass(TICK_MS, o.warmupSeconds);
    const settle = await pass(warm.realTickMs, o.warmupSeconds);
    let main = await pass(settle.realTickMs, o.seconds);
    // `tolerance`: when the rate actually sent is off by more than this share (the tick changed with
    // the machine's load), measure again sized to the tick just seen, up to `retries` times.
    for (let retry = 0; o.tolerance !== undefined && retry < (o.retries ?? 2); retry++) {
      if (Math.abs(main.rows.length / main.spanS / o.rate - 1) <= o.tolerance) break;
      main = await pass(main.realTickMs, o.seconds);
    }
    return { ...summarize(main.rows, main.spanS), offered: main.rows.length / main.spanS };
  });
}
