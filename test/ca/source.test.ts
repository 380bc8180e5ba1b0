/**
 * Where serve's CA comes from (src/ca/source.ts): operator files used as-is, a directory created once
 * and all at once, or a store that replicas share (first writer wins, key always encrypted); against
 * the embedded store, a real PostgreSQL, and a writer killed mid-creation.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { certToPem, createCa, issueCert, keyMatches, keyToPem, type KeyedCert } from '../../src/ca/index.js';
import { CA_CERT_FILE, CA_KEY_FILE, loadOrCreateCa, passphraseFromFile, type CaStore, type LoadedCa } from '../../src/ca/source.js';
import { BanyanError } from '../../src/errors.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

const SOURCE = path.resolve(import.meta.dirname, '../../src/ca/source.ts');
const PASS = 'correct horse battery staple';

const temps: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'banyan-ca-source-'));
  temps.push(d);
  return d;
};
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

/** The rejection of `p`, checked to be a bad-input BanyanError. */
async function badInput(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BanyanError);
  expect((err as BanyanError).code).toBe('bad-input');
  return (err as Error).message;
}

async function writeCa(dir: string, ca: KeyedCert, passphrase?: string) {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  await writeFile(certFile, certToPem(ca.cert));
  await writeFile(keyFile, await keyToPem(ca.privateKey, passphrase), { mode: 0o600 });
  return { certFile, keyFile };
}

const serial = (l: LoadedCa) => l.ca.cert.serialNumber;

describe('CA from the operator’s files', () => {
  let ca: KeyedCert;
  beforeAll(async () => {
    ca = await createCa({ name: 'Operator CA' });
  });

  it('loads them as they are, plain or encrypted, and never writes them', async () => {
    const dir = await tempDir();
    const plain = await writeCa(dir, ca);
    const before = await readFile(plain.keyFile, 'utf8');
    const loaded = await loadOrCreateCa({ files: plain, dir: path.join(dir, 'unused'), passphrase: PASS });
    expect(loaded).toMatchObject({ origin: 'files', created: false });
    expect(serial(loaded)).toBe(ca.cert.serialNumber);
    expect(await keyMatches(loaded.ca.cert, loaded.ca.privateKey)).toBe(true);
    expect(await readFile(plain.keyFile, 'utf8')).toBe(before);
    expect(await readdir(dir)).toEqual(['ca.crt', 'ca.key']);

    const encDir = await tempDir();
    const enc = await writeCa(encDir, ca, PASS);
    const fromEnc = await loadOrCreateCa({ files: enc, passphrase: PASS });
    expect(serial(fromEnc)).toBe(ca.cert.serialNumber);
    // and the CA it gives can sign
    const leaf = await issueCert(fromEnc.ca, { dns: ['svc.local'] });
    expect(leaf.cert.issuer).toBe(ca.cert.subject);
  });

  it('names the file and what is wrong with it', async () => {
    const dir = await tempDir();
    const good = await writeCa(dir, ca, PASS);

    let msg = await badInput(loadOrCreateCa({ files: { ...good, certFile: path.join(dir, 'nope.crt') }, passphrase: PASS }));
    expect(msg).toContain(path.join(dir, 'nope.crt'));
    expect(msg).toContain('does not exist');

    msg = await badInput(loadOrCreateCa({ files: { ...good, keyFile: path.join(dir, 'nope.key') }, passphrase: PASS }));
    expect(msg).toContain(path.join(dir, 'nope.key'));
    expect(msg).toContain('does not exist');

    const garbage = path.join(dir, 'garbage.crt');
    await writeFile(garbage, 'hello\n');
    msg = await badInput(loadOrCreateCa({ files: { ...good, certFile: garbage }, passphrase: PASS }));
    expect(msg).toContain(garbage);
    expect(msg).toContain('not a PEM certificate');

    const leaf = await issueCert(ca, { dns: ['leaf.local'] });
    const leafFiles = await writeCa(await tempDir(), leaf);
    msg = await badInput(loadOrCreateCa({ files: leafFiles }));
    expect(msg).toContain(leafFiles.certFile);
    expect(msg).toContain('not a CA certificate');

    const other = await writeCa(await tempDir(), await createCa({ name: 'Other CA' }), PASS);
    msg = await badInput(loadOrCreateCa({ files: { certFile: good.certFile, keyFile: other.keyFile }, passphrase: PASS }));
    expect(msg).toContain(other.keyFile);
    expect(msg).toContain(good.certFile);
    expect(msg).toContain('does not match');

    msg = await badInput(loadOrCreateCa({ files: good, passphrase: 'wrong' }));
    expect(msg).toContain(good.keyFile);
    expect(msg).toContain('wrong passphrase');

    msg = await badInput(loadOrCreateCa({ files: good }));
    expect(msg).toContain(good.keyFile);
    expect(msg).toContain('no passphrase');

    const old = await writeCa(await tempDir(), await createCa({ now: new Date('2020-01-01T00:00:00Z'), days: 30 }));
    msg = await badInput(loadOrCreateCa({ files: old }));
    expect(msg).toContain(old.certFile);
    expect(msg).toContain('expired');
    // ... at the time given
    expect(serial(await loadOrCreateCa({ files: old, now: new Date('2020-01-15T00:00:00Z') }))).toMatch(/^[0-9a-f]+$/);
  });
});

describe('CA in a directory (the embedded default)', () => {
  it('is created on first start, 0700 and 0600, the key encrypted, and loaded as it is afterwards', async () => {
    const dir = path.join(await tempDir(), 'data', 'ca');
    const first = await loadOrCreateCa({ dir, passphrase: PASS, name: 'Test CA', days: 30 });
    expect(first).toMatchObject({ origin: 'dir', created: true });
    expect(first.ca.cert.subject).toBe('CN=Test CA');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, CA_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(dir, CA_KEY_FILE), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(await readFile(path.join(dir, CA_CERT_FILE), 'utf8')).toBe(certToPem(first.ca.cert));
    // nothing left beside it (the staging directory was renamed into place)
    expect(await readdir(path.dirname(dir))).toEqual(['ca']);

    const again = await loadOrCreateCa({ dir, passphrase: PASS });
    expect(again).toMatchObject({ origin: 'dir', created: false });
    expect(serial(again)).toBe(serial(first));
    expect(await keyMatches(again.ca.cert, again.ca.privateKey)).toBe(true);

    const msg = await badInput(loadOrCreateCa({ dir, passphrase: 'wrong' }));
    expect(msg).toContain(path.join(dir, CA_KEY_FILE));
    expect(msg).toContain('wrong passphrase');
  });

  it('keeps the key plain without a passphrase, and uses an empty directory that exists', async () => {
    const dir = path.join(await tempDir(), 'ca');
    await mkdir(dir);
    const made = await loadOrCreateCa({ dir });
    expect(made.created).toBe(true);
    expect(await readFile(path.join(dir, CA_KEY_FILE), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await stat(path.join(dir, CA_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(serial(await loadOrCreateCa({ dir }))).toBe(serial(made));
  });

  it('refuses half a CA and never overwrites it; refuses a directory holding something else', async () => {
    const made = path.join(await tempDir(), 'ca');
    await loadOrCreateCa({ dir: made });
    const certPem = await readFile(path.join(made, CA_CERT_FILE), 'utf8');
    const keyPem = await readFile(path.join(made, CA_KEY_FILE), 'utf8');

    const onlyCert = path.join(await tempDir(), 'ca');
    await mkdir(onlyCert);
    await writeFile(path.join(onlyCert, CA_CERT_FILE), certPem);
    let msg = await badInput(loadOrCreateCa({ dir: onlyCert }));
    expect(msg).toContain(`${path.join(onlyCert, CA_CERT_FILE)} exists but ${path.join(onlyCert, CA_KEY_FILE)} does not`);
    expect(await readdir(onlyCert)).toEqual([CA_CERT_FILE]);
    expect(await readFile(path.join(onlyCert, CA_CERT_FILE), 'utf8')).toBe(certPem);

    const onlyKey = path.join(await tempDir(), 'ca');
    await mkdir(onlyKey);
    await writeFile(path.join(onlyKey, CA_KEY_FILE), keyPem);
    msg = await badInput(loadOrCreateCa({ dir: onlyKey }));
    expect(msg).toContain(`${path.join(onlyKey, CA_KEY_FILE)} exists but ${path.join(onlyKey, CA_CERT_FILE)} does not`);
    expect(await readdir(onlyKey)).toEqual([CA_KEY_FILE]);
    expect(await readFile(path.join(onlyKey, CA_KEY_FILE), 'utf8')).toBe(keyPem);

    const busy = path.join(await tempDir(), 'ca');
    await mkdir(busy);
    await writeFile(path.join(busy, 'README'), 'mine\n');
    msg = await badInput(loadOrCreateCa({ dir: busy }));
    expect(msg).toContain(busy);
    expect(msg).toContain('holds other files but no CA');
    expect(await readdir(busy)).toEqual(['README']);
  });

  it('gives processes creating it at once the same CA, exactly one of them creating it', async () => {
    const dir = path.join(await tempDir(), 'ca');
    const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateCa({ dir, passphrase: PASS })));
    expect(new Set(results.map(serial)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(serial(await loadOrCreateCa({ dir, passphrase: PASS }))).toBe(serial(results[0]));
  });

  it('after kill -9 at any step of creating it, the directory holds no CA or a whole one', async () => {
    const base = await tempDir();
    // A process that creates the CA in argv[2] and SIGKILLs itself just before its argv[3]-th file
    // system call (of those source.ts makes): a crash at every step of the creation, one per process.
    const script = `
      import fs from 'node:fs';
      import { syncBuiltinESMExports } from 'node:module';
      const [source, dir, k] = process.argv.slice(1);
      let calls = 0;
      for (const name of ['lstat', 'mkdir', 'mkdtemp', 'open', 'readFile', 'readdir', 'rename', 'rm']) {
        const real = fs.promises[name];
        fs.promises[name] = (...args) => {
          if (++calls === Number(k)) process.kill(process.pid, 'SIGKILL');
          return real(...args);
        };
      }
      syncBuiltinESMExports();
      const { loadOrCreateCa } = await import(source);
      await loadOrCreateCa({ dir, passphrase: 'p' });`;
    const steps = Array.from({ length: 14 }, (_, i) => i + 1);
    const outcomes = await Promise.all(
      steps.map(
        (k) =>
          new Promise<string>((resolve, reject) => {
            const dir = path.join(base, String(k), 'ca');
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, SOURCE, dir, String(k)], { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            child.stderr.on('data', (d) => (stderr += d));
            child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve('killed') : code === 0 ? resolve('done') : reject(new Error(`step ${k}: exit ${code}: ${stderr}`))));
          }),
      ),
    );
    // killed at each of its steps, up to the last, after which it finishes
    const firstDone = outcomes.indexOf('done');
    expect(firstDone).toBeGreaterThan(5);
    expect(outcomes.slice(firstDone).every((o) => o === 'done')).toBe(true);
    for (const k of steps) {
      const dir = path.join(base, String(k), 'ca');
      const files = await readdir(dir).catch(() => []);
      expect([[], [CA_CERT_FILE, CA_KEY_FILE].sort()]).toContainEqual(files.sort());
      // the next start finds the whole CA, or none and creates one
      const loaded = await loadOrCreateCa({ dir, passphrase: 'p' });
      expect(loaded.created).toBe(files.length === 0);
      expect(await keyMatches(loaded.ca.cert, loaded.ca.privateKey)).toBe(true);
    }
  }, 60_000); // 14 processes, each loading TypeScript through tsx
});

describe('CA in the store', () => {
  it('refuses to keep the key in a store unencrypted', async () => {
    const store = await EmbeddedStore.open({ dir: await tempDir() });
    try {
      const msg = await badInput(loadOrCreateCa({ store }));
      expect(msg).toBe('the CA key would be stored in the store unencrypted: set BANYAN_CA_KEY_PASSPHRASE or --ca-passphrase-file');
      expect(await store.getCa()).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('creates it once, encrypted, wins over the directory, and needs the same passphrase to read it', async () => {
    const dataDir = await tempDir();
    let store = await EmbeddedStore.open({ dir: dataDir });
    const caDir = path.join(await tempDir(), 'ca');
    try {
      const first = await loadOrCreateCa({ store, dir: caDir, passphrase: PASS, name: 'Shared CA' });
      expect(first).toMatchObject({ origin: 'store', created: true });
      expect(await readdir(path.dirname(caDir))).toEqual([]); // the directory was not used
      const stored = (await store.getCa())!;
      expect(stored.certPem).toBe(certToPem(first.ca.cert));
      expect(stored.keyPem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      expect(await readFile(path.join(dataDir, 'ca.json'), 'utf8')).not.toContain('BEGIN PRIVATE KEY');

      await store.close();
      store = await EmbeddedStore.open({ dir: dataDir });
      const again = await loadOrCreateCa({ store, passphrase: PASS });
      expect(again).toMatchObject({ origin: 'store', created: false });
      expect(serial(again)).toBe(serial(first));
      expect(await keyMatches(again.ca.cert, again.ca.privateKey)).toBe(true);

      const msg = await badInput(loadOrCreateCa({ store, passphrase: 'not the same' }));
      expect(msg).toContain('the CA key in the store');
      expect(msg).toContain('wrong passphrase');
      expect(msg).toContain('same BANYAN_CA_KEY_PASSPHRASE');

      // explicit files win over the store, which is left alone
      const own = await createCa({ name: 'Operator CA' });
      const files = await writeCa(await tempDir(), own);
      const fromFiles = await loadOrCreateCa({ files, store, passphrase: PASS });
      expect(fromFiles).toMatchObject({ origin: 'files', created: false });
      expect(serial(fromFiles)).toBe(own.cert.serialNumber);
      expect((await store.getCa())!.certPem).toBe(stored.certPem);
    } finally {
      await store.close();
    }
  });

  it('refuses an expired stored CA clearly', async () => {
    const store = await EmbeddedStore.open({ dir: await tempDir() });
    try {
      const made = await loadOrCreateCa({ store, passphrase: PASS, days: 1, now: new Date('2020-01-01T00:00:00Z') });
      expect(made.created).toBe(true);
      const msg = await badInput(loadOrCreateCa({ store, passphrase: PASS }));
      expect(msg).toContain('the CA certificate in the store');
      expect(msg).toContain('expired');
    } finally {
      await store.close();
    }
  });

  describe('PostgreSQL, shared by replicas', () => {
    let server: PostgresServer;
    let dbCount = 0;
    const stores: PostgresStore[] = [];
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });
    afterAll(async () => {
      await server?.destroy();
    });
    const open = async (url: string) => {
      const store = await PostgresStore.open({ url });
      stores.push(store);
      return store;
    };
    /** `n` replicas on one fresh database. */
    const replicas = async (n: number) => {
      const url = await server.createDatabase(`banyan_ca_${++dbCount}`);
      return { url, stores: await Promise.all(Array.from({ length: n }, () => open(url))) };
    };

    /** Holds every getCa() answer until all replicas have asked: each sees no CA and creates its own. */
    const racing = (inner: readonly CaStore[]): CaStore[] => {
      let asked = 0;
      let release!: () => void;
      const allAsked = new Promise<void>((r) => (release = r));
      return inner.map((s) => ({
        async getCa() {
          const held = await s.getCa();
          if (++asked === inner.length) release();
          await allAsked;
          return held;
        },
        putCaIfAbsent: (ca) => s.putCaIfAbsent(ca),
      }));
    };

    it('two replicas starting together, both finding no CA, end with the same CA: the first writer’s', async () => {
      const {
        stores: [a, b],
      } = await replicas(2);
      const results = await Promise.all(racing([a, b]).map((store) => loadOrCreateCa({ store, passphrase: PASS })));
      expect(results.map((r) => r.origin)).toEqual(['store', 'store']);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(serial(results[0])).toBe(serial(results[1]));
      expect(certToPem(results[0].ca.cert)).toBe((await b.getCa())!.certPem);
      // the loser holds the winner's key, not the one it generated
      for (const r of results) expect(await keyMatches(r.ca.cert, r.ca.privateKey)).toBe(true);
      expect((await a.listAudit()).filter((e) => e.action === 'ca.create')).toHaveLength(1);
    });

    it('replicas started at once without any help agree too, and a later replica loads it', async () => {
      const { url, stores: three } = await replicas(3);
      const results = await Promise.all(three.map((store) => loadOrCreateCa({ store, passphrase: PASS })));
      expect(new Set(results.map(serial)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const late = await open(url);
      const again = await loadOrCreateCa({ store: late, passphrase: PASS });
      expect(again).toMatchObject({ origin: 'store', created: false });
      expect(serial(again)).toBe(serial(results[0]));
      const msg = await badInput(loadOrCreateCa({ store: three[0], passphrase: 'other' }));
      expect(msg).toContain('wrong passphrase');
    });
  });
});

describe('passphraseFromFile', () => {
  it('reads the file less one trailing newline, and refuses an empty or missing one', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'pass');
    await writeFile(f, 's3cret\n');
    expect(await passphraseFromFile(f)).toBe('s3cret');
    await writeFile(f, 's3cret\r\n');
    expect(await passphraseFromFile(f)).toBe('s3cret');
    await writeFile(f, ' spaced \n\n');
    expect(await passphraseFromFile(f)).toBe(' spaced \n');
    await writeFile(f, 'no-newline');
    expect(await passphraseFromFile(f)).toBe('no-newline');
    await writeFile(f, '\n');
    expect(await badInput(passphraseFromFile(f))).toContain(`${f} is empty`);
    const missing = path.join(dir, 'missing');
    expect(await badInput(passphraseFromFile(missing))).toContain(missing);
  });
});
