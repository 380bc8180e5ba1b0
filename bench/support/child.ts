/**
 * What the benches do with the servers they start as child processes: wait until one is ready (or
 * say why it is not), ask it over HTTP, stop it.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

export { freePort } from '../../test/support/ports.js';

/** Whether something accepts TCP connections on loopback:port now. */
export function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/** GET loopback:port/urlPath, with its status and body. */
export function httpGet(port: number, urlPath: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`GET :${port}${urlPath} timed out`)));
  });
}

/** Whether GET loopback:port/urlPath answers 200 now. */
export const httpOk = (port: number, urlPath: string, timeoutMs = 1000): Promise<boolean> =>
  httpGet(port, urlPath, timeoutMs).then(
    (r) => r.status === 200,
    () => false,
  );

/**
 * Polls `ready` every 100 ms until it holds; throws, with `output()`, when the process exits first
 * or `timeoutMs` passes.
 */
export async function waitReady(proc: ChildProcess, name: string, ready: () => Promise<boolean>, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}): ${output()}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs / 1000} s: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL if it is still running after `graceMs`; resolves once it has exited. */
export async function stopChild(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
