/**
 * Rate limit decisions as spans at a real OTLP/HTTP receiver (test/go/otlpsink): the built
 * `banyan ratelimit --otlp-endpoint` continuing the W3C trace context of the call's HTTP/2 headers
 * (what Envoy's ratelimit filter sends), a root span without one, the decision and a backend
 * failure in the attributes, never a descriptor value; serve's embedded service traced with serve;
 * and with tracing off, no OpenTelemetry module loaded at all.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/proto/envoy.js';
import { rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import type { RlsRequest, RlsResponse } from '../../src/ratelimit/types.js';
import { startBanyan, type BanyanProcess } from '../support/banyan-process.js';
import { eventually } from '../support/eventually.js';
import { startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';

const SPAN = 'envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
// export within a fraction of a second instead of the SDK's default 5 s batch delay
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '100' };
const SECRET = 'user-4f1c9e-secret';

const DOMAIN = [
  'domain: tracing',
  'descriptors:',
  '  - key: user',
  '    rate_limit: { unit: hour, requests_per_unit: 2 }',
  '  - key: closed',
  '    fail_open: false',
  '    rate_limit: { unit: hour, requests_per_unit: 100 }',
  '  - key: open',
  '    rate_limit: { unit: hour, requests_per_unit: 100 }',
  '',
].join('\n');

type Outcome = { res: RlsResponse } | { err: grpc.ServiceError };

/** ShouldRateLimit as Envoy's filter calls it; `traceparent`/`tracestate` go in the call's headers. */
function shouldRateLimit(port: number, request: RlsRequest, headers: Record<string, string> = {}): Promise<Outcome> {
  loadEnvoyProtos();
  const Ctor = grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RateLimitService');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ShouldRateLimit(r: RlsRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: RlsResponse) => void): void;
  };
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise<Outcome>((resolve) => {
    client.ShouldRateLimit(request, metadata, { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ? { err } : { res }));
  }).finally(() => client.close());
}

const request = (key: string, value: string, hitsAddend?: number): RlsRequest => ({
  domain: 'tracing',
  descriptors: [{ entries: [{ key, value }] }],
  ...(hitsAddend ? { hits_addend: hitsAddend } : {}),
});

function spanOf(receiver: OtlpReceiver, what: string, pick: (s: ExportedSpan) => boolean, debug: () => string): Promise<ExportedSpan> {
  return eventually(() => {
    const s = receiver.spans().find((x) => x.name === SPAN && pick(x));
    if (!s) throw new Error(`no ${what} span yet\n--- receiver\n${receiver.output().slice(-2000)}\n--- banyan\n${debug()}`);
    return s;
  }, 20_000);
}

/**
 * A receiver and `banyan ratelimit --otlp-endpoint` at it (with `args`), on this file's domain, for a
 * describe block: set up in its beforeAll, torn down in its afterAll.
 */
function tracedRateLimit(args: string[]): { receiver: () => OtlpReceiver; rl: () => BanyanProcess; port: () => number; listening: () => Record<string, unknown> } {
  let receiver: OtlpReceiver | undefined;
  let rl: BanyanProcess | undefined;
  let dir: string | undefined;
  let listening: Record<string, unknown> = {};
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-rltrace-'));
    await writeFile(path.join(dir, 'tracing.yaml'), DOMAIN);
    receiver = await startOtlpReceiver();
    rl = startBanyan(['ratelimit', '--port', '0', '--config', dir, ...args, '--otlp-endpoint', receiver.endpoint], FAST_EXPORT);
    listening = await rl.line('rate limit service listening');
  }, 900_000);
  afterAll(async () => {
    await rl?.kill();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return { receiver: () => receiver!, rl: () => rl!, port: () => Number(listening.port), listening: () => listening };
}

describe('`banyan ratelimit --otlp-endpoint`: a span per decision', () => {
  const t = tracedRateLimit([]);
  let receiver: OtlpReceiver;
  let rl: BanyanProcess;
  let port: number;
  beforeAll(() => {
    expect(t.listening().tracing).toBe(true);
    [receiver, rl, port] = [t.receiver(), t.rl(), t.port()];
  });

  const debug = () => rl!.output();

  it("continues the call's traceparent and tracestate, with the decision and no descriptor value", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const out = await shouldRateLimit(port, request('user', SECRET), { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=opaque' });
    expect(out).toMatchObject({ res: { overall_code: 'OK' } });
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, debug);
    expect(span).toMatchObject({ parentSpanId: '00f067aa0ba902b7', kind: 2, traceState: 'vendor=opaque', status: { code: 0 } });
    expect(span.attributes).toEqual({
      'rpc.system': 'grpc',
      'rpc.service': 'envoy.service.ratelimit.v3.RateLimitService',
      'rpc.method': 'ShouldRateLimit',
      'rpc.grpc.status_code': 0,
      'banyan.ratelimit.domain': 'tracing',
      'banyan.ratelimit.descriptors': 1,
      'banyan.ratelimit.descriptor_keys': ['user'],
      'banyan.ratelimit.backend': 'memory',
      'banyan.ratelimit.code': 'OK',
      'banyan.ratelimit.over_limit_descriptors': 0,
    });
    expect(JSON.stringify(span)).not.toContain(SECRET);
  });

  it('an OVER_LIMIT decision, and a hits_addend other than 1, are in the attributes', async () => {
    const traceId = '0123456789abcdef0123456789abcdef';
    // the first call counted 1 of 2; 2 more go over
    const out = await shouldRateLimit(port, request('user', SECRET, 2), { traceparent: `00-${traceId}-1111222233334444-01` });
    expect(out).toMatchObject({ res: { overall_code: 'OVER_LIMIT' } });
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, debug);
    expect(span.attributes).toMatchObject({ 'banyan.ratelimit.code': 'OVER_LIMIT', 'banyan.ratelimit.over_limit_descriptors': 1, 'banyan.ratelimit.hits_addend': 2 });
    // a decision is not a failure: OVER_LIMIT is the service working
    expect(span.status.code).toBe(0);
  });

  it('a call without traceparent gets a root span of its own trace', async () => {
    const before = new Set(receiver!.spans().map((s) => s.spanId));
    await shouldRateLimit(port, request('user', 'someone-else'));
    const span = await spanOf(receiver!, 'new root', (s) => !before.has(s.spanId), debug);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.traceId).not.toBe('0'.repeat(32));
    expect(span.attributes).toMatchObject({ 'banyan.ratelimit.code': 'OK', 'banyan.ratelimit.descriptor_keys': ['user'] });
  });

  it('a request the service refuses is an ERROR span with its gRPC status', async () => {
    const traceId = 'fedcba9876543210fedcba9876543210';
    const out = await shouldRateLimit(port, { domain: 'tracing', descriptors: [] }, { traceparent: `00-${traceId}-5555666677778888-01` });
    expect('err' in out && out.err.code).toBe(grpc.status.UNKNOWN);
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, debug);
    expect(span.status).toEqual({ code: 2, message: 'rate limit descriptor list must not be empty' });
    expect(span.attributes['rpc.grpc.status_code']).toBe(grpc.status.UNKNOWN);
    expect(span.attributes['banyan.ratelimit.code']).toBeUndefined();
  });
});

describe('a backend failure in the span', () => {
  // Port 1 on loopback: nothing listens there, so every backend call fails. No breaker, so each call meets the failure itself.
  const t = tracedRateLimit(['--redis', 'redis://127.0.0.1:1', '--breaker-failures', '0']);
  let receiver: OtlpReceiver;
  let rl: BanyanProcess;
  let port: number;
  beforeAll(() => {
    [receiver, rl, port] = [t.receiver(), t.rl(), t.port()];
  });

  it('failing open: OK, with the failure and failed_open', async () => {
    const traceId = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb';
    const out = await shouldRateLimit(port, request('open', SECRET), { traceparent: `00-${traceId}-0000000000000001-01` });
    expect(out).toMatchObject({ res: { overall_code: 'OK' } });
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, () => rl!.output());
    expect(span.attributes).toMatchObject({ 'banyan.ratelimit.backend': 'redis', 'banyan.ratelimit.failed_open': true, 'banyan.ratelimit.code': 'OK' });
    expect(['timeout', 'error']).toContain(span.attributes['banyan.ratelimit.backend_failure']);
    expect(span.status.code).toBe(0);
  });

  it('failing closed: UNAVAILABLE, an ERROR span that does not quote the backend', async () => {
    const traceId = 'ccccccccccccccccdddddddddddddddd';
    const out = await shouldRateLimit(port, request('closed', SECRET), { traceparent: `00-${traceId}-0000000000000002-01` });
    expect('err' in out && out.err.code).toBe(grpc.status.UNAVAILABLE);
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, () => rl!.output());
    expect(span.attributes).toMatchObject({ 'banyan.ratelimit.failed_open': false, 'rpc.grpc.status_code': grpc.status.UNAVAILABLE });
    const failure = span.attributes['banyan.ratelimit.backend_failure'];
    expect(['timeout', 'error']).toContain(failure);
    expect(span.status).toEqual({ code: 2, message: `rate limit backend redis unavailable (${String(failure)}), failing closed` });
    expect(JSON.stringify(span)).not.toContain(SECRET);
  });
});

describe("serve's embedded rate limit service", () => {
  let receiver: OtlpReceiver | undefined;
  let serve: ServeProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-rltrace-serve-'));
    await writeFile(path.join(dir, 'routes.yaml'), 'clusters:\n  - { name: app, endpoints: [10.0.0.1:8080] }\n');
    receiver = await startOtlpReceiver();
    serve = await startServeProcess('rltrace', [dir, '--data-dir', path.join(dir, 'data'), '--no-authz', '--ratelimit-port', '0', '--otlp-endpoint', receiver.endpoint], { env: FAST_EXPORT });
  }, 900_000);

  afterAll(async () => {
    await serve?.kill();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("spans its decisions through serve's tracer", async () => {
    const port = Number(serve!.lines.find((l) => l.msg === 'banyan serving')!.ratelimitPort);
    const traceId = 'eeeeeeeeeeeeeeeeffffffffffffffff';
    // The config has no rate limit domains: whatever the answer, the call is traced.
    await shouldRateLimit(port, request('user', SECRET), { traceparent: `00-${traceId}-0000000000000003-01` });
    const span = await spanOf(receiver!, `trace ${traceId}`, (s) => s.traceId === traceId, () => serve!.output());
    expect(span).toMatchObject({ parentSpanId: '0000000000000003', kind: 2, service: 'banyan' });
    expect(span.attributes).toMatchObject({ 'banyan.ratelimit.domain': 'tracing', 'banyan.ratelimit.backend': 'memory' });
  });
});

describe('`banyan ratelimit` with tracing off', () => {
  it('loads no OpenTelemetry module (the check is at start, not per call)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-rltrace-off-'));
    try {
      await writeFile(path.join(dir, 'tracing.yaml'), DOMAIN);
      // A resolve hook in the child reports every module it loads; the service is asked once, so its call path is loaded too.
      const loader = path.join(dir, 'loader.mjs');
      await writeFile(loader, "export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('@opentelemetry')) process.stderr.write('OTEL-LOADED ' + r.url + '\\n'); return r; }\n");
      const hook = path.join(dir, 'hook.mjs');
      await writeFile(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(loader).href)});\n`);
      // Empty is unset for the OTEL_* endpoints: the test's own environment must not turn tracing on.
      const env = { NODE_OPTIONS: `--import=${hook}`, OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' };
      for (const traced of [false, true]) {
        const rl = startBanyan(['ratelimit', '--port', '0', '--config', dir, ...(traced ? ['--otlp-endpoint', 'http://127.0.0.1:1'] : [])], env);
        try {
          const port = Number((await rl.line('rate limit service listening')).port);
          expect(await shouldRateLimit(port, request('user', 'x'))).toMatchObject({ res: { overall_code: 'OK' } });
          // With tracing on the same hook must see the API: the check is not blind.
          expect(rl.output().includes('OTEL-LOADED'), `traced: ${traced}\n${rl.output()}`).toBe(traced);
        } finally {
          await rl.kill();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
