/**
 * One SERVER span per ShouldRateLimit, continuing the trace context (W3C traceparent/tracestate) of
 * the call's HTTP/2 headers, which is where Envoy's ratelimit filter puts it when its listener traces.
 *
 * Loaded only when tracing is on (RateLimitServer's `tracing` option): the untraced handler stays
 * free of it, and a service with tracing off never loads @opentelemetry/api.
 *
 * Descriptor values are never recorded: they are whatever Envoy's actions extracted (client IPs, user
 * ids, API keys). The keys say which rule shape was asked about and are the config's own words.
 */
import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { UnaryCall } from '../grpc/unary-server.js';
import { GrpcCode } from '../grpc/wire.js';
import { startServerSpan } from '../telemetry/tracing.js';
// No cycle at load: server.ts imports this module only dynamically, when tracing is on.
import { RATELIMIT_SERVICE_NAME as SERVICE } from './server.js';
import { RateLimitError, type CallBudget, type DecisionNotes, type RateLimiter } from './service.js';
import type { RlsRequest, RlsResponse } from './types.js';

/** Named as the authz service's Check span: the gRPC full method name. */
export const SHOULD_RATE_LIMIT_SPAN = `${SERVICE}/ShouldRateLimit`;
const RPC = { 'rpc.system': 'grpc', 'rpc.service': SERVICE, 'rpc.method': 'ShouldRateLimit' } as const;

/** ShouldRateLimit with its span around it. */
export function tracedShouldRateLimit(limiter: RateLimiter, budgetOf: (call: UnaryCall) => CallBudget): (req: RlsRequest, call: UnaryCall) => Promise<RlsResponse> {
  return async (req, call) => {
    const span = startServerSpan(SHOULD_RATE_LIMIT_SPAN, requestAttributes(req, limiter.backend.name), call.headers);
    const notes: DecisionNotes = {};
    try {
      const res = await limiter.shouldRateLimit(req, budgetOf(call), notes);
      span.setAttributes({ ...failureAttributes(notes), ...responseAttributes(res), 'rpc.grpc.status_code': 0 });
      return res;
    } catch (err) {
      // What the server answers: a RateLimitError's code, anything else INTERNAL (unary-server.ts).
      const code = err instanceof RateLimitError ? err.code : GrpcCode.INTERNAL;
      span.setAttributes({ ...failureAttributes(notes), 'rpc.grpc.status_code': code });
      // A backend's own message can quote what it was sent (keys hold descriptor values): the span says what failed, not how.
      const message = notes.failure ? `rate limit backend ${limiter.backend.name} unavailable (${notes.failure}), failing closed` : err instanceof RateLimitError ? err.message : 'internal error';
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw err;
    } finally {
      span.end();
    }
  };
}

/** What is known before deciding (exported for the test of what is, and is not, recorded). */
export function requestAttributes(req: RlsRequest, backend: string): Attributes {
  const descriptors = req.descriptors ?? [];
  const out: Attributes = {
    ...RPC,
    'banyan.ratelimit.domain': req.domain ?? '',
    'banyan.ratelimit.descriptors': descriptors.length,
    // Each descriptor's keys in order, joined as the reference's stat names join them; never a value.
    'banyan.ratelimit.descriptor_keys': descriptors.map((d) => (d.entries ?? []).map((e) => e.key ?? '').join('.')),
    'banyan.ratelimit.backend': backend,
  };
  // 0 and absent both mean 1 (the reference's rule); only a real addend is worth recording.
  const addend = Number(req.hits_addend ?? 0);
  if (addend > 1) out['banyan.ratelimit.hits_addend'] = addend;
  return out;
}

function responseAttributes(res: RlsResponse): Attributes {
  let over = 0;
  for (const s of res.statuses) if (s.code === 'OVER_LIMIT') over++;
  // Both: in shadow mode (and quota mode) the overall code can be OK while descriptors are over.
  return { 'banyan.ratelimit.code': res.overall_code, 'banyan.ratelimit.over_limit_descriptors': over };
}

function failureAttributes(notes: DecisionNotes): Attributes {
  if (!notes.failure) return {};
  return { 'banyan.ratelimit.backend_failure': notes.failure, 'banyan.ratelimit.failed_open': notes.failedOpen === true };
}
