/**
 * Banyan's certificate authority: an ECDSA P-256 CA that issues short-lived leaf certificates
 * (server or client, SANs of DNS names, IPs and URIs such as spiffe://…), PEM in and out, and the
 * private key encrypted at rest (PKCS#8, AES-256-CBC, by Node's crypto).
 *
 * Certificates are built by @peculiar/x509 over Node's WebCrypto: no ASN.1 or crypto is written here.
 * Imports only errors (rank 2): the servers and the CLI use it, it uses none of them.
 */
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { BanyanError } from '../errors.js';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const EC: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' };

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_HOURS = 24;

/** A CA or leaf: its certificate and the key pair that goes with it. */
export interface KeyedCert {
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface CaOptions {
  /** Common name of the CA. */
  name?: string;
  days?: number;
  now?: Date;
}

/** What a leaf is for; `both` for a workload that serves and calls (a mesh proxy). */
export type Usage = 'server' | 'client' | 'both';

export interface LeafOptions {
  dns?: readonly string[];
  ip?: readonly string[];
  uri?: readonly string[];
  /** Subject common name; the first DNS name, URI or IP when not given. */
  commonName?: string;
  usage?: Usage;
  hours?: number;
  now?: Date;
}

/** A positive 128-bit random serial, as hex (the top bit clear so that DER needs no sign byte). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) || 0x01; // positive, and no leading zero byte for DER to drop
  return b.toString('hex');
}

function positive(n: number | undefined, fallback: number, what: string): number {
  const v = n ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new BanyanError('bad-input', `${what} must be a positive number, got ${String(n)}`);
  return v;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A self-signed CA: CA:true (path length 0), keyCertSign and cRLSign, valid `days` (default 10 years). */
export async function createCa(opts: CaOptions = {}): Promise<KeyedCert> {
  const days = positive(opts.days, DEFAULT_CA_DAYS, 'CA validity (days)');
  const notBefore = new Date((opts.now ?? new Date()).getTime() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 60_000 + days * 86_400_000);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.name ?? 'Banyan CA'] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, privateKey: keys.privateKey };
}

const EKU: Record<Usage, string[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

/** A leaf certificate signed by `ca`: digitalSignature, serverAuth or clientAuth, the given SANs. */
export async function issueCert(ca: KeyedCert, opts: LeafOptions): Promise<KeyedCert> {
  const dns = opts.dns ?? [];
  const ip = opts.ip ?? [];
  const uri = opts.uri ?? [];
  if (dns.length + ip.length + uri.length === 0) throw new BanyanError('bad-input', 'a certificate needs at least one DNS name, IP address or URI');
  for (const u of uri) if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(u)) throw new BanyanError('bad-input', `not a URI: ${u}`);
  const hours = positive(opts.hours, DEFAULT_LEAF_HOURS, 'certificate validity (hours)');
  const now = opts.now ?? new Date();
  // Backdated for clock skew between issuer and peers; never by more than a tenth of a short life.
  const notBefore = new Date(now.getTime() - Math.min(60_000, (hours * 3_600_000) / 10));
  const notAfter = new Date(Math.min(now.getTime() + hours * 3_600_000, ca.cert.notAfter.getTime()));
  const keys = await generateKeys();
  const usage = opts.usage ?? 'server';
  const names: x509.JsonGeneralName[] = [
    ...dns.map((value) => ({ type: 'dns' as const, value })),
    ...ip.map((value) => ({ type: 'ip' as const, value })),
    ...uri.map((value) => ({ type: 'url' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.commonName ?? dns[0] ?? uri[0] ?? ip[0]] }],
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(EKU[usage], false),
      new x509.SubjectAlternativeNameExtension(names, uri.length > 0 && dns.length + ip.length === 0),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert, privateKey: keys.privateKey };
}

/**
 * Whether a certificate is due for a new one: after `fraction` of its lifetime (default half, as
 * istio does), or once it has expired or is not yet valid.
 */
export function needsRotation(cert: x509.X509Certificate, now: Date = new Date(), fraction = 0.5): boolean {
  if (!(fraction > 0 && fraction <= 1)) throw new BanyanError('bad-input', `rotation fraction must be in (0, 1], got ${fraction}`);
  const from = cert.notBefore.getTime();
  const to = cert.notAfter.getTime();
  const t = now.getTime();
  if (t < from || t >= to) return true;
  return t >= from + (to - from) * fraction;
}

// ---- PEM in and out ----

export function certToPem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trim()}\n`;
}

export function certFromPem(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new BanyanError('bad-input', `not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
}

async function toKeyObject(key: CryptoKey): Promise<KeyObject> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/**
 * The private key as PKCS#8 PEM; encrypted with AES-256-CBC (Node's crypto, PBES2) when a
 * passphrase is given, so that the key at rest is useless without it.
 */
export async function keyToPem(key: CryptoKey, passphrase?: string): Promise<string> {
  const obj = await toKeyObject(key);
  const pem = passphrase
    ? obj.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase })
    : obj.export({ format: 'pem', type: 'pkcs8' });
  return pem.toString();
}

/** A PKCS#8 (or SEC1) PEM private key, encrypted or not, as a signing key. */
export async function keyFromPem(pem: string, passphrase?: string): Promise<CryptoKey> {
  let obj: KeyObject;
  try {
    obj = createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
  } catch (err) {
    const encrypted = pem.includes('ENCRYPTED');
    const why = encrypted && !passphrase ? 'the key is encrypted and no passphrase was given' : encrypted ? 'wrong passphrase or damaged key' : (err as Error).message;
    throw new BanyanError('bad-input', `cannot read the private key: ${why}`, { cause: err });
  }
  if (obj.asymmetricKeyType !== 'ec' || obj.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new BanyanError('bad-input', 'the private key is not an ECDSA P-256 key');
  }
  const der = obj.export({ format: 'der', type: 'pkcs8' });
  return crypto.subtle.importKey('pkcs8', der, EC, true, ['sign']);
}

/** Whether a certificate and a private key belong together (the key signs what the cert verifies). */
export async function keyMatches(cert: x509.X509Certificate, key: CryptoKey): Promise<boolean> {
  const data = randomBytes(32);
  const sig = await crypto.subtle.sign(SIGNING, key, data);
  const pub = await cert.publicKey.export(EC, ['verify'], crypto);
  return crypto.subtle.verify(SIGNING, pub, sig, data);
}

/** A CA from its PEM files, checking that it is a CA and that the key is its key. */
export async function loadCa(certPem: string, keyPem: string, passphrase?: string): Promise<KeyedCert> {
  const cert = certFromPem(certPem);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new BanyanError('bad-input', `${cert.subject} is not a CA certificate (no basicConstraints CA:true)`);
  const privateKey = await keyFromPem(keyPem, passphrase);
  if (!(await keyMatches(cert, privateKey))) throw new BanyanError('bad-input', `the private key does not belong to ${cert.subject}`);
  return { cert, privateKey };
}

/**
 * The passphrase for keys at rest: the variable BANYAN_CA_KEY_PASSPHRASE, or the first line of the
 * file BANYAN_CA_KEY_PASSPHRASE_FILE names; undefined when neither is set (the key is stored plain).
 */
export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.BANYAN_CA_KEY_PASSPHRASE_FILE;
  if (file) {
    const line = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    if (!line) throw new BanyanError('bad-input', `the passphrase file ${file} is empty`);
    return line;
  }
  return env.BANYAN_CA_KEY_PASSPHRASE || undefined;
}

/** What `banyan certs inspect` prints. */
export interface CertSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  ca: boolean;
  sans: string[];
  usage: string[];
}

export function describeCert(cert: x509.X509Certificate): CertSummary {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const usageNames: Record<string, string> = { [x509.ExtendedKeyUsage.serverAuth]: 'server', [x509.ExtendedKeyUsage.clientAuth]: 'client' };
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    sans: (san?.names.toJSON() ?? []).map((n) => `${n.type === 'url' ? 'URI' : n.type.toUpperCase()}:${n.value}`),
    usage: (eku?.usages ?? []).map((u) => usageNames[String(u)] ?? String(u)),
  };
}
