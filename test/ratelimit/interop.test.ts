/**
 * gRPC interop of the rate limit service with real clients other than grpc-js: grpc-go
 * (test/go/rlsclient, go-control-plane's generated RLS stubs) and gRPC C-core through grpcio
 * (test/python/rls_client.py, messages from a descriptor set compiled here with grpcio-tools from
 * the protos in node_modules). Each client runs as its own process on one connection and reports,
 * per call, the gRPC status code and message, the response as protojson, the metadata it received
 * and the time the call took. These are the wire semantics the transport must keep, whatever it is:
 * decisions and their exact fields, error codes with their full (percent-encoded on the wire)
 * messages, grpc-timeout, gzip-compressed requests, grpc.health.v1, UNIMPLEMENTED for an unknown
 * method, TLS/mTLS, and many concurrent calls on one connection.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { PROTO_INCLUDE_DIRS } from '../../src/proto/paths.js';
import type { LimiterBackend, LimitResult } from '../../src/ratelimit/backend/types.js';
import { createRedisClient, RedisBackend } from '../../src/ratelimit/backend/redis.js';
import { createRateLimitServer, RATELIMIT_SERVICE_NAME, type RateLimitServer, type RateLimitServerOptions } from '../../src/ratelimit/server.js';
import type { Transport } from '../../src/grpc/tls.js';
import { issueCert, makeCa, type TestCa, type TestCert } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { goBinary } from '../support/go.js';
import { pythonEnv } from '../support/python.js';
import { RedisServer } from '../support/redis.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

const DOMAINS = parseRateLimitYaml(
  `domain: interop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: burst
    rate_limit: { unit: hour, requests_per_unit: 150 }
  - key: free
    rate_limit: { unlimited: true }
`,
  'interop.yaml',
).domains;

/** The server's clock, pinned: 1_700_000_000.5 s is 20.5 s into a minute and 800.5 s into an hour (whole seconds until reset: 40 s, 2800 s). */
const NOW_MS = 1_700_000_000_500;

/** A message with what a naive transport gets wrong: non-ASCII, a bare %, an already-encoded %25, a non-BMP character. */
const HOSTILE_MESSAGE = 'Zähler ü% kaputt: 100%25 of ☃ (𝄞)';

interface Command {
  op: 'rls' | 'check' | 'watch' | 'unknown';
  request?: unknown;
  timeoutMs?: number;
  compression?: 'gzip' | 'deflate' | 'x-unsupported';
  service?: string;
  updates?: number;
  method?: string;
}

interface CallResult {
  id: string;
  op: string;
  code: number;
  codeName: string;
  message: string;
  response: Record<string, unknown> | null;
  updates?: string[];
  headers: Record<string, string[]>;
  trailers: Record<string, string[]>;
  elapsedMs: number;
}

interface RlsStatusJson {
  code: string;
  limit_remaining?: number;
}

/** One helper process: commands in on stdin, results out on stdout, matched by id. */
class ClientProcess {
  private readonly proc: ChildProcess;
  private readonly waiting = new Map<string, { resolve: (r: CallResult) => void; reject: (e: Error) => void; onUpdate?: (status: string) => void }>();
  private seq = 0;
  private stderr = '';
  private readonly exited: Promise<void>;

  constructor(
    readonly kind: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    live.add(this.proc);
    this.proc.stderr!.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-8000)));
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => this.line(line));
    this.exited = new Promise((resolve) => {
      const done = (why: string) => {
        live.delete(this.proc);
        for (const w of this.waiting.values()) w.reject(new Error(`${kind} helper ${why} with calls pending; stderr:\n${this.stderr}`));
        this.waiting.clear();
        resolve();
      };
      this.proc.once('exit', (code, signal) => done(`exited (${code ?? signal})`));
      this.proc.once('error', (err) => done(`failed to start: ${err.message}`));
    });
  }

  private line(line: string): void {
    let msg: Partial<CallResult> & { event?: string; status?: string; fatal?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      this.stderr += `\n(unparsed stdout) ${line}`;
      return;
    }
    const w = msg.id === undefined ? undefined : this.waiting.get(msg.id);
    if (msg.fatal !== undefined) {
      if (w) {
        this.waiting.delete(msg.id!);
        w.reject(new Error(`${this.kind} helper: ${msg.fatal}`));
      } else this.stderr += `\n(fatal) ${msg.fatal}`;
      return;
    }
    if (!w) return;
    if (msg.event === 'update') {
      w.onUpdate?.(msg.status!);
      return;
    }
    this.waiting.delete(msg.id!);
    w.resolve(msg as CallResult);
  }

  call(cmd: Command, onUpdate?: (status: string) => void): Promise<CallResult> {
    const id = String(++this.seq);
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return reject(new Error(`${this.kind} helper is not running; stderr:\n${this.stderr}`));
      this.waiting.set(id, { resolve, reject, onUpdate });
      this.proc.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  rls(request: unknown, opts: Omit<Command, 'op' | 'request'> = {}): Promise<CallResult> {
    return this.call({ op: 'rls', request, timeoutMs: 10_000, ...opts });
  }

  /** Ends stdin (the helper exits when its calls have ended); kills it if it lingers. */
  async close(): Promise<void> {
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Every helper process still running; killed in afterAll whatever happened. */
const live = new Set<ChildProcess>();

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

type Launcher = (address: string, tls?: ClientTls) => ClientProcess;

const tlsArgs = (tls?: ClientTls): string[] => [
  ...(tls?.ca ? ['--ca', tls.ca] : []),
  ...(tls?.cert ? ['--cert', tls.cert] : []),
  ...(tls?.key ? ['--key', tls.key] : []),
];

async function goLauncher(): Promise<Launcher> {
  // A cold build fetches grpc-go and go-control-plane from the module proxy: minutes, not seconds.
  const bin = await goBinary('rlsclient');
  return (address, tls) => new ClientProcess('grpc-go', bin, ['--address', address, ...tlsArgs(tls)]);
}

async function pythonLauncher(dir: string): Promise<Launcher> {
  const py = await pythonEnv();
  // The messages come from the protos node_modules already ships (never copied into the repo),
  // compiled here by grpcio-tools' protoc into one descriptor set with every import.
  const deps = PROTO_INCLUDE_DIRS.filter((d) => d.includes(`${path.sep}deps${path.sep}`) && fs.existsSync(d));
  const healthProtoDir = path.join(path.dirname(require.resolve('grpc-health-check/package.json')), 'proto');
  const descriptors = path.join(dir, 'rls-health.pb');
  await run(
    py.python,
    ['-m', 'grpc_tools.protoc', ...deps.map((d) => `-I${d}`), `-I${healthProtoDir}`, '--include_imports', `--descriptor_set_out=${descriptors}`, 'envoy/service/ratelimit/v3/rls.proto', 'health/v1/health.proto'],
    { env: { ...process.env, ...py.env }, timeout: 120_000 },
  );
  return (address, tls) => new ClientProcess('grpcio', py.python, [py.script('rls_client.py'), '--address', address, '--descriptors', descriptors, ...tlsArgs(tls)], py.env);
}

/** A backend that fails every check with `message` (so failure mode deny answers UNAVAILABLE carrying it). */
class FailingBackend implements LimiterBackend {
  readonly name = 'memory' as const;
  calls = 0;
  constructor(private readonly message: string) {}
  check(): Promise<LimitResult[]> {
    this.calls++;
    return Promise.reject(new Error(this.message));
  }
  async close(): Promise<void> {}
}

const servers = new Set<RateLimitServer>();

async function startServer(opts: RateLimitServerOptions, transport: Transport = {}): Promise<{ server: RateLimitServer; address: string }> {
  const server = createRateLimitServer(opts);
  servers.add(server);
  const port = await server.start(0, '127.0.0.1', transport);
  return { server, address: `127.0.0.1:${port}` };
}

async function stopServer(server: RateLimitServer): Promise<void> {
  if (!servers.delete(server)) return;
  await server.stop();
}

async function metric(server: RateLimitServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await server.limiter.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

const request = (...descriptors: [string, string][][]) => ({ domain: 'interop', descriptors: descriptors.map((entries) => ({ entries: entries.map(([key, value]) => ({ key, value })) })) });

/** The parts of a result a failed assertion should show. */
const brief = (r: CallResult) => ({ code: r.code, codeName: r.codeName, message: r.message, response: r.response });

let redis: RedisServer;
let tmp: string;
let ca: TestCa;
let otherCa: TestCa;
let serverCert: TestCert;
let clientCert: TestCert;
let rogueClientCert: TestCert;
const launchers: Record<string, Launcher> = {};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-interop-'));
  ca = makeCa(tmp, 'interop-ca');
  otherCa = makeCa(tmp, 'other-ca');
  serverCert = issueCert(ca, tmp, 'server', { kind: 'server' });
  clientCert = issueCert(ca, tmp, 'client', { kind: 'client' });
  rogueClientCert = issueCert(otherCa, tmp, 'rogue-client', { kind: 'client' });
  const [go, python, r] = await Promise.all([goLauncher(), pythonLauncher(tmp), RedisServer.start()]);
  launchers['grpc-go'] = go;
  launchers.grpcio = python;
  redis = r;
}, 900_000);

afterAll(async () => {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
  redis?.resume();
  await Promise.all([...servers].map((s) => stopServer(s)));
  await redis?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.each(['grpc-go', 'grpcio'])('%s against the rate limit service', (kind) => {
  let main: { server: RateLimitServer; address: string };
  let client: ClientProcess;
  const open = (address: string, tls?: ClientTls) => launchers[kind](address, tls);

  beforeAll(async () => {
    main = await startServer({ domains: DOMAINS, now: () => NOW_MS });
    client = open(main.address);
  });

  afterAll(async () => {
    await client?.close();
  });

  it('OK then OVER_LIMIT, with every field of the decision', async () => {
    const req = request([['user', 'alice']]);
    const first = await client.rls(req);
    expect(brief(first)).toEqual({
      code: 0,
      codeName: 'OK',
      message: '',
      response: {
        overall_code: 'OK',
        statuses: [{ code: 'OK', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, limit_remaining: 1, duration_until_reset: '40s' }],
      },
    });
    // The headers of a gRPC response: the content type says gRPC.
    if (kind === 'grpc-go') expect(first.headers['content-type']).toEqual([expect.stringMatching(/^application\/grpc(\+proto)?$/)]);
    const second = await client.rls(req);
    expect(second.response).toEqual({
      overall_code: 'OK',
      statuses: [{ code: 'OK', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, duration_until_reset: '40s' }],
    });
    const third = await client.rls(req);
    expect(brief(third)).toEqual({
      code: 0,
      codeName: 'OK',
      message: '',
      response: {
        overall_code: 'OVER_LIMIT',
        statuses: [{ code: 'OVER_LIMIT', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, duration_until_reset: '40s' }],
      },
    });
    // Several descriptors: each has its status, the overall code is the worst; unlimited says so.
    const mixed = await client.rls(request([['user', 'alice']], [['free', 'x']], [['user', 'bob']], [['nothing', 'matches']]));
    expect(mixed.response).toEqual({
      overall_code: 'OVER_LIMIT',
      statuses: [
        { code: 'OVER_LIMIT', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, duration_until_reset: '40s' },
        { code: 'OK', limit_remaining: 4294967295 },
        { code: 'OK', current_limit: { requests_per_unit: 2, unit: 'MINUTE' }, limit_remaining: 1, duration_until_reset: '40s' },
        { code: 'OK' },
      ],
    });
    // hits_addend is honoured as sent.
    const many = await client.rls({ ...request([['burst', `addend-${kind}`]]), hits_addend: 100 });
    expect(many.response).toEqual({
      overall_code: 'OK',
      statuses: [{ code: 'OK', current_limit: { requests_per_unit: 150, unit: 'HOUR' }, limit_remaining: 50, duration_until_reset: '2800s' }],
    });
    expect(await metric(main.server, 'banyan_ratelimit_over_limit_total', { key: 'interop.user' })).toBe(2);
  });

  it('errors arrive as their gRPC code with the whole message', async () => {
    const empty = await client.rls({ domain: '', descriptors: [{ entries: [{ key: 'user', value: 'x' }] }] });
    expect(brief(empty)).toEqual({ code: 2, codeName: 'UNKNOWN', message: 'rate limit domain must not be empty', response: null });

    const unconfigured = await startServer({});
    const c = open(unconfigured.address);
    try {
      const r = await c.rls(request([['user', 'alice']]));
      expect(brief(r)).toEqual({ code: 2, codeName: 'UNKNOWN', message: 'no rate limit configuration loaded', response: null });
    } finally {
      await c.close();
    }

    // A message with non-ASCII and % characters (percent-encoded in grpc-message on the wire) arrives
    // exactly: a backend whose error says so, behind failure mode deny (UNAVAILABLE with the cause).
    const backend = new FailingBackend(HOSTILE_MESSAGE);
    const failing = await startServer({ domains: DOMAINS, backend, failureMode: 'deny', breaker: { failures: 0 } });
    const f = open(failing.address);
    try {
      const r = await f.rls(request([['user', 'alice']]));
      expect(brief(r)).toEqual({ code: 14, codeName: 'UNAVAILABLE', message: `rate limit backend memory unavailable: ${HOSTILE_MESSAGE}`, response: null });
      expect(backend.calls).toBe(1);
    } finally {
      await f.close();
    }
  });

  it("grpc-timeout: a call shorter than the server's work ends DEADLINE_EXCEEDED near its deadline; the server decides by the caller's deadline, else by its own bound", async () => {
    const serverBoundMs = 2000;
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    // Breaker off: every call waits on the paused Redis, none is answered at once by an open breaker.
    const { server, address } = await startServer({ domains: DOMAINS, backend, timeoutMs: serverBoundMs, failureMode: 'allow', breaker: { failures: 0 } });
    await backend.ready();
    const c = open(address);
    const key = `deadline-${kind}-${Date.now()}`;
    try {
      const warm = await c.rls(request([['burst', key]]));
      expect(warm.response).toMatchObject({ overall_code: 'OK', statuses: [{ code: 'OK', limit_remaining: 149 }] });
      redis.pause();
      try {
        // 6 ms: under the 10 ms the server gives a silent backend at the least, so its answer (fail
        // open) comes after the caller gave up.
        const t0 = performance.now();
        const short = await c.rls(request([['burst', key]]), { timeoutMs: 6 });
        expect(brief(short)).toMatchObject({ code: 4, codeName: 'DEADLINE_EXCEEDED', response: null });
        expect(short.elapsedMs).toBeGreaterThanOrEqual(5);
        expect(short.elapsedMs).toBeLessThan(750);
        // The server still decided that call, by its caller's deadline, not by its own 2 s bound.
        await eventually(async () => expect(await metric(server, 'banyan_ratelimit_failure_mode_allowed_total')).toBe(1), 10_000, 5);
        expect(performance.now() - t0).toBeLessThan(serverBoundMs - 500);

        // 300 ms: the server answers by the failure mode just before it (2 ms margin), so the client
        // sees that answer or, when the answer is a hair late, its own deadline: either way at ~300 ms,
        // and the server's decision came then, not at its own 2 s bound (it read grpc-timeout).
        const t1 = performance.now();
        const mid = await c.rls(request([['burst', key]]), { timeoutMs: 300 });
        if (mid.code === 0) expect(mid.response).toEqual({ overall_code: 'OK', statuses: [{ code: 'OK' }] });
        else expect(brief(mid)).toMatchObject({ code: 4, codeName: 'DEADLINE_EXCEEDED' });
        expect(mid.elapsedMs).toBeGreaterThanOrEqual(250);
        expect(mid.elapsedMs).toBeLessThan(1000);
        await eventually(async () => expect(await metric(server, 'banyan_ratelimit_failure_mode_allowed_total')).toBe(2), 10_000, 5);
        expect(performance.now() - t1).toBeLessThan(serverBoundMs - 500);

        // A caller with a longer deadline gets the server's own bound: OK (fail open) after ~2 s.
        const long = await c.rls(request([['burst', key]]), { timeoutMs: 10_000 });
        expect(brief(long)).toEqual({ code: 0, codeName: 'OK', message: '', response: { overall_code: 'OK', statuses: [{ code: 'OK' }] } });
        expect(long.elapsedMs).toBeGreaterThanOrEqual(serverBoundMs - 50);
        expect(long.elapsedMs).toBeLessThan(serverBoundMs + 3000);
      } finally {
        redis.resume();
      }
      expect(await metric(server, 'banyan_ratelimit_backend_errors_total', { reason: 'timeout' })).toBe(3);
      // Redis back, the connection is still good: calls are counted again. The three paused calls'
      // increments were already written to Redis's socket, so it applied them when it resumed.
      const after = await c.rls(request([['burst', key]]));
      expect(after.response).toMatchObject({ overall_code: 'OK', statuses: [{ code: 'OK', limit_remaining: 145 }] });
    } finally {
      redis.resume();
      await c.close();
      await stopServer(server);
    }
  }, 60_000);

  it('compressed requests (gzip, deflate) are decompressed and answered; an unknown encoding is UNIMPLEMENTED', async () => {
    // Compressible: C-core sends a message uncompressed (flag 0, grpc-encoding still set) when
    // compressing would not make it smaller, as it would not for a few dozen bytes.
    const pad: [string, string][] = [['pad', 'x'.repeat(4096)]];
    // First, that the client really compresses: a bare HTTP/2 server records what it is sent.
    const seen: { encoding: unknown; flag: number }[] = [];
    const sniffer = http2.createServer();
    sniffer.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.push({ encoding: headers['grpc-encoding'], flag: Buffer.concat(chunks)[0] });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'sniffed' }, { endStream: true });
      });
    });
    await new Promise<void>((resolve) => sniffer.listen(0, '127.0.0.1', resolve));
    const s = open(`127.0.0.1:${(sniffer.address() as { port: number }).port}`);
    try {
      for (const compression of ['gzip', 'deflate'] as const) {
        expect(brief(await s.rls(request([['burst', 'sniffed']], pad), { compression }))).toMatchObject({ code: 12, message: 'sniffed' });
      }
    } finally {
      await s.close();
      await new Promise<void>((resolve) => sniffer.close(() => resolve()));
    }
    expect(seen).toEqual([
      { encoding: 'gzip', flag: 1 },
      { encoding: 'deflate', flag: 1 },
    ]);

    for (const compression of ['gzip', 'deflate'] as const) {
      const req = request([['burst', `${compression}-${kind}`]], pad);
      const r = await client.rls(req, { compression });
      expect(brief(r)).toEqual({
        code: 0,
        codeName: 'OK',
        message: '',
        response: { overall_code: 'OK', statuses: [{ code: 'OK', current_limit: { requests_per_unit: 150, unit: 'HOUR' }, limit_remaining: 149, duration_until_reset: '2800s' }, { code: 'OK' }] },
      });
      // Counted like any other: the next uncompressed call sees the compressed one's hit.
      const next = await client.rls(req);
      expect(next.response).toMatchObject({ statuses: [{ limit_remaining: 148 }, { code: 'OK' }] });
    }
    if (kind === 'grpc-go') {
      // grpcio cannot send an encoding it does not have; grpc-go sends any registered one.
      const r = await client.rls(request([['burst', `unsupported-${kind}`]], pad), { compression: 'x-unsupported' });
      expect(brief(r)).toMatchObject({ code: 12, codeName: 'UNIMPLEMENTED', message: expect.stringContaining('x-unsupported'), response: null });
      // Refused before the service saw it: not counted.
      expect((await client.rls(request([['burst', `unsupported-${kind}`]]))).response).toMatchObject({ statuses: [{ limit_remaining: 149 }] });
    }
  });

  it('a request over many DATA frames (1 MiB) is answered; one over the 4 MiB receive limit is RESOURCE_EXHAUSTED', async () => {
    const big = await client.rls(request([['user', `big-${kind}`], ['pad', 'x'.repeat(1 << 20)]]));
    expect(brief(big)).toEqual({ code: 0, codeName: 'OK', message: '', response: { overall_code: 'OK', statuses: [{ code: 'OK' }] } });
    const tooBig = await client.rls(request([['pad', 'x'.repeat(5 << 20)]]));
    expect(brief(tooBig)).toMatchObject({ code: 8, codeName: 'RESOURCE_EXHAUSTED', response: null });
    // The connection is still good after it.
    expect((await client.rls(request([['burst', `after-big-${kind}`]]))).response).toMatchObject({ overall_code: 'OK', statuses: [{ limit_remaining: 149 }] });
  }, 60_000);

  it('stop: a call in flight is still answered; a new call after it is refused', async () => {
    const backend = new RedisBackend(createRedisClient({ url: redis.url }));
    const { server, address } = await startServer({ domains: DOMAINS, backend, timeoutMs: 1000, failureMode: 'allow', breaker: { failures: 0 } });
    await backend.ready();
    const c = open(address);
    try {
      expect((await c.rls(request([['burst', `stop-${kind}`]]))).code).toBe(0);
      redis.pause();
      let stopped: Promise<void>;
      let inFlight: CallResult;
      try {
        const pending = c.rls(request([['burst', `stop-${kind}`]]), { timeoutMs: 10_000 });
        // The call has reached the service (it counts the hit before asking the paused Redis).
        await eventually(async () => expect(await metric(server, 'banyan_ratelimit_total_hits_total', { key: 'interop.burst' })).toBe(2), 10_000, 5);
        stopped = stopServer(server);
        inFlight = await pending;
      } finally {
        redis.resume();
      }
      await stopped;
      // Answered by the service (fail open after its 1 s bound), not cut off by the stop.
      expect(brief(inFlight)).toEqual({ code: 0, codeName: 'OK', message: '', response: { overall_code: 'OK', statuses: [{ code: 'OK' }] } });
      const after = await c.rls(request([['burst', `stop-${kind}`]]), { timeoutMs: 3000 });
      expect(brief(after)).toMatchObject({ code: 14, codeName: 'UNAVAILABLE', response: null });
    } finally {
      redis.resume();
      await c.close();
      await stopServer(server);
    }
  }, 60_000);

  it('health: Check SERVING for "" and the service, NOT_FOUND for an unknown one; Watch sees the stop', async () => {
    for (const service of ['', RATELIMIT_SERVICE_NAME]) {
      expect(brief(await client.call({ op: 'check', service, timeoutMs: 5000 }))).toEqual({ code: 0, codeName: 'OK', message: '', response: { status: 'SERVING' } });
    }
    const unknown = await client.call({ op: 'check', service: 'no.such.Service', timeoutMs: 5000 });
    expect(brief(unknown)).toMatchObject({ code: 5, codeName: 'NOT_FOUND', response: null });
    // Watch of an unknown service: SERVICE_UNKNOWN, and the stream stays open (the client ends it).
    const unknownWatch = await client.call({ op: 'watch', service: 'no.such.Service', updates: 1, timeoutMs: 5000 });
    expect(brief(unknownWatch)).toMatchObject({ code: 0 });
    expect(unknownWatch.updates).toEqual(['SERVICE_UNKNOWN']);

    const doomed = await startServer({ domains: DOMAINS });
    const c = open(doomed.address);
    try {
      const updates: string[] = [];
      const watch = c.call({ op: 'watch', service: '', updates: 0 }, (s) => updates.push(s));
      await eventually(() => expect(updates).toEqual(['SERVING']), 10_000);
      const stopAt = performance.now();
      await stopServer(doomed.server);
      // The stream says NOT_SERVING before it ends (a watcher learns why), and does not hang on past
      // the stop's grace (2 s); the end is UNAVAILABLE, which clients take as "watch again elsewhere".
      const r = await watch;
      expect(performance.now() - stopAt).toBeLessThan(5000);
      expect(r.updates).toEqual(['SERVING', 'NOT_SERVING']);
      expect(r.updates).toEqual(updates);
      expect(r.codeName).toBe('UNAVAILABLE');
    } finally {
      await c.close();
      await stopServer(doomed.server);
    }
  }, 30_000);

  it('an unknown method or service is UNIMPLEMENTED', async () => {
    for (const method of ['/envoy.service.ratelimit.v3.RateLimitService/NoSuchMethod', '/banyan.NoSuchService/Call']) {
      const r = await client.call({ op: 'unknown', method, timeoutMs: 5000 });
      expect(brief(r)).toMatchObject({ code: 12, codeName: 'UNIMPLEMENTED', response: null });
    }
    // The connection is still good after them.
    expect((await client.call({ op: 'check', service: '', timeoutMs: 5000 })).response).toEqual({ status: 'SERVING' });
  });

  it('mTLS: a client with a certificate from the CA succeeds; one without, one from another CA and one trusting another CA fail', async () => {
    const secure = await startServer({ domains: DOMAINS, now: () => NOW_MS }, { tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caFile: ca.certFile, requireClientCert: true } });
    const hits = () => metric(secure.server, 'banyan_ratelimit_total_hits_total', { key: 'interop.user' });
    const req = request([['user', `tls-${kind}`]]);
    const attempt = async (tls: ClientTls) => {
      const c = open(secure.address, tls);
      try {
        return await c.rls(req, { timeoutMs: 5000 });
      } finally {
        await c.close();
      }
    };
    try {
      const good = await attempt({ ca: ca.certFile, cert: clientCert.certFile, key: clientCert.keyFile });
      expect(brief(good)).toMatchObject({ code: 0, response: { overall_code: 'OK', statuses: [{ code: 'OK', limit_remaining: 1 }] } });
      expect(await hits()).toBe(1);

      // Refused in the handshake: the call fails UNAVAILABLE (never reaches the service).
      for (const tls of [
        { ca: ca.certFile },
        { ca: ca.certFile, cert: rogueClientCert.certFile, key: rogueClientCert.keyFile },
        { ca: otherCa.certFile, cert: clientCert.certFile, key: clientCert.keyFile },
      ]) {
        const r = await attempt(tls);
        expect({ tls, ...brief(r) }).toMatchObject({ tls, code: 14, codeName: 'UNAVAILABLE', response: null });
      }
      expect(await hits()).toBe(1);

      // Plaintext to the TLS port is no gRPC either.
      const plain = open(secure.address);
      try {
        const r = await plain.rls(req, { timeoutMs: 5000 });
        expect(r.code).toBe(14);
      } finally {
        await plain.close();
      }
      expect(await hits()).toBe(1);
    } finally {
      await stopServer(secure.server);
    }
  }, 60_000);

  it('200 concurrent calls on one connection are each answered, each with its own answer, and agree with the server counters', async () => {
    // A server of its own, so that its counters are this test's alone.
    const { server, address } = await startServer({ domains: DOMAINS, now: () => NOW_MS });
    const c = open(address);
    try {
      // Every call counts against one shared limit (150/h: 150 OK, 50 OVER_LIMIT, in whatever order
      // they arrive), and against a counter of its own whose limit it sends (1000 + i, as Envoy's
      // descriptor limit override), so its answer names the call it belongs to: a response handed
      // to the wrong call shows.
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          c.rls({ domain: 'interop', descriptors: [{ entries: [{ key: 'burst', value: `shared-${kind}` }] }, { entries: [{ key: 'echo', value: `call-${i}` }], limit: { requests_per_unit: 1000 + i, unit: 'HOUR' } }] }, { timeoutMs: 30_000 }),
        ),
      );
      expect(results.filter((r) => r.code !== 0).map(brief)).toEqual([]);
      const shared = results.map((r) => (r.response!.statuses as RlsStatusJson[])[0]);
      const ok = shared.filter((s) => s.code === 'OK');
      expect(ok).toHaveLength(150);
      expect(shared.filter((s) => s.code === 'OVER_LIMIT')).toHaveLength(50);
      // The 150 under the limit saw every remaining count from 149 to 0 once.
      expect(ok.map((s) => s.limit_remaining ?? 0).sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      results.forEach((r, i) => {
        expect(r.response!.overall_code).toBe(shared[i].code);
        expect((r.response!.statuses as RlsStatusJson[])[1]).toEqual({ code: 'OK', current_limit: { requests_per_unit: 1000 + i, unit: 'HOUR' }, limit_remaining: 999 + i, duration_until_reset: '2800s' });
      });
      expect(await metric(server, 'banyan_ratelimit_total_hits_total', { key: 'interop.burst' })).toBe(200);
      expect(await metric(server, 'banyan_ratelimit_within_limit_total', { key: 'interop.burst' })).toBe(150);
      expect(await metric(server, 'banyan_ratelimit_over_limit_total', { key: 'interop.burst' })).toBe(50);
      // A sent limit counts under the descriptor's own stats key (interop.echo_call-<i>), one hit each.
      const hits = (await server.limiter.metrics.registry.getSingleMetric('banyan_ratelimit_total_hits_total')!.get()).values;
      expect(hits.filter((v) => String(v.labels.key).startsWith('interop.echo_call-')).map((v) => [v.labels.key, v.value])).toEqual(
        expect.arrayContaining(Array.from({ length: 200 }, (_, i) => [`interop.echo_call-${i}`, 1])),
      );
      expect(hits.filter((v) => String(v.labels.key).startsWith('interop.echo_call-'))).toHaveLength(200);
    } finally {
      await c.close();
      await stopServer(server);
    }
  }, 60_000);
});
