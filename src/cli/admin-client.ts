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
}

const DEFAULT_ADMIN_URL = `http://127.0.0.1:${DEFAULT_PORTS.admin}`;

/** Adds --server/--token (with BANYAN_SERVER/BANYAN_TOKEN fallbacks) to a command that calls the admin API. */
export function withServerOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', `admin API base URL or host:port (or BANYAN_SERVER; default ${DEFAULT_ADMIN_URL})`)
    // No default value here: commander prints defaults in --help, and a token must never be shown.
    .option('--token <token>', 'admin bearer token (or BANYAN_TOKEN): reads, validate and diff need a read token, changes operate or admin');
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
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
      const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the Banyan admin API at ${this.opts.server} (${cause}); is \`banyan serve\` running? set --server or BANYAN_SERVER`, EXIT.unreachable);
    }
    const text = await res.text();
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

function formatDetails(details: unknown): string {
  if (Array.isArray(details)) return '\n' + details.map((d) => `  ${typeof d === 'string' ? d : JSON.stringify(d)}`).join('\n');
  return `\n  ${JSON.stringify(details)}`;
}

/** `--server` as operators write it: a URL, or a bare host:port (http is meant: the admin API's default). */
export function serverUrl(server: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
}

export function clientFrom(opts: { server?: string; token?: string }): AdminClient {
  return new AdminClient({
    server: serverUrl(opts.server ?? process.env.BANYAN_SERVER ?? DEFAULT_ADMIN_URL),
    token: opts.token ?? process.env.BANYAN_TOKEN,
  });
}
