import { z } from 'zod';
import { regexProblem } from './regex.js';
import { backendWeightSetProblem, ENVOY_STATUS_CODES, fractionalPercentProblem, headerValueProblem } from './bounds.js';
import { AT_KEY, WITH_SUBJECT, duration, durationAtLeast, exactlyOne, headerName, headerSafe, httpPath, matchHeaderName, mutableHeaderName, name, onlyWith, port, refineWith, regex, scalarString, uint32 } from './schema-common.js';

/** Operator YAML for routes and virtual hosts. Output feeds build-route.ts. */

const HEADER_MATCHERS = ['exact', 'prefix', 'suffix', 'regex', 'present'] as const;

export const headerMatch = z
  .strictObject({
    name: matchHeaderName,
    exact: z.string().optional(),
    prefix: z.string().optional(),
    suffix: z.string().optional(),
    regex: regex.optional(),
    present: z.boolean().optional(),
    invert: z.boolean().optional(),
  })
  // No matcher at all means "the header is present".
  .superRefine(exactlyOne(HEADER_MATCHERS, false));

export const queryMatch = z
  .strictObject({
    name: name,
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: regex.optional(),
    present: z.boolean().optional(),
  })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex', 'present'], false));

export const routeMatch = z
  .strictObject({
    prefix: z.string().superRefine(refineWith((v: string) => (v === '' || v.startsWith('/') ? headerValueProblem(v) : `prefix "${v}" must start with "/"`))).optional(),
    path: httpPath.optional(),
    regex: regex.optional(),
    caseSensitive: z.boolean().optional(),
    headers: z.array(headerMatch).optional(),
    query: z.array(queryMatch).optional(),
    grpc: z.boolean().optional().meta({ description: 'Only gRPC requests (content-type application/grpc)' }),
  })
  .superRefine(exactlyOne(['prefix', 'path', 'regex']));

const weightedBackend = z.strictObject({
  cluster: name,
  weight: uint32(0).meta({ description: 'Relative weight (integer >= 0; the sum must fit uint32)' }),
});

export const backends = z.union([name, z.array(weightedBackend).min(1)]).superRefine((v, ctx) => {
  if (typeof v === 'string') return;
  const problem = backendWeightSetProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: v });
  const seen = new Set<string>();
  v.forEach((b, i) => {
    if (seen.has(b.cluster)) ctx.addIssue({ code: 'custom', path: [i, 'cluster'], message: `cluster "${b.cluster}" is listed twice`, input: b.cluster });
    seen.add(b.cluster);
  });
});

const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  // gRPC status based (x-envoy-retry-grpc-on)
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

export const retry = z.strictObject({
  attempts: z.number().int().min(0).max(100).optional(),
  on: z.array(z.enum(RETRY_ON)).optional(),
  perTryTimeout: durationAtLeast(1).optional(),
  retriableStatusCodes: z.array(z.number().int().min(100).max(599)).optional(),
  backoff: z
    .strictObject({ base: durationAtLeast(1), max: durationAtLeast(1).optional() })
    .superRefine((b, ctx) => {
      // Envoy's RetryBackOff: max_interval >= base_interval.
      if (b.max !== undefined && b.max < b.base) ctx.addIssue({ code: 'custom', path: ['max'], message: `"max" must be at least "base"; Envoy refuses a backoff whose max is below its base`, input: b.max });
    })
    .optional(),
});

export const mirror = z.strictObject({
  cluster: name,
  percent: z.number().min(0).max(100).optional().meta({ description: 'Share of requests mirrored, 0-100 (default 100)' }),
});

const headerAdd = z.union([
  z.record(z.string(), scalarString),
  z.array(z.strictObject({ name: mutableHeaderName, value: scalarString, append: z.boolean().optional() })),
]).superRefine((v, ctx) => {
  if (Array.isArray(v)) return;
  for (const key of Object.keys(v)) {
    const r = mutableHeaderName.safeParse(key);
    if (!r.success) ctx.addIssue({ code: 'custom', path: [key], params: AT_KEY, message: r.error.issues[0].message, input: key });
  }
});

const headerMutation = z.strictObject({
  add: headerAdd.optional().meta({ description: 'name: value (replaces), or a list of {name, value, append}' }),
  remove: z.array(mutableHeaderName).optional(),
});

export const routeHeaders = z.strictObject({ request: headerMutation.optional(), response: headerMutation.optional() });

export const redirect = z
  .strictObject({
    scheme: z.enum(['http', 'https']).optional(),
    host: headerSafe.min(1).optional(),
    port: port.optional(),
    path: httpPath.optional(),
    prefixRewrite: headerSafe.optional(),
    status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).optional(),
    stripQuery: z.boolean().optional(),
  })
  .superRefine(exactlyOne(['path', 'prefixRewrite'], false));

// Envoy's default max_direct_response_body_size_bytes.
const MAX_DIRECT_BODY = 4096;

export const directResponse = z.strictObject({
  status: z.number().int().min(200).max(599),
  body: z
    .string()
    .superRefine(refineWith((v: string) => (Buffer.byteLength(v) > MAX_DIRECT_BODY ? `body is ${Buffer.byteLength(v)} bytes; Envoy allows at most ${MAX_DIRECT_BODY}` : undefined)))
    .optional(),
});

const faultPercent = z
  .number()
  .min(0)
  .max(100)
  .superRefine(refineWith(fractionalPercentProblem))
  .optional()
  .meta({ description: 'Share of requests the fault applies to, 0-100 (default 100)' });

// Exactly one way to pick each fault: fixed values, or the request's x-envoy-fault-* headers (Envoy's header-controlled faults).
const faultAbort = z
  .strictObject({
    status: z.number().int().min(200).max(599).optional().meta({ description: 'Answer with this HTTP status' }),
    grpcStatus: z.number().int().min(1).max(16).optional().meta({ description: 'Answer with this gRPC status code (1-16)' }),
    fromHeaders: z.literal(true).optional().meta({ description: 'Take the status from x-envoy-fault-abort-request / -grpc-request' }),
    percent: faultPercent,
  })
  .superRefine(exactlyOne(['status', 'grpcStatus', 'fromHeaders']));

const faultDelay = z
  .strictObject({
    fixed: duration.optional().meta({ description: 'Hold each request this long before it goes on' }),
    fromHeaders: z.literal(true).optional().meta({ description: 'Take the delay from x-envoy-fault-delay-request (ms)' }),
    percent: faultPercent,
  })
  .superRefine(exactlyOne(['fixed', 'fromHeaders']));

export const fault = z
  .strictObject({
    abort: faultAbort.optional(),
    delay: faultDelay.optional(),
    headers: z.array(headerMatch).min(1).optional().meta({ description: 'Only requests matching all of these headers get the fault' }),
    maxActive: uint32(1).optional().meta({ description: 'At most this many requests faulted at once on a proxy' }),
  })
  .superRefine(refineWith((v: { abort?: unknown; delay?: unknown }) => (v.abort || v.delay ? undefined : 'needs abort, delay or both')));

export const cors = z.strictObject({
  allowOrigins: z
    .array(z.string().superRefine(refineWith((v: string) => (v.startsWith('~') ? regexProblem(v.slice(1)) : undefined))))
    .min(1)
    .meta({ description: 'Exact origins, "*", or "~regex"' }),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  // Envoy's max_age is whole seconds: 500ms would go out as 0 (browsers then never cache the preflight).
  maxAge: duration.refine((ms) => ms % 1000 === 0, { error: 'must be whole seconds (Envoy sends max_age in seconds)', params: WITH_SUBJECT }).optional(),
  allowCredentials: z.boolean().optional(),
});

const RATE_LIMIT_KEYS = ['header', 'query', 'generic_key', 'masked_remote_address', 'header_value_match'] as const;

const rateLimitActionObject = z
  .strictObject({
    header: headerName.optional().meta({ description: 'request_headers: descriptor entry from this header' }),
    query: name.optional().meta({ description: 'query_parameters: descriptor entry from this query parameter' }),
    generic_key: z.string().min(1).optional(),
    masked_remote_address: z.strictObject({ v4: z.number().int().min(0).max(32).optional(), v6: z.number().int().min(0).max(128).optional() }).optional(),
    header_value_match: z
      .strictObject({ value: z.string().min(1), key: z.string().optional(), expectMatch: z.boolean().optional(), headers: z.array(headerMatch).min(1) })
      .optional(),
    as: z.string().min(1).optional().meta({ description: 'Descriptor key (default: the header/parameter name, or generic_key)' }),
    skipIfAbsent: z.boolean().optional(),
  })
  .superRefine(exactlyOne(RATE_LIMIT_KEYS))
  .superRefine(onlyWith(['as'], ['header', 'query', 'generic_key']))
  .superRefine(onlyWith(['skipIfAbsent'], ['header', 'query']));

export const rateLimitAction = z.union([z.enum(['remote_address', 'destination_cluster']), rateLimitActionObject]);

const rateLimitDescriptor = z.union(
  [
    z.array(rateLimitAction).min(1),
    z.strictObject({ actions: z.array(rateLimitAction).min(1), stage: z.number().int().min(0).max(10).optional() }),
  ],
  { error: 'expected a descriptor: a list of actions such as [remote_address] or [{ header: x-client-id, as: client }], or {actions, stage}' },
);

export const localRateLimit = z.strictObject({
  tokens: uint32(1).meta({ description: 'Bucket size' }),
  // Envoy's local rate limit filter rejects fill intervals under 50ms.
  fill: z.strictObject({ tokens: uint32(1).optional(), every: durationAtLeast(50).optional() }).optional(),
  status: z
    .number()
    .int()
    .min(400)
    .max(599)
    .superRefine(refineWith((v: number) => (ENVOY_STATUS_CODES.includes(v) ? undefined : `status ${v} is not one Envoy can answer with (envoy.type.v3.StatusCode); use e.g. 429 or 503`)))
    .optional(),
});

const claimRule = z
  .strictObject({
    claim: name,
    equals: scalarString.optional(),
    in: z.array(scalarString).min(1).optional(),
    equalsHeader: headerName.optional(),
  })
  .superRefine(exactlyOne(['equals', 'in', 'equalsHeader']));

export const authRequirement = z.union([
  z.literal('none'),
  z
    .strictObject({
      provider: name.optional(),
      anyOf: z.array(name).min(1).optional(),
      allOf: z.array(name).min(1).optional(),
      scopes: z.array(z.string()).optional(),
      claims: z.array(claimRule).optional(),
      allowMissing: z.boolean().optional(),
    })
    .superRefine(exactlyOne(['provider', 'anyOf', 'allOf'])),
]);

// `ratelimit` too: Envoy carries route rate limits in the RouteAction, so a redirect or direct response never enforces them.
const FORWARD_ONLY = ['timeout', 'idleTimeout', 'retry', 'mirror', 'mirrors', 'prefixRewrite', 'hostRewrite', 'ratelimit'];

export const route = z
  .strictObject({
    name: name.optional(),
    match: routeMatch,
    to: backends.optional().meta({ description: 'A cluster name, or weighted backends [{cluster, weight}]' }),
    redirect: redirect.optional(),
    direct: directResponse.optional().meta({ description: 'Answer directly: {status, body}' }),
    timeout: duration.optional(),
    idleTimeout: duration.optional(),
    retry: retry.optional(),
    mirror: mirror.optional(),
    mirrors: z.array(mirror).optional(),
    prefixRewrite: headerSafe.optional(),
    hostRewrite: headerSafe.min(1).optional(),
    headers: routeHeaders.optional(),
    cors: cors.optional(),
    fault: fault.optional().meta({ description: 'Fault injection: {abort: {status|grpcStatus|fromHeaders, percent}, delay: {fixed|fromHeaders, percent}}' }),
    ratelimit: z.array(rateLimitDescriptor).optional().meta({ description: 'Descriptor action lists, e.g. [[remote_address], [{header: x-client-id, as: client}]]' }),
    localRateLimit: localRateLimit.optional(),
    auth: authRequirement.optional(),
  })
  .superRefine(exactlyOne(['to', 'redirect', 'direct']))
  .superRefine(onlyWith(FORWARD_ONLY, ['to']))
  .superRefine(exactlyOne(['mirror', 'mirrors'], false));

export const virtualHost = z.strictObject({
  name: name.optional(),
  domains: z.array(headerSafe.min(1)).min(1).optional().meta({ description: 'Host header values (default ["*"])' }),
  routes: z.array(route).optional(),
  cors: cors.optional(),
});

export type RouteInput = z.output<typeof route>;
export type VirtualHostInput = z.output<typeof virtualHost>;
export type RateLimitActionInput = z.output<typeof rateLimitAction>;
export type HeaderMatchInput = z.output<typeof headerMatch>;
