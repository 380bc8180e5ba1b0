import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Test certificates made by the `openssl` CLI (P-256 keys: fast): a CA, and leaves it signs for a
 * server (SAN 127.0.0.1, ::1, localhost) or a client. Files go in `dir`; nothing is hand-rolled.
 */
export interface TestCa {
  name: string;
  certFile: string;
  keyFile: string;
  pem: Buffer;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** Upper-case hex, as node's X509Certificate / getPeerCertificate print it. */
  serial: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCa(dir: string, name: string): TestCa {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { name, certFile, keyFile, pem: fs.readFileSync(certFile) };
}

let serials = 0x1000 + Math.floor(Math.random() * 0x1000);

/** A leaf signed by `ca`; `serial` defaults to a fresh one per call. */
export function issueCert(ca: TestCa, dir: string, name: string, opts: { kind: 'server' | 'client'; serial?: number }): TestCert {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  const serial = opts.serial ?? ++serials;
  fs.writeFileSync(
    ext,
    opts.kind === 'server'
      ? 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n'
      : 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n',
  );
  openssl(['req', ...KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(serial), '-days', '2', '-out', certFile, '-extfile', ext]);
  return { certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), serial: serial.toString(16).toUpperCase() };
}

/** Replaces `target` with `source`'s bytes the way rotation tools do: write beside it, then rename over it. */
export function replaceFile(source: Buffer, target: string): void {
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, source);
  fs.renameSync(tmp, target);
}
