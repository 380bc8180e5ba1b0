/**
 * SIGTERM (what Kubernetes and systemd send) stops the built `banyan` binary cleanly: everything it
 * started, in reverse order, then exit 0 and one final `stopped` log line naming what stopped.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/banyan.js');

interface Line {
  msg: string;
  stopped?: string[];
  [k: string]: unknown;
}

/** The binary with `args`, its JSON log lines as they come, and its exit. */
function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, BANYAN_LOG_LEVEL: 'info', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, exited, stderr: () => stderr };
}

describe('shutdown on SIGTERM (built binary)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanups.splice(0).reverse()) fn();
  });

  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-shutdown-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('banyan serve: exits 0 and logs "stopped" naming every part, in reverse order of start', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'routes.yaml');
    fs.writeFileSync(config, 'clusters:\n  - name: app\n    endpoints: [127.0.0.1:8080]\n');
    const p = run(['serve', config, '--host', '127.0.0.1', '--xds-port', '0', '--admin-port', '0', '--ratelimit-port', '0', '--authz-port', '0', '--data-dir', path.join(dir, 'state')]);
    cleanups.push(() => void p.child.kill('SIGKILL'));
    await eventually(() => expect(p.lines.map((l) => l.msg), p.stderr()).toContain('banyan serving'), 20_000);

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    const last = p.lines.at(-1)!;
    expect(last.msg).toBe('stopped');
    expect(last.stopped).toEqual(['config watcher', 'admin API', 'xDS server', 'rollouts', 'fleet status', 'control plane', 'authz service', 'rate limit service', "Banyan's CA", 'store']);
  });

  it('banyan authz: the same stop on SIGTERM', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'banyan.yaml');
    fs.writeFileSync(config, '{}\n');
    const p = run(['authz', '--config', config, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0']);
    cleanups.push(() => void p.child.kill('SIGKILL'));
    await eventually(() => expect(p.lines.map((l) => l.msg), p.stderr()).toContain('authz service listening'), 20_000);

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.lines.at(-1)).toMatchObject({ msg: 'stopped', stopped: ['config watcher', 'metrics endpoint', 'authz service'] });
  });

  it('banyan ratelimit: the same stop on SIGTERM, ending with one "stopped" line', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'checkout.yaml'), 'domain: checkout\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 10 }\n');
    const p = run(['ratelimit', '--config', dir, '--host', '127.0.0.1', '--port', '0']);
    cleanups.push(() => void p.child.kill('SIGKILL'));
    await eventually(() => expect(p.lines.map((l) => l.msg), p.stderr()).toContain('rate limit service listening'), 20_000);

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    const last = p.lines.at(-1)!;
    expect(last.msg).toBe('stopped');
    expect(last.stopped).toEqual(expect.arrayContaining(['rate limit service']));
  });
});
