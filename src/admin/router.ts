import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer, Principal, Requirement, Role } from './auth.js';
import { HttpError } from './http-error.js';

export { HttpError };


export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** Who the token names (undefined: anonymous, only when no token is configured and the route reads). */
  principal?: Principal;
  /** Parsed JSON body (undefined for empty bodies). Capped: 413 beyond the route's limit. */
  body(): Promise<unknown>;
}

export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

/** A reply that is not JSON (metrics text, health probes). */
export class RawReply {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'text/plain; charset=utf-8',
  ) {}
}

/** JSON commands (shift, rollout commands, rollback): 1 MiB is far more than any of them needs. */
export const DEFAULT_MAX_BODY = 1024 * 1024;
/** Config uploads (validate, diff, apply): `--admin-max-body`. */
export const DEFAULT_MAX_CONFIG_BODY = 4 * 1024 * 1024;

export interface RouterSecurity {
  /**
   * Host names (no port) a request's `Host` may name; anything else is 421 (DNS rebinding: a page
   * on a name that resolves to loopback). Undefined: no check (in-process tests).
   */
  allowedHosts?: readonly string[];
  maxBody?: number;
  maxConfigBody?: number;
}

export interface RouteOptions {
  /** What the caller needs (default: GET read, others admin). `open`: no token, no Host check (probes). */
  role?: Requirement;
  /** The body is a config upload: the larger cap applies. */
  config?: boolean;
}

interface RouteEntry {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
  need: Requirement;
  config: boolean;
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];

/** Loopback names, the bind address (unless it is a wildcard) and `extra` (`--admin-allowed-host`). */
export function defaultAllowedHosts(bindHost: string, extra: readonly string[] = []): string[] {
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  return [...new Set([...LOOPBACK_HOSTS, ...(wildcard ? [] : [bindHost]), ...extra].map(normalHost))];
}

function normalHost(h: string): string {
  return h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** The host name of a `Host` header or an Origin's authority, without port or IPv6 brackets. */
function hostName(authority: string): string {
  const a = authority.trim();
  if (a.startsWith('[')) return normalHost(a.slice(0, a.indexOf(']') + 1));
  const colon = a.lastIndexOf(':');
  return normalHost(colon >= 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a);
}

/**
 * A minimal path router: `/api/v1/routes/:name`. Before a handler runs: the Host allow-list, the
 * Origin check and JSON-only bodies on changes (CSRF: a form can only send text/plain,
 * form-urlencoded or multipart), the token and its role, and the body cap (413 from
 * Content-Length before anything is read, or as soon as a streamed body passes it).
 */
export class Router {
  private readonly routes: RouteEntry[] = [];
  private readonly allowed?: Set<string>;
  private readonly maxBody: number;
  private readonly maxConfigBody: number;

  constructor(
    private readonly authorize: Authorizer | ((req: IncomingMessage) => void),
    security: RouterSecurity = {},
  ) {
    this.allowed = security.allowedHosts ? new Set(security.allowedHosts.map(normalHost)) : undefined;
    this.maxBody = security.maxBody ?? DEFAULT_MAX_BODY;
    this.maxConfigBody = security.maxConfigBody ?? DEFAULT_MAX_CONFIG_BODY;
  }

  get(path: string, handler: Handler, opts: RouteOptions = {}): this {
    return this.add('GET', path, handler, opts.role ?? 'read', opts);
  }
  post(path: string, handler: Handler, opts: RouteOptions = {}): this {
    return this.add('POST', path, handler, opts.role ?? 'admin', opts);
  }
  put(path: string, handler: Handler, opts: RouteOptions = {}): this {
    return this.add('PUT', path, handler, opts.role ?? 'admin', opts);
  }
  delete(path: string, handler: Handler, opts: RouteOptions = {}): this {
    return this.add('DELETE', path, handler, opts.role ?? 'admin', opts);
  }

  private add(method: string, path: string, handler: Handler, need: Requirement, opts: RouteOptions): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' + path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)')) + '/?$',
    );
    this.routes.push({ method, pattern, keys, handler, need, config: opts.config === true });
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      const matches = this.routes.filter((r) => r.pattern.test(url.pathname));
      const route = matches.find((r) => r.method === req.method);
      if (!route || route.need !== 'open') this.checkHost(req);
      if (matches.length === 0) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
      if (!route) throw new HttpError(405, `${req.method} not allowed on ${url.pathname}`);
      const limit = route.config ? this.maxConfigBody : this.maxBody;
      if (route.method !== 'GET') {
        this.checkOrigin(req);
        checkContentType(req);
      }
      const principal = (this.authorize(req, route.need) ?? undefined) as Principal | undefined;
      // Parsing a config is the expensive request: never anonymous, even where reads are open (no token configured).
      if (route.config && !principal) {
        throw new HttpError(401, 'parsing a config needs a token and none is configured: start the server with --admin-tokens-file, --admin-token-file or BANYAN_ADMIN_TOKEN', undefined, { 'www-authenticate': 'Bearer realm="banyan-admin"' });
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) throw tooLarge(limit);
      const m = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      const result = await route.handler({ req, url, params, principal, body: () => readJson(req, limit) });
      if (result instanceof RawReply) {
        res.writeHead(result.status, { 'content-type': result.contentType });
        res.end(result.body);
      } else {
        sendJson(res, 200, result ?? { ok: true });
      }
    } catch (err) {
      // A body left unread (refused before reading it, or cut off at the cap) is not drained: close the connection.
      if (!req.readableEnded) res.setHeader('connection', 'close');
      if (err instanceof HttpError) {
        res.writeHead(err.status, { 'content-type': 'application/json', ...err.headers });
        res.end(JSON.stringify({ error: err.message, ...(err.details !== undefined ? { details: err.details } : {}) }) + '\n');
      } else {
        sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  private checkHost(req: IncomingMessage): void {
    if (!this.allowed) return;
    const host = req.headers.host;
    if (!host || !this.allowed.has(hostName(host))) {
      throw new HttpError(421, `Host '${host ?? ''}' is not one this admin API answers to; allow it with --admin-allowed-host`);
    }
  }

  /** A browser page on another origin may send changes (no preflight for simple requests): refused. */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let name: string;
    try {
      name = origin === 'null' ? '' : hostName(new URL(origin).host);
    } catch {
      name = '';
    }
    const ok = this.allowed ? this.allowed.has(name) : name !== '' && hostName(req.headers.host ?? '') === name;
    if (!ok) throw new HttpError(403, `cross-origin request refused (Origin ${origin}); the admin API takes changes only from the CLI or an allowed host`);
  }
}

/** Changes take JSON only; a request with no body at all needs no content type. */
function checkContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (type === undefined && !hasBody) return;
  const mime = (type ?? '').split(';')[0].trim().toLowerCase();
  if (mime !== 'application/json') {
    throw new HttpError(415, `content-type must be application/json, got '${type ?? ''}'`, undefined, { accept: 'application/json' });
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `request body over ${limit} bytes (config uploads: raise with --admin-max-body)`);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value, null, 2) + '\n');
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export type { Principal, Role };
