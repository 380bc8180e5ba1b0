import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import { toolPath } from './provision.js';

/**
 * A real redis-server for a test file: no persistence, on a free port, ready when it answers PING.
 * stop() kills it; start() again brings it back on the same port (to test recovery).
 */
export class RedisServer {
  private proc?: ChildProcess;

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(toolPath('redis-server'), ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.proc = proc;
    // 'error' too: a spawn that fails never emits 'exit', and waiting for PING would only time out.
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`redis-server could not start: ${err.message}`)));
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    exited.catch(() => {});
    await Promise.race([exited, eventually(() => this.ping(), 10_000, 50)]);
  }

  private async ping(): Promise<void> {
    const client = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) !== 'PONG') throw new Error('no PONG');
    } finally {
      client.disconnect();
    }
  }

  /** SIGSTOP/SIGCONT: the server keeps its sockets but stops answering (a slow Redis). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await gone;
  }
}
