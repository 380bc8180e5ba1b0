/**
 * A `banyan <command>` child of the built binary (bin/banyan.js → dist/) other than `serve` (which has
 * support/serve-process.ts): started with its JSON logs collected, ready on a named log line, and
 * killed with every process it spawned (a --workers primary's workers are in its process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { eventually } from './eventually.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/banyan.js');

export interface LogLine {
  msg: string;
  [k: string]: unknown;
}

export interface BanyanProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  /** The first log line `msg`, waited for; rejects at once if the process has exited. */
  line(msg: string, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL to the process group (the process and its workers), then waits for the exit. */
  kill(): Promise<void>;
  /** Its exit code (null: killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The last 8 KiB of what it wrote that is not a JSON log line (stderr included). */
  output(): string;
}

const running = new Set<ChildProcess>();
// A test that dies before its afterAll must not leave servers behind.
process.once('exit', () => {
  for (const c of running) killGroup(c);
});

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** `env` is added to this process's (e.g. OTEL_* for a tracing test). */
export function startBanyan(args: string[], env: Record<string, string> = {}): BanyanProcess {
  // detached: its own process group, so kill() reaches the workers a primary forks.
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, detached: true, env: { ...process.env, ...env, BANYAN_LOG_LEVEL: 'info', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: LogLine[] = [];
  let other = '';
  const keep = (s: string) => (other = (other + s).slice(-8192));
  child.stderr!.on('data', (d: Buffer) => keep(d.toString('utf8')));
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as LogLine);
    } catch {
      keep(`${l}\n`);
    }
  });
  // 'close', not 'exit': after the last of its output too (a final `stopped` line is read).
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    lines,
    line: (msg, timeoutMs = 30_000) =>
      eventually(() => {
        const found = lines.find((l) => l.msg === msg);
        if (found) return found;
        const why = gone() ? `banyan ${args[0]} exited (${child.signalCode ?? child.exitCode})` : `no "${msg}" yet`;
        throw new Error(`${why}:\n${other}`);
      }, timeoutMs),
    kill: async () => {
      if (!gone()) killGroup(child);
      await exited;
    },
    exited,
    output: () => other,
  };
}
