/**
 * `banyan certs`: the files it writes verify with openssl and carry a real mTLS handshake with
 * `banyan serve` (ADS answers a client certificate from the same CA; one from another CA is refused).
 * The command runs in-process through the CLI's own entry (src/cli/main.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../../src/cli/commands/index.js';
import { main } from '../../src/cli/main.js';
import { loadEnvoyProtos } from '../../src/proto/envoy.js';
import { routesYaml } from '../admin/harness.js';
import { adsOutcome } from '../support/ads-outcome.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

let dir: string;
const at = (...p: string[]) => path.join(dir, ...p);

/** Runs `banyan ...args` in-process and returns what it printed. */
async function certs(...args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await main(['node', 'banyan', 'certs', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-certs-'));
  await certs('ca', '--out', at('ca'), '--name', 'Local CA', '--days', '30');
  await certs('ca', '--out', at('other-ca'), '--name', 'Other CA');
  await certs('issue', '--ca', at('ca'), '--out', at('server'), '--dns', 'localhost', '--ip', '127.0.0.1', '--server');
  await certs('issue', '--ca', at('ca'), '--out', at('client'), '--uri', 'spiffe://local/ns/default/sa/edge', '--client', '--hours', '2');
  await certs('issue', '--ca', at('other-ca'), '--out', at('foreign'), '--uri', 'spiffe://other/sa/edge', '--client');
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('banyan certs ca / issue / inspect', () => {
  it('writes ca.crt, ca.key, tls.crt and tls.key, the keys with mode 0600', () => {
    for (const f of ['ca/ca.crt', 'ca/ca.key', 'server/tls.crt', 'server/tls.key', 'client/tls.crt', 'client/tls.key']) expect(fs.existsSync(at(f))).toBe(true);
    for (const f of ['ca/ca.key', 'server/tls.key', 'client/tls.key']) expect(fs.statSync(at(f)).mode & 0o777).toBe(0o600);
    expect(openssl('x509', '-in', at('ca', 'ca.crt'), '-noout', '-subject')).toMatch(/CN ?= ?Local CA/);
  });

  it('what it issues verifies against its CA with openssl, for the usage asked, and not against another CA', () => {
    expect(openssl('verify', '-CAfile', at('ca', 'ca.crt'), '-purpose', 'sslserver', at('server', 'tls.crt')).trim()).toBe(`${at('server', 'tls.crt')}: OK`);
    expect(openssl('verify', '-CAfile', at('ca', 'ca.crt'), '-purpose', 'sslclient', at('client', 'tls.crt')).trim()).toBe(`${at('client', 'tls.crt')}: OK`);
    expect(() => openssl('verify', '-CAfile', at('other-ca', 'ca.crt'), at('server', 'tls.crt'))).toThrow();
    // and the key written beside it is the certificate's key
    const pub = (args: string[]) => openssl(...args, '-pubout');
    expect(pub(['pkey', '-in', at('server', 'tls.key')])).toBe(openssl('x509', '-in', at('server', 'tls.crt'), '-noout', '-pubkey'));
  });

  it('inspect prints subject, issuer, serial, validity and SANs', async () => {
    const out = await certs('inspect', at('client', 'tls.crt'));
    const serial = openssl('x509', '-in', at('client', 'tls.crt'), '-noout', '-serial').trim().replace(/^serial=/, '').toLowerCase();
    expect(out).toMatch(/^subject: +CN=spiffe:\/\/local\/ns\/default\/sa\/edge$/m);
    expect(out).toMatch(/^issuer: +CN=Local CA$/m);
    expect(out).toMatch(new RegExp(`^serial: +${serial}$`, 'm'));
    expect(out).toMatch(/^SANs: +URI:spiffe:\/\/local\/ns\/default\/sa\/edge$/m);
    expect(out).toMatch(/^usage: +client$/m);
    const json = JSON.parse(await certs('inspect', at('client', 'tls.crt'), '--output', 'json')) as { notBefore: string; notAfter: string };
    const hours = (Date.parse(json.notAfter) - Date.parse(json.notBefore)) / 3_600_000;
    expect(hours).toBeGreaterThan(2);
    expect(hours).toBeLessThan(2.05);
  });

  it('with BANYAN_CA_KEY_PASSPHRASE the CA key is encrypted at rest and issuing needs the passphrase', async () => {
    vi.stubEnv('BANYAN_CA_KEY_PASSPHRASE', 's3cret');
    await certs('ca', '--out', at('enc-ca'));
    expect(fs.readFileSync(at('enc-ca', 'ca.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    await certs('issue', '--ca', at('enc-ca'), '--out', at('enc-leaf'), '--dns', 'x');
    expect(openssl('verify', '-CAfile', at('enc-ca', 'ca.crt'), at('enc-leaf', 'tls.crt')).trim()).toMatch(/: OK$/);
    vi.stubEnv('BANYAN_CA_KEY_PASSPHRASE', 'wrong');
    await expect(certs('issue', '--ca', at('enc-ca'), '--out', at('enc-leaf-2'), '--dns', 'x')).rejects.toThrow(/wrong passphrase/);
    vi.stubEnv('BANYAN_CA_KEY_PASSPHRASE', '');
    await expect(certs('issue', '--ca', at('enc-ca'), '--out', at('enc-leaf-2'), '--dns', 'x')).rejects.toThrow(/no passphrase/);
    expect(fs.existsSync(at('enc-leaf-2'))).toBe(false);
  });

  it('every certs command has --help with examples', () => {
    const program = new Command('banyan');
    registerCommands(program);
    const certsCmd = program.commands.find((c) => c.name() === 'certs');
    expect(certsCmd?.commands.map((c) => c.name())).toEqual(['ca', 'issue', 'inspect']);
    for (const c of [certsCmd!, ...certsCmd!.commands]) {
      let out = '';
      c.configureOutput({ writeOut: (s) => (out += s) });
      c.outputHelp();
      expect(out, c.name()).toMatch(/Examples:\n\s+\$ banyan certs /);
    }
  });

  it('refuses --server with --client, and a certificate without SANs', async () => {
    await expect(certs('issue', '--ca', at('ca'), '--out', at('bad'), '--dns', 'x', '--server', '--client')).rejects.toThrow(/exclude/);
    await expect(certs('issue', '--ca', at('ca'), '--out', at('bad'))).rejects.toThrow(/at least one/);
  });
});

describe('banyan serve with certificates from banyan certs (mTLS)', () => {
  let t: TestBanyan;
  beforeAll(async () => {
    loadEnvoyProtos();
    t = await startTestBanyan(routesYaml(), {
      tls: { certFile: at('server', 'tls.crt'), keyFile: at('server', 'tls.key'), caFile: at('ca', 'ca.crt'), requireClientCert: true },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const creds = (caDir: string, leafDir?: string) =>
    grpc.credentials.createSsl(
      fs.readFileSync(at(caDir, 'ca.crt')),
      leafDir ? fs.readFileSync(at(leafDir, 'tls.key')) : null,
      leafDir ? fs.readFileSync(at(leafDir, 'tls.crt')) : null,
    );

  it('a client certificate from the same CA gets ADS answers', async () => {
    expect(await adsOutcome(t.banyan.ports.xds, creds('ca', 'client'))).toBe('ok');
  });

  it('a client certificate from another CA, or none, is refused', async () => {
    expect(await adsOutcome(t.banyan.ports.xds, creds('ca', 'foreign'))).toBe(grpc.status.UNAVAILABLE);
    expect(await adsOutcome(t.banyan.ports.xds, creds('ca'))).toBe(grpc.status.UNAVAILABLE);
  });

  it('a client that trusts only another CA does not accept the server', async () => {
    expect(await adsOutcome(t.banyan.ports.xds, creds('other-ca', 'foreign'))).toBe(grpc.status.UNAVAILABLE);
  });
});
