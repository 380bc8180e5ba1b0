import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** Parsed JSON body (undefined for empty bodies). */
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

interface RouteEntry {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
  mutating: boolean;
}

const MAX_BODY = 8 * 1024 * 1024;

/** A minimal path router: `/api/v1/routes/:name`. Mutating routes require the bearer token. */
export class Router {
  private readonly routes: RouteEntry[] = [];

  constructor(private readonly authorize: (req: IncomingMessage) => void) {}

  get(path: string, handler: Handler): this {
    return this.add('GET', path, handler, false);
  }
  /** `readOnly`: a POST that changes nothing (a dry run), so it needs no token. */
  post(path: string, handler: Handler, opts: { readOnly?: boolean } = {}): this {
    return this.add('POST', path, handler, !opts.readOnly);
  }
  put(path: string, handler: Handler): this {
    return this.add('PUT', path, handler, true);
  }
  delete(path: string, handler: Handler): this {
    return this.add('DELETE', path, handler, true);
  }

  private add(method: string, path: string, handler: Handler, mutating: boolean): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' + path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)')) + '/?$',
    );
    this.routes.push({ method, pattern, keys, handler, mutating });
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      const matches = this.routes.filter((r) => r.pattern.test(url.pathname));
      if (matches.length === 0) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
      const route = matches.find((r) => r.method === req.method);
      if (!route) throw new HttpError(405, `${req.method} not allowed on ${url.pathname}`);
      if (route.mutating) this.authorize(req);
      const m = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      const result = await route.handler({ req, url, params, body: () => readJson(req) });
      if (result instanceof RawReply) {
        res.writeHead(result.status, { 'content-type': result.contentType });
        res.end(result.body);
      } else {
        sendJson(res, 200, result ?? { ok: true });
      }
    } catch (err) {
      if (err instanceof HttpError) {
        res.writeHead(err.status, { 'content-type': 'application/json', ...err.headers });
        res.end(JSON.stringify({ error: err.message, ...(err.details !== undefined ? { details: err.details } : {}) }) + '\n');
      } else {
        sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value, null, 2) + '\n');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}
