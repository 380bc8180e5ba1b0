/**
 * Banyan's CA (src/ca): what it issues is what openssl reads and verifies, keys at rest are
 * encrypted PKCS#8 that need the passphrase, and the rotation rule is half the lifetime.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certFromPem,
  certToPem,
  createCa,
  describeCert,
  issueCert,
  keyFromPem,
  keyMatches,
  keyToPem,
  loadCa,
  needsRotation,
  passphraseFromEnv,
  type KeyedCert,
} from '../../src/ca/index.js';
import { BanyanError } from '../../src/errors.js';

let dir: string;
let ca: KeyedCert;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-ca-'));
  ca = await createCa({ name: 'Test CA', days: 30 });
  fs.writeFileSync(path.join(dir, 'ca.crt'), certToPem(ca.cert));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function writeCert(name: string, c: KeyedCert): string {
  const file = path.join(dir, `${name}.crt`);
  fs.writeFileSync(file, certToPem(c.cert));
  return file;
}

describe('createCa', () => {
  it('is a self-signed P-256 CA with CA:true, keyCertSign and the asked validity', () => {
    const text = openssl('x509', '-in', path.join(dir, 'ca.crt'), '-noout', '-text');
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/ASN1 OID: prime256v1/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Issuer: CN ?= ?Test CA/);
    expect(text).toMatch(/Subject: CN ?= ?Test CA/);
    const days = (ca.cert.notAfter.getTime() - ca.cert.notBefore.getTime()) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(30);
    expect(days).toBeLessThan(30.01);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'ca.crt')).trim()).toMatch(/: OK$/);
  });

  it('defaults to ten years', async () => {
    const c = await createCa();
    const years = (c.cert.notAfter.getTime() - c.cert.notBefore.getTime()) / (365 * 86_400_000);
    expect(years).toBeGreaterThanOrEqual(10);
    expect(years).toBeLessThan(10.01);
  });

  it('refuses a validity that is not positive', async () => {
    await expect(createCa({ days: 0 })).rejects.toThrow(BanyanError);
    await expect(createCa({ days: Number.NaN })).rejects.toThrow(/positive/);
  });
});

describe('issueCert', () => {
  it('a server certificate carries every SAN and serverAuth, and verifies against the CA', async () => {
    const leaf = await issueCert(ca, { dns: ['banyan.local', 'localhost'], ip: ['127.0.0.1', '::1'], uri: ['spiffe://local/ns/default/sa/banyan'] });
    const file = writeCert('server', leaf);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', file).trim()).toBe(`${file}: OK`);
    const text = openssl('x509', '-in', file, '-noout', '-text');
    expect(text).toMatch(/DNS:banyan\.local, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe:\/\/local\/ns\/default\/sa\/banyan/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Server Authentication\n/);
    expect(describeCert(leaf.cert)).toMatchObject({ subject: 'CN=banyan.local', issuer: 'CN=Test CA', ca: false, usage: ['server'] });
  });

  it('a client certificate has clientAuth and not serverAuth', async () => {
    const leaf = await issueCert(ca, { uri: ['spiffe://local/ns/default/sa/edge'], usage: 'client' });
    const file = writeCert('client', leaf);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslclient', file).trim()).toBe(`${file}: OK`);
    expect(() => openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', file)).toThrow();
    expect(describeCert(leaf.cert).sans).toEqual(['URI:spiffe://local/ns/default/sa/edge']);
  });

  it('does not verify against another CA', async () => {
    const other = await createCa({ name: 'Other CA' });
    const otherFile = writeCert('other-ca', other);
    const file = writeCert('server-2', await issueCert(ca, { dns: ['x'] }));
    expect(() => openssl('verify', '-CAfile', otherFile, file)).toThrow();
  });

  it('defaults to 24 hours, never outlives the CA, and serials are random, positive and 128-bit', async () => {
    const a = await issueCert(ca, { dns: ['a'] });
    const b = await issueCert(ca, { dns: ['a'] });
    expect(a.cert.notAfter.getTime() - Date.now()).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(a.cert.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(a.cert.serialNumber).not.toBe(b.cert.serialNumber);
    for (const s of [a.cert.serialNumber, b.cert.serialNumber]) {
      expect(s).toMatch(/^[0-7][0-9a-f]{31}$/);
      expect(s.startsWith('00')).toBe(false);
    }
    const long = await issueCert(ca, { dns: ['a'], hours: 24 * 365 });
    expect(long.cert.notAfter.getTime()).toBe(ca.cert.notAfter.getTime());
  });

  it('refuses a certificate without any SAN, and a URI without a scheme', async () => {
    await expect(issueCert(ca, {})).rejects.toThrow(/at least one/);
    await expect(issueCert(ca, { uri: ['not-a-uri'] })).rejects.toThrow(/not a URI/);
  });
});

describe('keys at rest', () => {
  it('a passphrase gives an encrypted PKCS#8 PEM that opens only with it', async () => {
    const pem = await keyToPem(ca.privateKey, 'correct horse');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const back = await keyFromPem(pem, 'correct horse');
    expect(await keyMatches(ca.cert, back)).toBe(true);
    await expect(keyFromPem(pem, 'wrong')).rejects.toThrow(/wrong passphrase/);
    await expect(keyFromPem(pem)).rejects.toThrow(/no passphrase/);
  });

  it('openssl reads the encrypted key with the passphrase and names AES-256-CBC', async () => {
    const file = path.join(dir, 'enc.key');
    fs.writeFileSync(file, await keyToPem(ca.privateKey, 'pw'));
    expect(openssl('asn1parse', '-in', file)).toMatch(/aes-256-cbc/);
    expect(openssl('pkey', '-in', file, '-passin', 'pass:pw', '-noout', '-text')).toMatch(/prime256v1|P-256/);
    expect(() => openssl('pkey', '-in', file, '-passin', 'pass:nope', '-noout')).toThrow();
  });

  it('without a passphrase the key is plain PKCS#8', async () => {
    expect(await keyToPem(ca.privateKey)).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('loadCa checks that the certificate is a CA and that the key is its own', async () => {
    const caPem = certToPem(ca.cert);
    const keyPem = await keyToPem(ca.privateKey, 'pw');
    const loaded = await loadCa(caPem, keyPem, 'pw');
    expect(loaded.cert.serialNumber).toBe(ca.cert.serialNumber);
    const other = await createCa();
    await expect(loadCa(caPem, await keyToPem(other.privateKey))).rejects.toThrow(/does not belong/);
    const leaf = await issueCert(ca, { dns: ['x'] });
    await expect(loadCa(certToPem(leaf.cert), await keyToPem(leaf.privateKey))).rejects.toThrow(/not a CA/);
    expect(() => certFromPem('garbage')).toThrow(BanyanError);
  });

  it('the passphrase comes from BANYAN_CA_KEY_PASSPHRASE or the first line of BANYAN_CA_KEY_PASSPHRASE_FILE', () => {
    const file = path.join(dir, 'pass');
    fs.writeFileSync(file, 'from-file\nignored\n');
    expect(passphraseFromEnv({})).toBeUndefined();
    expect(passphraseFromEnv({ BANYAN_CA_KEY_PASSPHRASE: 'from-env' })).toBe('from-env');
    expect(passphraseFromEnv({ BANYAN_CA_KEY_PASSPHRASE: 'from-env', BANYAN_CA_KEY_PASSPHRASE_FILE: file })).toBe('from-file');
    fs.writeFileSync(file, '');
    expect(() => passphraseFromEnv({ BANYAN_CA_KEY_PASSPHRASE_FILE: file })).toThrow(/empty/);
  });
});

describe('needsRotation', () => {
  it('rotates after half the lifetime by default, or after the fraction given, and once expired', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const rootThen = await createCa({ now });
    const leaf = await issueCert(rootThen, { dns: ['r'], hours: 10, now });
    // notBefore is one minute before `now` (clock skew), notAfter ten hours after it
    const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
    const half = (10 * 60 + 1) / 2 - 1;
    expect(needsRotation(leaf.cert, at(0))).toBe(false);
    expect(needsRotation(leaf.cert, at(half - 1))).toBe(false);
    expect(needsRotation(leaf.cert, at(half + 1))).toBe(true);
    expect(needsRotation(leaf.cert, at(half + 1), 0.8)).toBe(false);
    expect(needsRotation(leaf.cert, at(8 * 60), 0.8)).toBe(true);
    expect(needsRotation(leaf.cert, at(11 * 60), 1)).toBe(true);
    expect(needsRotation(leaf.cert, at(-5))).toBe(true); // not yet valid
    expect(() => needsRotation(leaf.cert, now, 0)).toThrow(BanyanError);
  });
});
