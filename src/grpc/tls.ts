import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';

/** The one TLS option shape of every Banyan server (xDS, rate limit, authz, admin). */
export interface TlsFiles {
  /** PEM certificate chain the server presents. */
  certFile: string;
  /** PEM private key of certFile. */
  keyFile: string;
  /** PEM CA bundle client certificates are verified against; given = clients are asked for one. */
  caFile?: string;
  /** Refuse clients without a certificate signed by caFile (mTLS). Needs caFile. */
  requireClientCert: boolean;
}

/** How a server listens: TLS from files, or plaintext (only on loopback unless `insecure`). */
export interface Transport {
  tls?: TlsFiles;
  /** Allow plaintext on a non-loopback address. */
  insecure?: boolean;
}

/** The PEM contents currently served. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** 127.0.0.0/8, ::1 (and its IPv4-mapped forms), localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // WHATWG URL parsing compresses the address: 0:0:0:0:0:0:0:1 → ::1, ::ffff:127.0.0.1 → ::ffff:7f00:1
    const c = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return c === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(c);
  }
  return false;
}

/**
 * Refuses plaintext on anything but loopback unless told `insecure`: an xDS, rate limit, authz or
 * admin server reachable from the network without TLS hands out (or takes) traffic policy to anyone.
 */
export function assertSecureBind(server: string, host: string, transport: Transport): void {
  if (transport.tls || transport.insecure || isLoopbackHost(host)) return;
  throw new Error(
    `refusing to serve the ${server} without TLS on ${host}, which is not loopback: give --tls-cert and --tls-key (and --tls-client-ca for mTLS), or --insecure to serve plaintext anyway`,
  );
}

export function validateTlsFiles(files: TlsFiles): void {
  if (files.requireClientCert && !files.caFile) throw new Error('requiring client certificates needs a CA file to verify them against (--tls-client-ca)');
}

async function readMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([readFile(files.certFile), readFile(files.keyFile), files.caFile ? readFile(files.caFile) : undefined]);
  // Throws on a half-written file, a key that does not match the certificate, a bad CA bundle.
  createSecureContext({ cert, key, ca });
  return { cert, key, ...(ca ? { ca } : {}) };
}

const same = (a: TlsMaterial, b: TlsMaterial) => a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca && b.ca ? a.ca.equals(b.ca) : a.ca === b.ca);

export interface TlsWatchOptions {
  /** Periodic re-read besides fs.watch (which misses some replacements, e.g. on network filesystems); default 10 s. */
  recheckMs?: number;
  /** Coalesces a burst of file events (cert and key written one after the other); default 100 ms. */
  debounceMs?: number;
  logger?: Logger;
}

/**
 * The certificate files, read and checked, then followed: fs.watch on their directories (a rotation
 * is usually a rename, or a Kubernetes Secret's symlink swap) and a periodic re-check, debounced.
 * A new set of files is taken only when it makes a valid context; a half-written or mismatched one
 * keeps the last good material and is logged, and the next event or re-check tries again.
 */
export class TlsFileWatcher {
  private listeners = new Set<(m: TlsMaterial) => void>();
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private reading?: Promise<void>;
  private again = false;
  private closed = false;
  private lastError?: string;

  private constructor(
    readonly files: TlsFiles,
    private current: TlsMaterial,
    private readonly opts: TlsWatchOptions,
  ) {}

  /** Reads the files; throws (naming them) when they do not make a valid TLS context. */
  static async open(files: TlsFiles, opts: TlsWatchOptions = {}): Promise<TlsFileWatcher> {
    validateTlsFiles(files);
    let material: TlsMaterial;
    try {
      material = await readMaterial(files);
    } catch (err) {
      throw new Error(`TLS files ${[files.certFile, files.keyFile, files.caFile].filter(Boolean).join(', ')}: ${(err as Error).message}`);
    }
    const w = new TlsFileWatcher(files, material, opts);
    w.start();
    return w;
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** Called with each new valid material (not with the current one). */
  onChange(listener: (m: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private start(): void {
    const dirs = new Set([this.files.certFile, this.files.keyFile, this.files.caFile].filter((f): f is string => !!f).map((f) => path.dirname(path.resolve(f))));
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', () => undefined); // the periodic re-check still runs
        this.watchers.push(w);
      } catch {
        // not watchable: the periodic re-check covers it
      }
    }
    this.timer = setInterval(() => this.schedule(), this.opts.recheckMs ?? 10_000);
    this.timer.unref();
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.opts.debounceMs ?? 100);
    this.debounce.unref();
  }

  /** Re-reads the files now; resolves once they are read (and taken, when valid and changed). */
  async check(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce();
        } while (this.again && !this.closed);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let next: TlsMaterial;
    try {
      next = await readMaterial(this.files);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastError) this.opts.logger?.warn({ err: message, certFile: this.files.certFile }, 'TLS files unreadable or invalid; keeping the certificate being served');
      this.lastError = message;
      return;
    }
    this.lastError = undefined;
    if (this.closed || same(next, this.current)) return;
    this.current = next;
    this.opts.logger?.info({ certFile: this.files.certFile }, 'TLS certificate reloaded');
    for (const l of this.listeners) l(next);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.listeners.clear();
  }
}

/** Node TLS server options (https.createServer / setSecureContext) for the material. */
export function secureContextOptions(files: TlsFiles, m: TlsMaterial): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}), requestCert: !!files.caFile, rejectUnauthorized: files.requireClientCert };
}
