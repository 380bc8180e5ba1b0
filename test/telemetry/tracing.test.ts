import { afterEach, describe, expect, it } from 'vitest';
import { TracingExportError, currentChange, inChange, inSpan, resolveTracingConfig, startServerSpan, startTracing, stopTracing, tracingEnabled, TracingConfigError } from '../../src/telemetry/tracing.js';

describe('tracing config', () => {
  it('stays off without an endpoint', () => {
    expect(resolveTracingConfig({ env: {} })).toEqual({ tracesUrl: undefined, serviceName: 'banyan' });
  });
  it('appends /v1/traces to the generic endpoint, uses the traces endpoint as given, and lets the flag win', () => {
    expect(resolveTracingConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' } }).tracesUrl).toBe('http://c:4318/v1/traces');
    expect(resolveTracingConfig({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d' } }).tracesUrl).toBe('http://c:4318/x');
    expect(resolveTracingConfig({ endpoint: 'http://f:1', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/x' } }).tracesUrl).toBe('http://f:1/v1/traces');
    expect(resolveTracingConfig({ env: { OTEL_SERVICE_NAME: 'edge-cp' } }).serviceName).toBe('edge-cp');
  });
  it('refuses an endpoint that is not a URL', () => {
    expect(() => resolveTracingConfig({ endpoint: '127.0.0.1:4318' })).toThrow(TracingConfigError);
  });
});

describe('server spans', () => {
  afterEach(() => stopTracing());
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('are no-ops while tracing is off', async () => {
    await startTracing({ env: {} });
    expect(tracingEnabled()).toBe(false);
    expect(startServerSpan('check', {}, { traceparent }).isRecording()).toBe(false);
  });

  it('continue the first carrier holding a trace parent once on', async () => {
    await startTracing({ endpoint: 'http://127.0.0.1:9', env: {} });
    expect(tracingEnabled()).toBe(true);
    const metadataLike = { get: (k: string) => (k === 'traceparent' ? [traceparent] : []) };
    const fromMeta = startServerSpan('check', {}, metadataLike, { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' });
    expect(fromMeta.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const fromHeaders = startServerSpan('check', {}, { get: () => [] }, { traceparent });
    expect(fromHeaders.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect((fromHeaders as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });
});

describe('config change spans', () => {
  afterEach(() => stopTracing());

  it('cost nothing while off: the function runs with a span that records nothing', async () => {
    await startTracing({ env: {} });
    expect(await inChange('file.reload', (root) => root.isRecording())).toBe(false);
    expect(inSpan('banyan.config.compile', {}, (s) => s.isRecording())).toBe(false);
  });

  it('a change started inside a change joins it across awaits; steps outside any change are not traced', async () => {
    await startTracing({ endpoint: 'http://127.0.0.1:9', env: {} });
    expect(inSpan('banyan.config.compile', {}, (s) => s.isRecording())).toBe(false);
    expect(currentChange().isRecording()).toBe(false);
    await inChange('file.reload', async (root) => {
      expect(root.isRecording()).toBe(true);
      await new Promise((r) => setImmediate(r));
      await inChange('admin.apply', (inner) => expect(inner).toBe(root));
      expect(currentChange()).toBe(root);
      const child = inSpan('banyan.config.compile', {}, (s) => s);
      expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
      expect((child as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    });
    // a second change is a trace of its own
    const [a, b] = await Promise.all([inChange('admin.shift', (r) => r.spanContext().traceId), inChange('rollout.step', (r) => r.spanContext().traceId)]);
    expect(a).not.toBe(b);
    // nothing listens on port 9: the flush fails, typed, and tracing is off anyway
    await expect(stopTracing()).rejects.toBeInstanceOf(TracingExportError);
    expect(tracingEnabled()).toBe(false);
  });
});
