import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { loopbackServe } from '../support/banyan.js';
import { issueCert, makeCa, type TestCa, type TestCert } from '../support/certs.js';
import { routesYaml } from './config.yaml.js';

/**
 * The CLI against an HTTPS admin API that requires client certificates (serve --tls-cert/--tls-key/
 * --tls-client-ca): `banyan routes` with --ca-file/--client-cert/--client-key (or BANYAN_ variables)
 * gets the routes; without the client certificate it exits 3 and says what to set. The CLI runs from
 * source (tsx), as bin/banyan.js runs the built one.
 */
const MAIN = path.resolve(import.meta.dirname, '../../src/cli/main.ts');
const SCRIPT = `import(${JSON.stringify(MAIN)}).then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write('banyan: ' + (err instanceof Error ? err.message : String(err)) + '\\n');
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});`;

function banyan(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '-e', SCRIPT, 'banyan', ...args],
      {
        cwd: path.resolve(import.meta.dirname, '../..'),
        env: { ...process.env, NO_COLOR: '1', BANYAN_LOG_LEVEL: 'silent', BANYAN_CA_FILE: undefined, BANYAN_CLIENT_CERT: undefined, BANYAN_CLIENT_KEY: undefined, BANYAN_SERVER: undefined, ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const TOKEN = 'admin-tls-test-token';
let dir: string;
let server: RunningBanyan | undefined;
let ca: TestCa;
let client: TestCert;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-admin-tls-'));
  ca = makeCa(dir, 'ca');
  const serverCert = issueCert(ca, dir, 'server', { kind: 'server' });
  client = issueCert(ca, dir, 'client', { kind: 'client' });
  await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
  server = await startBanyan(loopbackServe('banyan-test', {
    config: path.join(dir, 'routes.yaml'),
    dataDir: path.join(dir, 'data'),
    adminToken: TOKEN,
    debounceMs: 50,
    tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caFile: ca.certFile, requireClientCert: true },
  }));
  url = `https://127.0.0.1:${server.ports.admin}`;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('banyan routes against an mTLS admin API', () => {
  it('succeeds with --ca-file, --client-cert and --client-key', async () => {
    const r = await banyan(['routes', '-o', 'json', '--server', url, '--token', TOKEN, '--ca-file', ca.certFile, '--client-cert', client.certFile, '--client-key', client.keyFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const names = (JSON.parse(r.stdout) as { routes: { name: string }[] }).routes.map((x) => x.name);
    expect(names).toContain('checkout');
  }, 60_000);

  it('takes --server as host:port: https, since --ca-file/--client-cert are given', async () => {
    const hostPort = new URL(url).host;
    const r = await banyan(['routes', '-o', 'json', '--server', hostPort, '--token', TOKEN, '--ca-file', ca.certFile, '--client-cert', client.certFile, '--client-key', client.keyFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { routes: { name: string }[] }).routes.map((x) => x.name)).toContain('checkout');
  }, 60_000);

  it('succeeds with BANYAN_CA_FILE, BANYAN_CLIENT_CERT and BANYAN_CLIENT_KEY', async () => {
    const r = await banyan(['routes', '-o', 'json'], { BANYAN_SERVER: url, BANYAN_TOKEN: TOKEN, BANYAN_CA_FILE: ca.certFile, BANYAN_CLIENT_CERT: client.certFile, BANYAN_CLIENT_KEY: client.keyFile });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { routes: { name: string }[] }).routes.map((x) => x.name)).toContain('checkout');
  }, 60_000);

  it('fails with exit 3 and says to set the client certificate when it is missing', async () => {
    const r = await banyan(['routes', '--server', url, '--token', TOKEN, '--ca-file', ca.certFile]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot reach the Banyan admin API at https:\/\/127\.0\.0\.1:\d+ \(.+\); the admin API refused the TLS handshake: it may require a client certificate: set --client-cert and --client-key/);
  }, 60_000);

  it('fails with exit 3 and says to set --ca-file when the server certificate is not trusted', async () => {
    const r = await banyan(['routes', '--server', url, '--token', TOKEN, '--client-cert', client.certFile, '--client-key', client.keyFile]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/certificate is not trusted for this name: set --ca-file/);
  }, 60_000);

  it('refuses --client-cert without --client-key (exit 2)', async () => {
    const r = await banyan(['routes', '--server', url, '--client-cert', client.certFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--client-cert and --client-key go together/);
  }, 60_000);
});
