/**
 * `banyan serve` as a child process of the built binary (bin/banyan.js → dist/, which `npm test`
 * builds with tsc before vitest), for tests that need a replica to die for real (SIGKILL).
 *
 * Ports are the OS's (--xds-port 0 --admin-port 0), read back from the 'banyan serving' log line,
 * so the child logs at info whatever the test's level. Every child is killed when the test process
 * exits, in case a test dies before its afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

const BIN = path.resolve(import.meta.dirname, '../../bin/banyan.js');

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly replica: string;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Every JSON log line so far. */
  readonly lines: Record<string, unknown>[];
  /** The last few KB of stderr and of non-JSON stdout. */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGKILL (if still running) and waits for the exit. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Starts `banyan serve <args>` and resolves once it serves, or rejects with its output if it exits
 * first or takes longer than `timeoutMs`. `replica` is passed as --replica.
 */
export async function startServeProcess(replica: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--replica', replica, '--xds-port', '0', '--admin-port', '0'], {
    env: { ...process.env, ...opts.env, BANYAN_LOG_LEVEL: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Record<string, unknown>[] = [];
  let other = '';
  const keep = (s: string) => (other = (other + s).slice(-8192));
  child.stderr!.on('data', (d: Buffer) => keep(d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const serving = new Promise<{ xdsPort: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`banyan serve (${replica}) not serving after ${opts.timeoutMs ?? 30_000} ms:\n${other}`)), opts.timeoutMs ?? 30_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        keep(`${line}\n`);
        return;
      }
      lines.push(parsed);
      if (parsed.msg === 'banyan serving') {
        clearTimeout(timer);
        resolve({ xdsPort: Number(parsed.xdsPort), adminPort: Number(parsed.adminPort) });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`banyan serve (${replica}) exited (${signal ?? code}) before serving:\n${other}`));
    });
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    const ports = await serving;
    return { child, replica, ...ports, lines, output: () => other, exited, kill };
  } catch (err) {
    await kill();
    throw err;
  }
}
