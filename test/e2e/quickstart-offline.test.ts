/**
 * The README's quick start (`npm start`) must work on a laptop with no network: the example config may
 * only ever talk to loopback, and every in-process service says it is listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const guard = path.join(root, 'dist/test/support/net-guard.js');

describe('npm start on the shipped example, offline', () => {
  let proc: ChildProcess;
  let dir: string;
  let stdout = '';
  let stderr = '';
  let adminPort = 0;

  beforeAll(async () => {
    const start = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const serveArgs = start.slice(start.indexOf('bin/banyan.js') + 'bin/banyan.js'.length).trim().split(/\s+/);
    expect(serveArgs).toEqual(['serve', 'examples/banyan.yaml']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-quickstart-'));
    // Free ports instead of the defaults so the test runs beside anything; the config is the one npm start serves.
    const ports = ['--xds-port', '0', '--admin-port', '0', '--ratelimit-port', '0', '--authz-port', '0', '--host', '127.0.0.1'];
    proc = spawn(process.execPath, ['--import', guard, 'bin/banyan.js', ...serveArgs, ...ports, '--data-dir', path.join(dir, 'state')], {
      cwd: root,
      env: { ...process.env, BANYAN_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    adminPort = await eventually(() => {
      const line = stdout.split('\n').find((l) => l.includes('"banyan serving"'));
      if (!line) throw new Error(`not serving yet; stderr: ${stderr}`);
      return (JSON.parse(line) as { adminPort: number }).adminPort;
    }, 20_000);
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is ready, loads the shipped JWKS file and never reaches beyond loopback', async () => {
    const metrics = await eventually(async () => {
      expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(200);
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      expect(text).toMatch(/banyan_authz_jwks_fetches_total\{provider="webskyne"\} [1-9]/);
      return text;
    }, 15_000);
    expect(metrics).not.toMatch(/banyan_authz_jwks_fetch_failures_total\{provider="webskyne"\} [1-9]/);
    expect(stderr.split('\n').filter((l) => l.startsWith('BANYAN-NET-ATTEMPT'))).toEqual([]);
  });

  it('logs that each in-process service is listening', () => {
    const messages = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['rate limit service listening', 'authz service listening', 'banyan serving']));
  });
});
