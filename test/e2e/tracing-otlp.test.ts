/**
 * Banyan's own spans reach a real OTLP/HTTP receiver (test/go/otlpsink): the built `banyan serve` with
 * --otlp-endpoint, an ext_authz Check continuing the caller's W3C trace (from gRPC metadata, and
 * from the request's headers when the metadata has none), and a file edit traced as one change with
 * its compile, admission and push spans. Read back from what the receiver decoded.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { authorizationServiceDefinition } from '../../src/proto/grpc.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { eventually } from '../support/eventually.js';
import { startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';

const ADMIN_TOKEN = 'tracing-admin-token';

const routes = (cluster: string, extraCluster?: string) =>
  [
    'listeners:',
    '  - name: edge',
    '    port: 10000',
    '    authz: { failureMode: deny }',
    '    hosts:',
    '      - domains: ["*"]',
    '        routes:',
    '          - { name: rest, match: { prefix: / }, to: ' + cluster + ', auth: { provider: main } }',
    'clusters:',
    '  - { name: monolith, endpoints: [10.0.0.1:8080] }',
    '  - { name: monolith-v2, endpoints: [10.0.0.2:8080] }',
    ...(extraCluster ? [`  - { name: ${extraCluster}, endpoints: [10.0.0.9:8080] }`] : []),
    'auth:',
    '  providers:',
    '    - { name: main, issuer: https://issuer.test, audiences: [api], jwks: { uri: "http://127.0.0.1:1/jwks" } }',
    '',
  ].join('\n');

function check(port: number, metadata: grpc.Metadata, headers: Record<string, string>): Promise<{ code: number }> {
  const Ctor = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: { status: { code: number } }) => void): void;
  };
  const req = { attributes: { context_extensions: { 'banyan.route': 'edge/rest' }, request: { http: { path: '/things', headers: { ':path': '/things', ...headers } } } } };
  return new Promise<{ code: number }>((resolve, reject) => {
    client.Check(req, metadata, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve({ code: res.status.code })));
  }).finally(() => client.close());
}

describe('tracing to a real OTLP receiver', () => {
  let collector: OtlpReceiver | undefined;
  let serve: ServeProcess | undefined;
  let dir: string;
  let authzPort: number;
  let proxy: AdsRecorder | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-tracing-'));
    collector = await startOtlpReceiver();
    await writeFile(path.join(dir, 'routes.yaml'), routes('monolith'));
    serve = await startServeProcess(
      'tracing',
      [dir, '--data-dir', path.join(dir, 'data'), '--no-ratelimit', '--authz-port', '0', '--debounce', '20', '--otlp-endpoint', collector.endpoint],
      // export within a fraction of a second instead of the SDK's default 5 s batch delay
      { env: { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'banyan-under-test', BANYAN_ADMIN_TOKEN: ADMIN_TOKEN } },
    );
    authzPort = Number(serve.lines.find((l) => l.msg === 'banyan serving')!.authzPort);
  }, 900_000);

  afterAll(async () => {
    proxy?.close();
    await serve?.kill();
    await collector?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const spans = () => collector!.spans();
  const debug = () => `\n--- receiver\n${collector!.output().slice(-2000)}\n--- banyan\n${serve!.output()}`;

  it('a Check continues the trace in its gRPC metadata, with its outcome and no token', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${traceId}-b7ad6b7169203331-01`);
    const res = await check(authzPort, metadata, { authorization: 'Bearer not.a-real.token' });
    expect(res.code).not.toBe(0);
    const span = await eventually(() => {
      const s = spans().find((x) => x.traceId === traceId);
      if (!s) throw new Error(`no span of trace ${traceId} yet${debug()}`);
      return s;
    }, 20_000);
    expect(span).toMatchObject({ name: 'envoy.service.auth.v3.Authorization/Check', parentSpanId: 'b7ad6b7169203331', kind: 2, service: 'banyan-under-test' });
    expect(span.attributes).toMatchObject({ 'rpc.system': 'grpc', 'banyan.authz.result': 'denied', 'http.response.status_code': 401, 'banyan.route': 'edge/rest' });
    expect(typeof span.attributes['banyan.authz.reason']).toBe('string');
    expect(JSON.stringify(span)).not.toContain('not.a-real.token');
  });

  it("without metadata, the request's own traceparent header is continued", async () => {
    const traceId = '11112222333344445555666677778888';
    await check(authzPort, new grpc.Metadata(), { traceparent: `00-${traceId}-1234567890abcdef-01` });
    const span = await eventually(() => {
      const s = spans().find((x) => x.traceId === traceId);
      if (!s) throw new Error(`no span of trace ${traceId} yet${debug()}`);
      return s;
    }, 20_000);
    expect(span.parentSpanId).toBe('1234567890abcdef');
    expect(span.attributes).toMatchObject({ 'banyan.authz.result': 'denied', 'banyan.authz.reason': 'missing_token', 'http.response.status_code': 401 });
  });

  it('a file edit is one trace: the change with its source, compile, admission and push', async () => {
    await writeFile(path.join(dir, 'routes.yaml'), routes('monolith-v2'));
    const tree = await eventually(() => {
      const root = spans().find((s) => s.name === 'banyan.config.change' && s.attributes['banyan.change.source'] === 'file.reload' && s.attributes['banyan.change.result'] === 'applied');
      if (!root) throw new Error(`no file.reload change yet${debug()}`);
      const of = spans().filter((s) => s.traceId === root.traceId);
      const named = (n: string) => of.filter((s) => s.name === n);
      if (!named('banyan.config.push').length) throw new Error(`no push span yet in ${of.map((s) => s.name)}`);
      return { root, of, named };
    }, 20_000);
    const { root, named } = tree;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes['banyan.config.hash']).toMatch(/^[0-9a-f]{12}$/);
    const childOfRoot = (s: ExportedSpan) => s.parentSpanId === root.spanId;
    expect(named('banyan.config.compile').some(childOfRoot)).toBe(true);
    expect(named('banyan.config.admission').some(childOfRoot)).toBe(true);
    expect(named('banyan.config.admission').find(childOfRoot)!.attributes['banyan.admission.admitted']).toBe(true);
    const push = named('banyan.config.push')[0];
    expect(childOfRoot(push)).toBe(true);
    expect(push.attributes).toMatchObject({ 'banyan.push.groups': 1, 'banyan.push.proxies': 0, 'banyan.push.outcome': 'no-proxies' });
    const group = named('banyan.config.push.group')[0];
    expect(group.parentSpanId).toBe(push.spanId);
    expect(group.attributes).toMatchObject({ 'banyan.group': 'default', 'banyan.push.proxies': 0 });
  });

  it("an admin shift carrying a traceparent is its own change trace, linked to the caller's span", async () => {
    const traceId = 'abcdef0123456789abcdef0123456789';
    const res = await fetch(`http://127.0.0.1:${serve!.adminPort}/api/v1/routes/rest/weights`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}`, traceparent: `00-${traceId}-0102030405060708-01` },
      body: JSON.stringify({ backends: [{ cluster: 'monolith', weight: 100 }], author: 'tracing-test', reason: 'linked change' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const root = await eventually(() => {
      const r = spans().find((s) => s.name === 'banyan.config.change' && s.attributes['banyan.change.source'] === 'admin.shift');
      if (!r) throw new Error(`no admin.shift change yet${debug()}`);
      return r;
    }, 20_000);
    // its own trace (the push and ACKs outlive the request), pointing back at the caller
    expect(root.traceId).not.toBe(traceId);
    expect(root.parentSpanId).toBeUndefined();
    expect(root.links).toEqual([{ traceId, spanId: '0102030405060708' }]);
    expect(root.attributes['banyan.change.result']).toBe('applied');
    // and a change without a caller's context links to nothing
    const fileChange = spans().find((s) => s.name === 'banyan.config.change' && s.attributes['banyan.change.source'] === 'file.reload');
    expect(fileChange?.links).toEqual([]);
  });

  it("a push to a connected proxy counts it, and ends when the proxy's ACK arrives", async () => {
    proxy = new AdsRecorder(`127.0.0.1:${serve!.xdsPort}`, { id: 'edge-1', cluster: 'edge' }, { [TypeUrl.Cluster]: [] });
    await eventually(() => proxy!.latest(TypeUrl.Cluster), 10_000);
    // The route moves to a new cluster: a CDS change (clusters no route names are not served), which this proxy subscribes to and ACKs.
    await writeFile(path.join(dir, 'routes.yaml'), routes('spare', 'spare'));
    const push = await eventually(() => {
      const p = spans().find((s) => s.name === 'banyan.config.push' && s.attributes['banyan.push.proxies'] === 1);
      if (!p) throw new Error(`no push to one proxy yet: ${JSON.stringify(spans().filter((x) => x.name.startsWith('banyan.config.c') || x.name.startsWith('banyan.config.push')).slice(-4).map((x) => [x.name, x.attributes]))}`);
      return p;
    }, 20_000);
    expect(push.attributes).toMatchObject({ 'banyan.push.outcome': 'answered', 'banyan.push.acks': 1, 'banyan.push.nacks': 0, 'banyan.push.unanswered': 0 });
    const root = spans().find((s) => s.spanId === push.parentSpanId)!;
    expect(root.attributes).toMatchObject({ 'banyan.change.source': 'file.reload', 'banyan.change.result': 'applied' });
    const group = spans().find((s) => s.name === 'banyan.config.push.group' && s.parentSpanId === push.spanId)!;
    expect(group.attributes).toMatchObject({ 'banyan.group': 'default', 'banyan.push.proxies': 1 });
    expect(group.attributes['banyan.push.types']).toContain('Cluster');
  });
});

describe('tracing from `banyan authz` on its own', () => {
  let receiver: OtlpReceiver | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await receiver?.stop();
  });

  it('--otlp-endpoint: a Check span continuing the caller', async () => {
    receiver = await startOtlpReceiver();
    const bin = path.resolve(import.meta.dirname, '../../bin/banyan.js');
    child = spawn(process.execPath, [bin, 'authz', '--port', '0', '--no-metrics', '--otlp-endpoint', receiver.endpoint], {
      env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '100', BANYAN_LOG_LEVEL: 'info', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child!.once('exit', () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('banyan authz did not listen within 30 s')), 30_000);
      readline.createInterface({ input: child!.stdout! }).on('line', (line) => {
        try {
          const l = JSON.parse(line) as { msg?: string; port?: number };
          if (l.msg === 'authz service listening') {
            clearTimeout(timer);
            resolve(Number(l.port));
          }
        } catch {
          // not a log line
        }
      });
      void exited!.then(() => reject(new Error('banyan authz exited before listening')));
    });
    const traceId = '99998888777766665555444433332222';
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${traceId}-aaaabbbbccccdddd-01`);
    await check(port, metadata, {});
    const span = await eventually(() => {
      const s = receiver!.spans().find((x) => x.traceId === traceId);
      if (!s) throw new Error(`no span of trace ${traceId} yet\n${receiver!.output()}`);
      return s;
    }, 20_000);
    expect(span).toMatchObject({ name: 'envoy.service.auth.v3.Authorization/Check', parentSpanId: 'aaaabbbbccccdddd', service: 'banyan' });
    // no providers configured: denied as an internal error, never allowed
    expect(span.attributes).toMatchObject({ 'banyan.authz.result': 'error', 'http.response.status_code': 500 });
  });
});
