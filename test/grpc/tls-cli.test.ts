/**
 * The TLS flags of the built binary (dist/ must be current: `npm test` builds first): plaintext
 * non-loopback binds refused by serve, ratelimit and authz; `serve` on its defaults (loopback, the
 * quick start) and with --tls-cert/--tls-key serving TLS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { banyan } from '../cli/run.js';
import { adsOutcome } from '../support/ads-outcome.js';
import { issueCert, makeCa, type TestCa, type TestCert } from '../support/certs.js';
import { eventually } from '../support/eventually.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/banyan.js');
const FREE = ['--xds-port', '0', '--admin-port', '0', '--ratelimit-port', '0', '--authz-port', '0'];

let dir: string;
let ca: TestCa;
let server: TestCert;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-tls-cli-'));
  ca = makeCa(dir, 'ca');
  server = issueCert(ca, dir, 'server', { kind: 'server' });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('plaintext off loopback is refused by the binary', () => {
  it('serve --host 0.0.0.0 exits 1 naming the server, the host and the flags', async () => {
    const r = await banyan(['serve', 'examples/banyan.yaml', ...FREE, '--host', '0.0.0.0', '--data-dir', path.join(dir, 'refused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to serve the xDS server without TLS on 0\.0\.0\.0.*--tls-cert and --tls-key.*--insecure/);
  });

  it('ratelimit and authz --host 0.0.0.0 exit 1 the same way', async () => {
    const rl = await banyan(['ratelimit', '--config', path.join(ROOT, 'examples'), '--port', '0', '--host', '0.0.0.0']);
    expect(rl.code).toBe(1);
    expect(rl.stderr).toMatch(/rate limit service without TLS on 0\.0\.0\.0.*--insecure/);
    const az = await banyan(['authz', '--port', '0', '--no-metrics', '--host', '0.0.0.0']);
    expect(az.code).toBe(1);
    expect(az.stderr).toMatch(/authz service without TLS on 0\.0\.0\.0.*--insecure/);
  });

  it('--tls-cert without --tls-key is a usage error', async () => {
    const r = await banyan(['serve', 'examples/banyan.yaml', ...FREE, '--tls-cert', server.certFile, '--data-dir', path.join(dir, 'usage')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });
});

describe('serve with --tls-cert/--tls-key on its default host', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    child = undefined;
  });

  async function startServe(extra: string[]): Promise<{ xdsPort: number; adminPort: number }> {
    const proc = spawn(process.execPath, [BIN, 'serve', 'examples/banyan.yaml', ...FREE, '--data-dir', fs.mkdtempSync(path.join(dir, 'state-')), ...extra], {
      cwd: ROOT,
      env: { ...process.env, BANYAN_LOG_LEVEL: 'info', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out.slice(-500)}`))));
    return Promise.race([exited, eventually(() => {
      const line = out.split('\n').find((l) => l.includes('"banyan serving"'));
      if (!line) throw new Error(`not serving yet: ${out.slice(-500)}`);
      return JSON.parse(line) as { xdsPort: number; adminPort: number };
    }, 30_000)]);
  }

  it('without --host or TLS (the quick start) it starts: the default host is loopback', async () => {
    const { xdsPort } = await startServe([]);
    expect(await adsOutcome(xdsPort, grpc.credentials.createInsecure())).toBe('ok');
  });

  // The example's listeners call the in-process rate limit and authz services, which would speak TLS
  // too; Envoy would call them in plaintext (no `services: tls`), so serve refuses that config.
  const TLS_NO_SERVICES = () => ['--tls-cert', server.certFile, '--tls-key', server.keyFile, '--no-ratelimit', '--no-authz'];

  it('with TLS, refuses a config whose listeners would call its TLS services in plaintext', async () => {
    const r = await banyan(['serve', 'examples/banyan.yaml', ...FREE, '--tls-cert', server.certFile, '--tls-key', server.keyFile, '--data-dir', path.join(dir, 'plain-services')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/calls Banyan's ratelimit service, which this process serves with TLS .* so Envoy would call it in plaintext: set `services\.ratelimit: \{ address: host:port, tls:/);
  });

  it('with --tls-cert/--tls-key it serves ADS over TLS only', async () => {
    const { xdsPort } = await startServe(TLS_NO_SERVICES());
    expect(await adsOutcome(xdsPort, grpc.credentials.createSsl(ca.pem))).toBe('ok');
    expect(await adsOutcome(xdsPort, grpc.credentials.createInsecure())).toBe(grpc.status.UNAVAILABLE);
  });

  it('the CLI reaches the HTTPS admin API when node trusts the CA (NODE_EXTRA_CA_CERTS)', async () => {
    const { adminPort } = await startServe(TLS_NO_SERVICES());
    const trusted = await banyan(['proxies', '--server', `https://127.0.0.1:${adminPort}`, '-o', 'json'], { NODE_EXTRA_CA_CERTS: ca.certFile });
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    const untrusted = await banyan(['proxies', '--server', `https://127.0.0.1:${adminPort}`, '-o', 'json']);
    expect(untrusted.code).toBe(3);
  });
});
