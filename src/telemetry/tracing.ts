/**
 * Banyan's own OpenTelemetry tracing: the one home for turning it on, starting spans that continue a
 * caller's trace, and flushing on shutdown.
 *
 * Off by default. While off, nothing but @opentelemetry/api is loaded and every tracer is the API's
 * no-op, so a span costs one function call; `tracingEnabled()` lets hot paths skip even building
 * attributes. The SDK and exporter are imported only when an endpoint is configured.
 *
 * Configuration follows the OpenTelemetry spec's environment variables, so operators can use what
 * they already know: OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (OTLP over
 * HTTP/protobuf), OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (read by the SDK).
 * A CLI flag (`--otlp-endpoint`) overrides the endpoint.
 */
import {
  context,
  createContextKey,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { resolveTracingConfig, type TracingConfig, type TracingOptions } from './tracing-config.js';

export { resolveTracingConfig, TracingConfigError, type TracingConfig, type TracingOptions } from './tracing-config.js';

const TRACER_NAME = 'banyan';

/** The last spans could not be delivered on stop (collector down): tracing is stopped all the same. */
export class TracingExportError extends Error {
  override name = 'TracingExportError';
}

interface Running {
  shutdown(): Promise<void>;
}

let running: Running | undefined;

/** True once an SDK is registered; hot paths check this before building span attributes. */
export function tracingEnabled(): boolean {
  return running !== undefined;
}

/**
 * Starts the SDK when an endpoint is configured; otherwise does nothing and loads nothing.
 * Returns the resolved config so the caller can log where spans go.
 */
export async function startTracing(opts: TracingOptions = {}): Promise<TracingConfig> {
  const config = resolveTracingConfig(opts);
  if (config.tracesUrl === undefined || running) return config;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, core, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl }))],
  });
  trace.setGlobalTracerProvider(provider);
  // A config change crosses awaits (store write, reconcile queue): without an async context manager
  // the compile and push spans would not find the change they belong to.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }),
  );
  running = {
    async shutdown() {
      // shutdown() flushes the batch processor first, so spans of the last change are not lost.
      let failed: unknown;
      await provider.shutdown().catch((err: unknown) => (failed = err));
      trace.disable();
      propagation.disable();
      context.disable();
      if (failed !== undefined) throw new TracingExportError(`could not send the last spans to ${config.tracesUrl}: ${failed instanceof Error ? failed.message : String(failed)}`);
    },
  };
  return config;
}

/** Flushes pending spans and stops the SDK; safe to call when tracing never started. Rejects with TracingExportError when the flush fails (tracing is off all the same). */
export async function stopTracing(): Promise<void> {
  const r = running;
  running = undefined;
  await r?.shutdown();
}

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Header or gRPC-metadata values as a lookup: plain objects (CheckRequest headers) and grpc-js
 * Metadata (`get(key)` returning an array) both fit, so callers pass what they have without copying.
 */
export type Carrier =
  | Readonly<Record<string, string | string[] | undefined>>
  | { get(key: string): ReadonlyArray<string | Buffer> };

const getter: TextMapGetter<Carrier> = {
  keys(c) {
    return isMetadata(c) ? [] : Object.keys(c);
  },
  get(c, key) {
    if (isMetadata(c)) {
      const v = c.get(key);
      return v.length === 0 ? undefined : v.map(String);
    }
    return c[key] ?? c[key.toLowerCase()];
  },
};

function isMetadata(c: Carrier): c is { get(key: string): ReadonlyArray<string | Buffer> } {
  return typeof (c as { get?: unknown }).get === 'function';
}

/** The caller's context from the first carrier that holds a valid trace parent (metadata, then headers). */
export function extractContext(...carriers: ReadonlyArray<Carrier | undefined>): Context {
  for (const c of carriers) {
    if (!c) continue;
    const ctx = propagation.extract(context.active(), c, getter);
    if (trace.getSpanContext(ctx)) return ctx;
  }
  return context.active();
}

/**
 * A server span continuing the caller's trace (used by ext_authz Check and the rate limit service).
 * When tracing is off this returns the no-op span without parsing any header.
 */
export function startServerSpan(name: string, attributes: Attributes, ...carriers: ReadonlyArray<Carrier | undefined>): Span {
  if (!running) return trace.wrapSpanContext(INVALID);
  return tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, extractContext(...carriers));
}

const INVALID = { traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 };

const CHANGE = createContextKey('banyan.config.change');

/** Where a config change came from: the root span's `banyan.change.source`. */
export type ChangeSource = 'startup' | 'file.reload' | 'admin.apply' | 'admin.rollback' | 'admin.shift' | 'rollout.step' | `store.${string}`;

/**
 * Runs `fn` with the trace context its caller sent in `headers` (W3C traceparent) active, so that a
 * change it starts links to the caller (inChange). Off, or without a valid traceparent: just `fn`.
 */
export function withCallerContext<T>(headers: Carrier, fn: () => T): T {
  if (!running) return fn();
  const ctx = extractContext(headers);
  return ctx === context.active() ? fn() : context.with(ctx, fn);
}

/**
 * Runs `fn` as one config change: a root span `banyan.config.change` (its own trace: a change is not
 * part of whatever request or timer happened to start it), unless `fn` already runs inside a change,
 * which it then joins (a file edit becomes an apply becomes a reconcile: one change, one trace).
 * A caller's trace context (an admin request's traceparent, withCallerContext) becomes a link of the
 * root, not its parent: the deploy that asked finds the change, and the change keeps its own trace
 * (with its pushes and ACKs, which can outlive the request by seconds).
 * Off: calls `fn` and nothing else.
 */
export async function inChange<T>(source: ChangeSource, fn: (root: Span) => Promise<T> | T): Promise<T> {
  if (!running) return fn(NOOP_SPAN);
  const active = context.active();
  const joined = active.getValue(CHANGE) as Span | undefined;
  if (joined) return fn(joined);
  const caller = trace.getSpanContext(active);
  const links = caller?.isRemote ? [{ context: caller }] : undefined;
  const root = tracer().startSpan('banyan.config.change', { root: true, links, attributes: { 'banyan.change.source': source } });
  const ctx = trace.setSpan(active, root).setValue(CHANGE, root);
  try {
    return await context.with(ctx, () => fn(root));
  } catch (err) {
    failed(root, err);
    throw err;
  } finally {
    root.end();
  }
}

/** The root span of the change running now, to annotate with its outcome; the no-op span outside one. */
export function currentChange(): Span {
  if (!running) return NOOP_SPAN;
  return (context.active().getValue(CHANGE) as Span | undefined) ?? NOOP_SPAN;
}

/**
 * A synchronous internal span around `fn`, child of the active span, when one is recording: steps
 * outside any traced operation (a `banyan validate` run, a test) make no orphan traces.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  if (!running || !trace.getActiveSpan()?.isRecording()) return fn(NOOP_SPAN);
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

function failed(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

const NOOP_SPAN = trace.wrapSpanContext(INVALID);
