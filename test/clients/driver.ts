/**
 * Drives the suite's out-of-process proxyless gRPC clients (grpc-go: test/go/xdsclient; gRPC C-core
 * through grpcio: test/python/xds_client.py; grpc-java: test/clients/java). All take the same flags and speak the same protocol:
 * one JSON command per stdin line, one JSON result per stdout line, exit when stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { goBinary } from '../support/go.js';
import { pythonEnv } from '../support/python.js';
import { javaClient } from './java.js';

export type ClientKind = 'grpc-go' | 'c-core' | 'grpc-java';
export const CLIENT_KINDS: readonly ClientKind[] = ['grpc-go', 'c-core', 'grpc-java'];

export interface BatchOptions {
  n: number;
  concurrency?: number;
  deadlineMs?: number;
  /** Request metadata; names lowercase. */
  headers?: Record<string, string>;
}

export interface Batch {
  /** Successful RPCs per backend name. */
  counts: Record<string, number>;
  /** Failed RPCs per canonical status name (UNAVAILABLE, DEADLINE_EXCEEDED, ...). */
  errors: Record<string, number>;
  /** The last message seen per status name. */
  messages: Record<string, string>;
  elapsedMs: number;
}

export interface ClientOptions {
  /** Banyan's xDS address, host:port. */
  xds: string;
  nodeId: string;
  nodeCluster?: string;
  target?: string;
}

export interface XdsClientProcess {
  readonly kind: ClientKind;
  readonly nodeId: string;
  batch(opts: BatchOptions): Promise<Batch>;
  /** Closes stdin and waits for the exit; kills the process group if it lingers. */
  close(): Promise<void>;
}

export type ClientLauncher = (opts: ClientOptions) => XdsClientProcess;

/**
 * Builds or installs the client (slow the first time: go build, pip install; cached afterwards) and
 * returns a function that starts one process of it.
 */
export async function prepareClient(kind: ClientKind): Promise<ClientLauncher> {
  if (kind === 'grpc-go') {
    const bin = await goBinary('xdsclient');
    return (opts) => startClient(kind, bin, [], {}, opts);
  }
  if (kind === 'grpc-java') {
    const j = await javaClient();
    return (opts) => startClient(kind, j.java, j.args, {}, opts);
  }
  const py = await pythonEnv();
  return (opts) => startClient(kind, py.python, [py.script('xds_client.py')], py.env, opts);
}

const running = new Set<ChildProcess>();
// Belt and braces for a worker that exits without running afterAll: no client outlives the suite.
process.once('exit', () => {
  for (const child of running) killGroup(child);
});

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function startClient(kind: ClientKind, command: string, pre: string[], env: Record<string, string>, opts: ClientOptions): XdsClientProcess {
  const args = [...pre, '--xds', opts.xds, '--node', opts.nodeId, '--cluster', opts.nodeCluster ?? 'proxyless', '--target', opts.target ?? 'xds:///orders'];
  // Its own process group, so a kill reaches anything it starts.
  // Each client builds its own bootstrap from the flags; one inherited from the test would win over it.
  const { GRPC_XDS_BOOTSTRAP: _file, GRPC_XDS_BOOTSTRAP_CONFIG: _config, ...inherited } = process.env;
  const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  running.add(child);
  // A write after the client died fails here; the exit handler reports why it died.
  child.stdin!.on('error', () => {});
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const waiting: { resolve: (b: Batch) => void; reject: (e: Error) => void }[] = [];
  let exited: Error | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = new Error(`${kind} client exited (${signal ?? code}): ${stderr.trim() || 'no output'}`);
      for (const w of waiting.splice(0)) w.reject(exited);
      resolve();
    }),
  );
  child.once('error', (err) => {
    exited = new Error(`${kind} client failed to start: ${err.message}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    if (!w) return;
    try {
      w.resolve(JSON.parse(line) as Batch);
    } catch {
      w.reject(new Error(`${kind} client printed ${JSON.stringify(line)}`));
    }
  });

  return {
    kind,
    nodeId: opts.nodeId,
    batch(b) {
      if (exited) return Promise.reject(exited);
      return new Promise<Batch>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin!.write(`${JSON.stringify(b)}\n`);
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => killGroup(child), 5_000);
      await exit;
      clearTimeout(timer);
      // The client is gone; anything it left in its group goes too.
      killGroup(child);
    },
  };
}

/** Successful RPCs of a batch. */
export const okCount = (b: Batch): number => Object.values(b.counts).reduce((a, n) => a + n, 0);
