/**
 * The standalone services' /metrics under the TLS rule of every Banyan server, on the built binary
 * (dist/ must be current: `npm test` builds first): `banyan authz` and `banyan ratelimit` with
 * --tls-cert serve /metrics and /healthz over HTTPS with the same certificate, rotated without a
 * restart, never plaintext; with --tls-client-ca a scraper needs a client certificate; without TLS
 * they stay plaintext on loopback.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueCert, makeCa, replaceFile, type TestCa, type TestCert } from '../support/certs.js';
import { startBanyan, type BanyanProcess, type LogLine } from '../support/banyan-process.js';
import { eventually } from '../support/eventually.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

let dir: string;
let ca: TestCa;
let first: TestCert;
let second: TestCert;
let client: TestCert;
const procs: BanyanProcess[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-metrics-tls-'));
  ca = makeCa(dir, 'ca');
  first = issueCert(ca, dir, 'first', { kind: 'server' });
  second = issueCert(ca, dir, 'second', { kind: 'server' });
  client = issueCert(ca, dir, 'scraper', { kind: 'client' });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

/** The binary with `args`, once it has logged `msg` (failing at once if it exits first). */
async function start(args: string[], msg: string): Promise<{ line: LogLine; lines: LogLine[]; proc: BanyanProcess }> {
  const proc = startBanyan(args);
  procs.push(proc);
  return { line: await proc.line(msg), lines: proc.lines, proc };
}

interface Scrape {
  status: number;
  body: string;
  /** The serial of the certificate the server presented. */
  serial: string;
}

/** GET over HTTPS trusting the test CA (a fresh connection each time), with an optional client certificate. */
function scrape(port: number, pathname: string, withClient?: TestCert): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: pathname, ca: ca.pem, agent: false, ...(withClient ? { cert: withClient.cert, key: withClient.key } : {}) },
      (res) => {
        const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
      },
    );
    req.on('error', reject);
  });
}

/** Whether a plaintext HTTP GET gets any HTTP answer at all. */
async function plaintextAnswers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

/** The server certificate files of one process, in their own directory (rotation replaces them there). */
function liveFiles(name: string): { certFile: string; keyFile: string } {
  const d = fs.mkdtempSync(path.join(dir, `${name}-`));
  const certFile = path.join(d, 'tls.crt');
  const keyFile = path.join(d, 'tls.key');
  fs.writeFileSync(certFile, first.cert);
  fs.writeFileSync(keyFile, first.key);
  return { certFile, keyFile };
}

describe('banyan authz with --tls-cert: /metrics over HTTPS', () => {
  it('serves /metrics and /healthz over HTTPS with the gRPC certificate, refuses plaintext, and follows a rotation', async () => {
    const files = liveFiles('authz');
    const { line } = await start(['authz', '--port', '0', '--metrics-port', '0', '--tls-cert', files.certFile, '--tls-key', files.keyFile], 'authz metrics endpoint listening');
    expect(line.scheme).toBe('https');
    const port = line.port as number;
    const metrics = await scrape(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('banyan_authz_');
    expect(metrics.serial).toBe(first.serial);
    expect((await scrape(port, '/healthz')).body).toBe('ok\n');
    expect(await plaintextAnswers(port)).toBe(false);

    // a half-written certificate keeps the one being served; the whole new pair reaches the next connection
    fs.writeFileSync(files.certFile, second.cert.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 400));
    expect((await scrape(port, '/metrics')).serial).toBe(first.serial);
    replaceFile(second.key, files.keyFile);
    replaceFile(second.cert, files.certFile);
    await eventually(async () => expect((await scrape(port, '/metrics')).serial).toBe(second.serial), 15_000);
  });

  it('with --tls-client-ca a scraper needs a client certificate signed by that CA', async () => {
    const files = liveFiles('authz-mtls');
    const { line } = await start(
      ['authz', '--port', '0', '--metrics-port', '0', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--tls-client-ca', ca.certFile],
      'authz metrics endpoint listening',
    );
    const port = line.port as number;
    await expect(scrape(port, '/metrics')).rejects.toThrow();
    expect((await scrape(port, '/metrics', client)).status).toBe(200);
  });

  it('stops the metrics endpoint, then the service, on SIGTERM (exit 0)', async () => {
    const files = liveFiles('authz-stop');
    const { proc, lines } = await start(['authz', '--port', '0', '--metrics-port', '0', '--tls-cert', files.certFile, '--tls-key', files.keyFile], 'authz metrics endpoint listening');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    // the outer stop's line (the service's own `stopped` line, inside it, may be flushed after it on exit)
    expect(lines.filter((l) => l.msg === 'stopped'), JSON.stringify(lines.slice(-4))).toContainEqual(expect.objectContaining({ stopped: ['metrics endpoint', 'authz service'] }));
  });
});

describe('banyan ratelimit with --tls-cert: /metrics over HTTPS', () => {
  it('serves /metrics over HTTPS with the gRPC certificate and refuses plaintext; without TLS it stays plaintext on loopback', async () => {
    const files = liveFiles('ratelimit');
    const { line } = await start(
      ['ratelimit', '--config', path.join(ROOT, 'examples'), '--port', '0', '--metrics-port', '0', '--tls-cert', files.certFile, '--tls-key', files.keyFile],
      'rate limit metrics endpoint listening',
    );
    expect(line.scheme).toBe('https');
    const port = line.port as number;
    const metrics = await scrape(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('banyan_ratelimit_');
    expect(metrics.serial).toBe(first.serial);
    expect(await plaintextAnswers(port)).toBe(false);
    replaceFile(second.key, files.keyFile);
    replaceFile(second.cert, files.certFile);
    await eventually(async () => expect((await scrape(port, '/metrics')).serial).toBe(second.serial), 15_000);

    // without TLS: plaintext, on the loopback --host
    const plainMetrics = await start(['ratelimit', '--config', path.join(ROOT, 'examples'), '--port', '0', '--metrics-port', '0'], 'rate limit metrics endpoint listening');
    expect(plainMetrics.line.scheme).toBe('http');
    const plain = await fetch(`http://127.0.0.1:${plainMetrics.line.port as number}/metrics`);
    expect(plain.status).toBe(200);
    expect(await plain.text()).toContain('banyan_ratelimit_');
  });
});
