/**
 * Where `banyan serve` gets its CA, once at start: explicit files from the operator, a CA the
 * replicas share through the store (PostgreSQL), or the embedded default in a directory, created on
 * first start. See loadOrCreateCa() for the rules.
 *
 * Imports only errors and this part (rank 2): the store implements CaStore structurally, it is not
 * imported here.
 */
import { lstat, mkdir, mkdtemp, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BanyanError } from '../errors.js';
import { certFromPem, certToPem, createCa, describeCert, keyFromPem, keyMatches, keyToPem, type KeyedCert } from './index.js';

/** The CA as a store holds it: PEM text, the key always encrypted (PKCS#8, aes-256-cbc). */
export interface StoredCa {
  certPem: string;
  /** `-----BEGIN ENCRYPTED PRIVATE KEY-----`: a store refuses a plain key. */
  keyPem: string;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** What loadOrCreateCa() needs of a store (src/store's Store has both). */
export interface CaStore {
  getCa(): Promise<StoredCa | undefined>;
  /** Stores `ca` unless a CA is stored already; returns whichever is stored after the call (first writer wins). */
  putCaIfAbsent(ca: StoredCa): Promise<StoredCa>;
}

export interface CaSourceOptions {
  /** Explicit files given by the operator (--ca-cert / --ca-key): used as-is, never written. */
  files?: { certFile: string; keyFile: string };
  /** Where the embedded default keeps it (e.g. <data-dir>/ca): created there on first start when no store holds one. */
  dir?: string;
  /** A store that can hold the CA for replicas (PostgreSQL); when given it wins over dir. */
  store?: CaStore;
  /** Encrypts the key at rest (PKCS#8 aes-256-cbc via keyToPem); from env BANYAN_CA_KEY_PASSPHRASE or a file. */
  passphrase?: string;
  /** Common name / validity for a new CA. */
  name?: string;
  days?: number;
  now?: Date;
}

export interface LoadedCa {
  ca: KeyedCert;
  origin: 'files' | 'dir' | 'store';
  created: boolean;
}

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';

const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----/;

/**
 * The CA for this process, by the first source that applies:
 *
 * - `files`: read as-is (the key decrypted with `passphrase` if it is encrypted), never written.
 * - `store`: the CA the store holds; if none, a new one is created and offered with putCaIfAbsent,
 *   and whichever CA the store then holds is used (of replicas starting together, the first writer
 *   wins and the others load its CA). The key is stored encrypted: without a passphrase this throws.
 * - `dir`: `<dir>/ca.pem` and `<dir>/ca-key.pem`; if neither exists, a new CA is written there (the
 *   directory 0700, the key 0600, encrypted when a passphrase is given) all at once: both files are
 *   written into a staging directory that is then renamed onto `dir`, so a crash leaves either no CA
 *   or a whole one. One file without the other is an error, never overwritten.
 *
 * Every CA loaded is checked: a CA certificate, the key its key, not expired at `now`. All errors are
 * BanyanError('bad-input') naming the file (or the store) and what is wrong.
 */
export async function loadOrCreateCa(opts: CaSourceOptions): Promise<LoadedCa> {
  const now = opts.now ?? new Date();
  const passphrase = opts.passphrase || undefined;
  if (opts.files) {
    const { certFile, keyFile } = opts.files;
    const ca = await assemble(
      { pem: await readPem(certFile, 'CA certificate'), label: `the CA certificate file ${certFile}` },
      { pem: await readPem(keyFile, 'CA key'), label: `the CA key file ${keyFile}` },
      passphrase,
      now,
    );
    return { ca, origin: 'files', created: false };
  }
  if (opts.store) return fromStore(opts.store, passphrase, opts, now);
  if (opts.dir) return fromDir(path.resolve(opts.dir), passphrase, opts, now);
  throw new BanyanError('bad-input', 'no source for the CA: give its files, a directory or a store');
}

/** A passphrase from a file: its content less one trailing newline. */
export async function passphraseFromFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BanyanError('bad-input', `cannot read the passphrase file ${file}: ${reason(err)}`, { cause: err });
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (!passphrase) throw new BanyanError('bad-input', `the passphrase file ${file} is empty`);
  return passphrase;
}

// ------------------------------------------------------------------ store

async function fromStore(store: CaStore, passphrase: string | undefined, opts: CaSourceOptions, now: Date): Promise<LoadedCa> {
  if (!passphrase) {
    throw new BanyanError('bad-input', 'the CA key would be stored in the store unencrypted: set BANYAN_CA_KEY_PASSPHRASE or --ca-passphrase-file');
  }
  const held = await store.getCa();
  if (held) return { ca: await fromStored(held, passphrase, now), origin: 'store', created: false };
  const fresh = await createCa({ name: opts.name, days: opts.days, now });
  const mine: StoredCa = { certPem: certToPem(fresh.cert), keyPem: await keyToPem(fresh.privateKey, passphrase), createdAt: now.getTime() };
  const stored = await store.putCaIfAbsent(mine);
  if (stored.certPem === mine.certPem) return { ca: fresh, origin: 'store', created: true };
  // another replica stored its CA first: use that one
  return { ca: await fromStored(stored, passphrase, now), origin: 'store', created: false };
}

async function fromStored(stored: StoredCa, passphrase: string, now: Date): Promise<KeyedCert> {
  if (!ENCRYPTED_KEY.test(stored.keyPem)) throw new BanyanError('bad-input', 'the CA key in the store is not encrypted; refusing to use it');
  return assemble(
    { pem: stored.certPem, label: 'the CA certificate in the store' },
    { pem: stored.keyPem, label: 'the CA key in the store', hint: 'every replica must use the same BANYAN_CA_KEY_PASSPHRASE' },
    passphrase,
    now,
  );
}

// ------------------------------------------------------------------ directory

async function fromDir(dir: string, passphrase: string | undefined, opts: CaSourceOptions, now: Date): Promise<LoadedCa> {
  const certFile = path.join(dir, CA_CERT_FILE);
  const keyFile = path.join(dir, CA_KEY_FILE);
  const existing = await readDir(certFile, keyFile, passphrase, now);
  if (existing) return { ca: existing, origin: 'dir', created: false };

  const fresh = await createCa({ name: opts.name, days: opts.days, now });
  const certPem = certToPem(fresh.cert);
  const keyPem = await keyToPem(fresh.privateKey, passphrase);
  if (await writeCaDir(dir, certPem, keyPem)) return { ca: fresh, origin: 'dir', created: true };
  // not empty: another process created the CA meanwhile (use theirs), or something else is there
  const theirs = await readDir(certFile, keyFile, passphrase, now);
  if (!theirs) {
    throw new BanyanError('bad-input', `${dir} holds other files but no CA (${CA_CERT_FILE}, ${CA_KEY_FILE}); give an empty or absent directory for a new CA`);
  }
  return { ca: theirs, origin: 'dir', created: false };
}

/** The CA in `dir`, or undefined when the directory holds neither file. */
async function readDir(certFile: string, keyFile: string, passphrase: string | undefined, now: Date): Promise<KeyedCert | undefined> {
  const [hasCert, hasKey] = await Promise.all([exists(certFile), exists(keyFile)]);
  if (hasCert && hasKey) {
    return assemble(
      { pem: await readPem(certFile, 'CA certificate'), label: `the CA certificate file ${certFile}` },
      { pem: await readPem(keyFile, 'CA key'), label: `the CA key file ${keyFile}` },
      passphrase,
      now,
    );
  }
  if (hasCert || hasKey) {
    const [present, missing] = hasCert ? [certFile, keyFile] : [keyFile, certFile];
    throw new BanyanError(
      'bad-input',
      `${present} exists but ${missing} does not: a CA needs both; refusing to create a new CA over half of one (restore ${missing}, or remove ${present} to start a new CA)`,
    );
  }
  return undefined;
}

/**
 * Writes both files into a staging directory next to `dir` and renames it onto `dir` (which must be
 * absent or empty): one atomic step. Returns false, writing nothing, when `dir` is not empty (another
 * process got there first, or it holds something else).
 */
async function writeCaDir(dir: string, certPem: string, keyPem: string): Promise<boolean> {
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new BanyanError('bad-input', `cannot use ${dir} for the CA: ${reason(err)}`, { cause: err });
  });
  if (entries.length > 0) return false;
  // mkdtemp creates the directory 0700 (what `dir` becomes); the name carries the store's temp mark (".tmp-")
  const stage = await mkdtemp(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    await writeSynced(path.join(stage, CA_KEY_FILE), keyPem, 0o600);
    await writeSynced(path.join(stage, CA_CERT_FILE), certPem, 0o644);
    await fsyncDir(stage);
    try {
      await rename(stage, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw new BanyanError('bad-input', `cannot create the CA in ${dir}: ${reason(err)}`, { cause: err });
    }
    await fsyncDir(parent);
    return true;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function writeSynced(file: string, data: string, mode: number): Promise<void> {
  const fh = await open(file, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have taken bits off; for the key it only ever narrows
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// ------------------------------------------------------------------ checks shared by every source

interface Part {
  pem: string;
  /** e.g. "the CA key file /etc/banyan/ca-key.pem" */
  label: string;
  hint?: string;
}

/** The CA from its PEMs: a CA certificate, not expired, and a key that is its key. */
async function assemble(cert: Part, key: Part, passphrase: string | undefined, now: Date): Promise<KeyedCert> {
  const c = rethrowAs(cert, () => certFromPem(cert.pem));
  const summary = describeCert(c);
  if (!summary.ca) throw new BanyanError('bad-input', `${cert.label} is not a CA certificate (${summary.subject} has no basicConstraints CA:true)`);
  if (now.getTime() >= c.notAfter.getTime()) {
    throw new BanyanError('bad-input', `${cert.label} holds an expired CA: ${summary.subject} expired on ${summary.notAfter}`);
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await keyFromPem(key.pem, passphrase);
  } catch (err) {
    throw new BanyanError('bad-input', `${key.label}: ${reason(err)}${key.hint ? ` (${key.hint})` : ''}`, { cause: err });
  }
  if (!(await keyMatches(c, privateKey))) {
    throw new BanyanError('bad-input', `${key.label} does not match ${cert.label}: the key is not the key of ${summary.subject}`);
  }
  return { cert: c, privateKey };
}

function rethrowAs<T>(part: Part, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new BanyanError('bad-input', `${part.label}: ${reason(err)}`, { cause: err });
  }
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : reason(err);
    throw new BanyanError('bad-input', `cannot read the ${what} file ${file}: ${why}`, { cause: err });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new BanyanError('bad-input', `cannot read ${file}: ${reason(err)}`, { cause: err });
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
