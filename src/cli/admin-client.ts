import fs from 'node:fs';
import https from 'node:https';
import type { Command } from 'commander';
import { BanyanError, type BanyanCode } from '../errors.js';
import { DEFAULT_PORTS } from '../ports.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3, rejected: 4, unauthorized: 5, timeout: 6 } as const;

type Exit = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code for a domain error raised in the CLI's own process (arguments it checks before
 * calling the server, or a command that runs locally). A server's refusal arrives as an HTTP status,
 * which the admin API chose from the same codes (src/admin/routes/errors.ts), and exits per status.
 */
export const EXIT_FOR: Record<BanyanCode, Exit> = {
  'bad-weights': EXIT.usage,
  'bad-input': EXIT.usage,
  'unknown-route': EXIT.rejected,
  'ambiguous-route': EXIT.rejected,
  'not-forward': EXIT.rejected,
  'unknown-backend': EXIT.rejected,
  'busy-route': EXIT.rejected,
  'file-owned': EXIT.rejected,
  'bad-state': EXIT.rejected,
  conflict: EXIT.rejected,
  'not-found': EXIT.rejected,
  'rejected-config': EXIT.rejected,
  'held-change': EXIT.rejected,
  'no-config': EXIT.failure,
  'store-unavailable': EXIT.failure,
  'store-locked': EXIT.failure,
  'store-corrupt': EXIT.failure,
};

/** Runs a CLI-side step; a domain error it throws leaves with its EXIT_FOR code and its message. */
export function orExit<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BanyanError) throw new CliError(err.message, EXIT_FOR[err.code as BanyanCode]);
    throw err;
  }
}

export interface AdminClientOptions {
  server: string;
  token?: string;
  /** TLS to an HTTPS admin API: a CA bundle to trust (PEM), a client certificate and key for mTLS. */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** What a command that calls the admin API is given (flags, with environment fallbacks in clientFrom). */
export interface ServerFlags {
  server?: string;
  token?: string;
  caFile?: string;
  clientCert?: string;
  clientKey?: string;
}

const DEFAULT_ADMIN_URL = `http://127.0.0.1:${DEFAULT_PORTS.admin}`;

/** Adds --server/--token (with BANYAN_SERVER/BANYAN_TOKEN fallbacks) to a command that calls the admin API. */
export function withServerOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', `admin API URL, or host:port: http, https with --ca-file/--client-cert (or BANYAN_SERVER; default ${DEFAULT_ADMIN_URL})`)
    // No default value here: commander prints defaults in --help, and a token must never be shown.
    .option('--token <token>', 'admin bearer token (or BANYAN_TOKEN): reads, validate and diff need a read token, changes operate or admin')
    .option('--ca-file <file>', 'PEM CA bundle to trust for an https:// admin API (or BANYAN_CA_FILE; default the system roots)')
    .option('--client-cert <file>', 'PEM client certificate for an admin API that requires one (mTLS) (or BANYAN_CLIENT_CERT)')
    .option('--client-key <file>', 'PEM private key of --client-cert (or BANYAN_CLIENT_KEY)');
}

/** A thin JSON client for the admin API; every failure becomes a CliError with a meaningful exit code. */
export class AdminClient {
  constructor(private readonly opts: AdminClientOptions) {}

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  delete<T = unknown>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.opts.server.endsWith('/') ? this.opts.server : this.opts.server + '/');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (this.opts.tls && url.protocol !== 'https:') {
      throw new CliError(`--ca-file/--client-cert are for an https:// admin API, but --server is ${url.origin}; use https://`, EXIT.usage);
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let res: { ok: boolean; status: number; statusText: string; text: string };
    try {
      res = this.opts.tls || url.protocol === 'https:' ? await httpsRequest(url, method, headers, payload, this.opts.tls ?? {}) : await fetchRequest(url, method, headers, payload);
    } catch (err) {
      type Cause = { code?: string; message?: string; errors?: { code?: string }[] };
      const c = (err as { cause?: Cause }).cause ?? (err as Cause);
      const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the Banyan admin API at ${this.opts.server} (${cause})${tlsHint(String(cause), this.opts.tls)}`, EXIT.unreachable);
    }
    const text = res.text;
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!res.ok) {
      const p = parsed as { error?: string; details?: unknown } | undefined;
      const message = typeof p === 'object' && p?.error ? p.error : `${res.status} ${res.statusText}`;
      const details = typeof p === 'object' && p?.details ? formatDetails(p.details) : '';
      const code = res.status === 401 || res.status === 403 ? EXIT.unauthorized : res.status >= 500 ? EXIT.failure : EXIT.rejected;
      throw new CliError(`${message}${details}`, code);
    }
    return parsed as T;
  }
}

async function fetchRequest(url: URL, method: string, headers: Record<string, string>, body: string | undefined) {
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { ok: res.ok, status: res.status, statusText: res.statusText, text: await res.text() };
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * node:https, for a CA, a client certificate or an https:// URL: Node 20's global fetch takes no TLS
 * options without undici's own Agent, which is not a dependency. (A plain http:// URL with TLS
 * options is refused before, rather than the request going out in the clear.)
 */
function httpsRequest(url: URL, method: string, headers: Record<string, string>, body: string | undefined, tls: NonNullable<AdminClientOptions['tls']>) {
  return new Promise<{ ok: boolean; status: number; statusText: string; text: string }>((resolve, reject) => {
    const req = https.request(url, { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, ...tls, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** What to do about a failure to connect, said in terms of the flags. */
function tlsHint(cause: string, tls: AdminClientOptions['tls']): string {
  if (/CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA/i.test(cause) && tls !== undefined) {
    return tls.cert
      ? '; the admin API refused the TLS handshake: is --client-cert signed by the CA it trusts (--tls-client-ca of serve)?'
      : '; the admin API refused the TLS handshake: it may require a client certificate: set --client-cert and --client-key (or BANYAN_CLIENT_CERT/BANYAN_CLIENT_KEY)';
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(cause)) return "; the admin API's certificate is not trusted for this name: set --ca-file (or BANYAN_CA_FILE) to the CA that signed it";
  return '; is `banyan serve` running? set --server or BANYAN_SERVER';
}

function formatDetails(details: unknown): string {
  if (Array.isArray(details)) return '\n' + details.map((d) => `  ${typeof d === 'string' ? d : JSON.stringify(d)}`).join('\n');
  return `\n  ${JSON.stringify(details)}`;
}

/**
 * `--server` as operators write it: a URL (http:// or https://), or a bare `host[:port]` (`[v6]:port`
 * for IPv6). A bare one is http://, or https:// when `tls` is set (--ca-file or --client-cert, or
 * their BANYAN_ variables: TLS options only make sense for an HTTPS admin API); the port, when left
 * out, is the admin API's default. Anything else is a usage error.
 */
export function serverUrl(server: string, tls = false): string {
  const text = server.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `${tls ? 'https' : 'http'}://${text}`);
  } catch {
    throw new CliError(`--server: '${server}' is neither a URL (http://host:port) nor host:port`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server: '${server}' is not an http:// or https:// URL`, EXIT.usage);
  if (!hasScheme && (url.pathname !== '/' || url.search || url.hash || url.username)) throw new CliError(`--server: '${server}' is not host:port; give a URL for a path`, EXIT.usage);
  if (!hasScheme && !url.port && !/:\d+$/.test(text)) url.port = String(DEFAULT_PORTS.admin);
  return hasScheme ? text : url.origin;
}

export function clientFrom(opts: ServerFlags): AdminClient {
  const tls = tlsFiles(opts);
  return new AdminClient({
    server: serverUrl(opts.server ?? process.env.BANYAN_SERVER ?? DEFAULT_ADMIN_URL, tls !== undefined),
    token: opts.token ?? process.env.BANYAN_TOKEN,
    ...(tls ? { tls } : {}),
  });
}

/** --ca-file/--client-cert/--client-key (or their BANYAN_ variables), read; undefined = none given. */
function tlsFiles(opts: ServerFlags): AdminClientOptions['tls'] {
  const caFile = opts.caFile ?? (process.env.BANYAN_CA_FILE || undefined);
  const certFile = opts.clientCert ?? (process.env.BANYAN_CLIENT_CERT || undefined);
  const keyFile = opts.clientKey ?? (process.env.BANYAN_CLIENT_KEY || undefined);
  if (!certFile !== !keyFile) throw new CliError('--client-cert and --client-key go together (or BANYAN_CLIENT_CERT and BANYAN_CLIENT_KEY)', EXIT.usage);
  if (!caFile && !certFile) return undefined;
  const read = (file: string, flag: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`${flag}: cannot read ${file}: ${(err as Error).message}`, EXIT.usage);
    }
  };
  return {
    ...(caFile ? { ca: read(caFile, '--ca-file') } : {}),
    ...(certFile && keyFile ? { cert: read(certFile, '--client-cert'), key: read(keyFile, '--client-key') } : {}),
  };
}
