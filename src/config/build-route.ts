import type { Reference } from './fragment.js';
import type {
  AuthRequirement, Cors, Fault, HeaderMatch, HeaderMutation, Mirror, RateLimitAction, Route, RouteRateLimit, VirtualHost,
} from './model.js';
import type { HeaderMatchInput, RateLimitActionInput, RouteInput, VirtualHostInput } from './schema-route.js';
import { MAX_DURATION_MS } from './bounds.js';
import { formatPath, type Locator, type PathSegment } from './yaml.js';

/** Builds model virtual hosts and routes from validated input, recording references and positions. */
export class RouteBuilder {
  constructor(
    private readonly locator: Locator,
    private readonly references: Reference[],
  ) {}

  /**
   * Header values as the operator wrote them. YAML reads `x-version: 1.10` as the number 1.1; a header
   * value is text, so it is taken from the scalar's source (`1.10`), not from String(number).
   */
  private mutation(input: MutationInput, path: PathSegment[]): HeaderMutation {
    const add = input?.add;
    const written = (at: PathSegment[], value: string) => this.locator.scalarText(at) ?? value;
    return {
      add: Array.isArray(add)
        ? add.map((h, i) => ({ name: h.name, value: written([...path, 'add', i, 'value'], h.value), append: h.append ?? false }))
        : Object.entries(add ?? {}).map(([name, value]) => ({ name, value: written([...path, 'add', name], value), append: false })),
      remove: input?.remove ?? [],
    };
  }

  virtualHost(input: VirtualHostInput, path: PathSegment[]): VirtualHost {
    const domains = input.domains ?? ['*'];
    const name = input.name ?? domains[0];
    return {
      name,
      domains,
      routes: (input.routes ?? []).map((r, i) => this.route(r, [...path, 'routes', i], `${name}/${i}`)),
      ...(input.cors ? { cors: cors(input.cors) } : {}),
      pos: this.locator.pos(path),
    };
  }

  route(input: RouteInput, path: PathSegment[], defaultName: string): Route {
    const name = input.name ?? defaultName;
    const from = `route "${name}"`;
    const m = input.match;
    return {
      name,
      match: {
        ...(m.prefix !== undefined ? { prefix: m.prefix } : {}),
        ...(m.path !== undefined ? { path: m.path } : {}),
        ...(m.regex !== undefined ? { regex: m.regex } : {}),
        caseSensitive: m.caseSensitive ?? true,
        headers: (m.headers ?? []).map(headerMatch),
        query: (m.query ?? []).map((q) => ({ ...q, ...(noMatcher(q) ? { present: true } : {}) })),
        grpc: m.grpc ?? false,
      },
      action: this.action(input, path, from),
      requestHeaders: this.mutation(input.headers?.request, [...path, 'headers', 'request']),
      responseHeaders: this.mutation(input.headers?.response, [...path, 'headers', 'response']),
      ...(input.cors ? { cors: cors(input.cors) } : {}),
      ...(input.fault ? { fault: fault(input.fault) } : {}),
      ratelimit: (input.ratelimit ?? []).map((d, i): RouteRateLimit => {
        const list = Array.isArray(d) ? d : d.actions;
        return { actions: list.map(rateLimitAction), stage: Array.isArray(d) ? 0 : (d.stage ?? 0), pos: this.locator.pos([...path, 'ratelimit', i]) };
      }),
      ...(input.localRateLimit
        ? {
            localRateLimit: {
              maxTokens: input.localRateLimit.tokens,
              tokensPerFill: input.localRateLimit.fill?.tokens ?? input.localRateLimit.tokens,
              fillIntervalMs: input.localRateLimit.fill?.every ?? 1000,
              statusCode: input.localRateLimit.status ?? 429,
            },
          }
        : {}),
      ...(input.auth !== undefined ? { auth: this.auth(input.auth, [...path, 'auth'], from) } : {}),
      pos: this.locator.pos(path),
    };
  }

  private action(input: RouteInput, path: PathSegment[], from: string): Route['action'] {
    if (input.redirect) {
      const r = input.redirect;
      return { kind: 'redirect', ...defined({ scheme: r.scheme, host: r.host, port: r.port, path: r.path, prefixRewrite: r.prefixRewrite }), status: r.status ?? 301, stripQuery: r.stripQuery ?? false };
    }
    if (input.direct) return { kind: 'direct', status: input.direct.status, ...defined({ body: input.direct.body }) };
    const to = input.to!;
    const backends =
      typeof to === 'string'
        ? [{ cluster: to, weight: 1, pos: this.ref('cluster', to, [...path, 'to'], from) }]
        : to.map((b, i) => ({ cluster: b.cluster, weight: b.weight, pos: this.ref('cluster', b.cluster, [...path, 'to', i, 'cluster'], from) }));
    const mirrorInputs = input.mirror ? [{ m: input.mirror, p: [...path, 'mirror'] }] : (input.mirrors ?? []).map((m, i) => ({ m, p: [...path, 'mirrors', i] }));
    const mirrors = mirrorInputs.map(({ m, p }): Mirror => ({ cluster: m.cluster, percent: m.percent ?? 100, pos: this.ref('cluster', m.cluster, [...p, 'cluster'], `mirror of ${from}`) }));
    const retry = input.retry;
    return {
      kind: 'forward',
      backends,
      ...defined({ timeoutMs: input.timeout, idleTimeoutMs: input.idleTimeout, prefixRewrite: input.prefixRewrite, hostRewrite: input.hostRewrite }),
      ...(retry
        ? {
            retry: {
              attempts: retry.attempts ?? 1,
              on: retryOn(retry.on ?? ['5xx'], retry.retriableStatusCodes ?? []),
              ...defined({ perTryTimeoutMs: retry.perTryTimeout }),
              retriableStatusCodes: retry.retriableStatusCodes ?? [],
              // Envoy's own default max interval is ten times the base interval.
              // Envoy's default max is 10 × base; capped at Duration's range so the default never makes a valid base invalid.
              ...(retry.backoff ? { backoff: { baseMs: retry.backoff.base, maxMs: retry.backoff.max ?? Math.min(retry.backoff.base * 10, MAX_DURATION_MS) } } : {}),
            },
          }
        : {}),
      mirrors,
    };
  }

  private auth(input: NonNullable<RouteInput['auth']>, path: PathSegment[], from: string): AuthRequirement {
    if (input === 'none') return { kind: 'none' };
    const providers = input.provider !== undefined ? [input.provider] : (input.anyOf ?? input.allOf)!;
    providers.forEach((p, i) => this.ref('provider', p, input.provider !== undefined ? [...path, 'provider'] : [...path, input.anyOf ? 'anyOf' : 'allOf', i], from));
    return {
      kind: 'jwt',
      providers,
      mode: input.allOf ? 'all' : 'any',
      scopes: input.scopes ?? [],
      claims: (input.claims ?? []).map((c) =>
        c.equals !== undefined ? { claim: c.claim, op: 'eq', value: c.equals } : c.in !== undefined ? { claim: c.claim, op: 'in', values: c.in } : { claim: c.claim, op: 'eqHeader', header: c.equalsHeader! },
      ),
      allowMissing: input.allowMissing ?? false,
    };
  }

  private ref(kind: Reference['kind'], name: string, path: PathSegment[], from: string) {
    const pos = this.locator.pos(path);
    this.references.push({ kind, name, from, pos, path: formatPath(path) });
    return pos;
  }
}

function retryOn(on: string[], codes: number[]): string[] {
  // Status codes only take effect with this token; adding it saves a silent misconfiguration.
  return codes.length > 0 && !on.includes('retriable-status-codes') ? [...on, 'retriable-status-codes'] : on;
}

function noMatcher(m: { exact?: string; prefix?: string; suffix?: string; regex?: string; present?: boolean }): boolean {
  return m.exact === undefined && m.prefix === undefined && m.suffix === undefined && m.regex === undefined && m.present === undefined;
}

function fault(f: NonNullable<RouteInput['fault']>): Fault {
  return {
    ...(f.abort
      ? { abort: { ...defined({ httpStatus: f.abort.status, grpcStatus: f.abort.grpcStatus }), fromHeaders: f.abort.fromHeaders ?? false, percent: f.abort.percent ?? 100 } }
      : {}),
    ...(f.delay ? { delay: { ...defined({ fixedMs: f.delay.fixed }), fromHeaders: f.delay.fromHeaders ?? false, percent: f.delay.percent ?? 100 } } : {}),
    headers: (f.headers ?? []).map(headerMatch),
    ...defined({ maxActive: f.maxActive }),
  };
}

function headerMatch(h: HeaderMatchInput): HeaderMatch {
  return { name: h.name, ...defined({ exact: h.exact, prefix: h.prefix, suffix: h.suffix, regex: h.regex, present: noMatcher(h) ? true : h.present }), invert: h.invert ?? false };
}

function rateLimitAction(a: RateLimitActionInput): RateLimitAction {
  if (a === 'remote_address' || a === 'destination_cluster') return { type: a };
  if (a.header !== undefined) return { type: 'request_headers', header: a.header, key: a.as ?? a.header, skipIfAbsent: a.skipIfAbsent ?? false };
  if (a.query !== undefined) return { type: 'query_parameters', param: a.query, key: a.as ?? a.query, skipIfAbsent: a.skipIfAbsent ?? false };
  if (a.generic_key !== undefined) return { type: 'generic_key', value: a.generic_key, ...defined({ key: a.as }) };
  if (a.masked_remote_address) return { type: 'masked_remote_address', v4PrefixLen: a.masked_remote_address.v4 ?? 32, v6PrefixLen: a.masked_remote_address.v6 ?? 128 };
  const h = a.header_value_match!;
  return { type: 'header_value_match', value: h.value, ...defined({ key: h.key }), expectMatch: h.expectMatch ?? true, headers: h.headers.map(headerMatch) };
}

type MutationInput = { add?: Record<string, string> | { name: string; value: string; append?: boolean }[]; remove?: string[] } | undefined;

function cors(c: { allowOrigins: string[]; allowMethods?: string[]; allowHeaders?: string[]; exposeHeaders?: string[]; maxAge?: number; allowCredentials?: boolean }): Cors {
  return {
    allowOrigins: c.allowOrigins,
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    ...(c.maxAge !== undefined ? { maxAgeSeconds: Math.floor(c.maxAge / 1000) } : {}),
    allowCredentials: c.allowCredentials ?? false,
  };
}

/** Drops undefined fields so optional model fields are absent rather than present-but-undefined. */
export function defined<T extends Record<string, unknown>>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
