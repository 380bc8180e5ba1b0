/**
 * The lean unary gRPC server (src/grpc/unary-server.ts) against grpc-js as the client, and raw
 * node:http2 where a client library would not send what is being checked (a malformed grpc-timeout,
 * two messages on a unary call). grpc-go and C-core clients are in test/ratelimit/interop.test.ts.
 */
import http2 from 'node:http2';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { UnaryGrpcServer, type UnaryMethod } from '../../src/grpc/unary-server.js';
import { frameMessage } from '../../src/grpc/wire.js';
import { createLogger } from '../../src/telemetry/logger.js';

class Refused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Echo: the request's UTF-8 text back, upper-cased; `wait:<ms>` waits; `fail:<text>` is refused with that text. */
function echo(gate?: Promise<void>, onWait?: () => void): UnaryMethod<string, string> {
  return {
    path: '/test.Echo/Say',
    decode: (b) => b.toString('utf8'),
    encode: (s) => Buffer.from(s, 'utf8'),
    handle: async (req, call) => {
      if (req.startsWith('wait')) {
        onWait?.();
        await gate;
      }
      if (req.startsWith('fail:')) throw new Refused(grpc.status.FAILED_PRECONDITION, req.slice(5));
      if (req === 'deadline') return String(call.deadlineAt !== undefined && call.deadlineAt > call.arrivedAt);
      if (req === 'crash') throw new Error('boom');
      return req.toUpperCase();
    },
  };
}

const servers: UnaryGrpcServer[] = [];
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

async function start(method = echo(), maxReceiveBytes?: number): Promise<{ server: UnaryGrpcServer; port: number }> {
  const server = new UnaryGrpcServer({
    name: 'test service',
    methods: [method],
    healthServices: ['test.Echo'],
    statusOf: (err) => (err instanceof Refused ? { code: err.code, message: err.message } : undefined),
    ...(maxReceiveBytes ? { maxReceiveBytes } : {}),
    log: createLogger('test', 'silent'),
  });
  servers.push(server);
  return { server, port: await server.listen('127.0.0.1', 0) };
}

function client(port: number, options: grpc.ClientOptions = {}): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  clients.push(c);
  return c;
}

function say(c: grpc.Client, text: string | Buffer, opts: grpc.CallOptions = {}, path = '/test.Echo/Say'): Promise<string> {
  return new Promise((resolve, reject) =>
    c.makeUnaryRequest(
      path,
      (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s),
      (b: Buffer) => b.toString('utf8'),
      text,
      new grpc.Metadata(),
      opts,
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

async function status(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('the call succeeded');
}

function health(c: grpc.Client, service: string): Promise<number> {
  // HealthCheckRequest { string service = 1 } / HealthCheckResponse { ServingStatus status = 1 }: a one-field message each.
  const req = Buffer.concat([Buffer.of(0x0a, Buffer.byteLength(service)), Buffer.from(service)]);
  return new Promise((resolve, reject) =>
    c.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => (b.length === 0 ? 0 : b[1]),
      req,
      new grpc.Metadata(),
      {},
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

/** A raw HTTP/2 gRPC call: status and message from the trailers (or trailers-only headers). */
async function raw(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<{ status?: string; message?: string; httpStatus?: number }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/test.Echo/Say', 'content-type': 'application/grpc', te: 'trailers', ...headers });
      const out: { status?: string; message?: string; httpStatus?: number } = {};
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) out.status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) out.message = String(h['grpc-message']);
      };
      req.on('response', (h) => {
        out.httpStatus = Number(h[':status']);
        take(h);
      });
      req.on('trailers', take);
      req.on('data', () => undefined);
      req.on('end', () => resolve(out));
      req.on('error', reject);
      session.on('error', reject);
      if (!req.writableEnded) req.end(body); // a GET is ended by its HEADERS
    });
  } finally {
    session.close();
  }
}

describe('lean unary gRPC server', () => {
  it('answers a unary call, and a refused one with its status and the full message (UTF-8 and % survive)', async () => {
    const { port } = await start();
    const c = client(port);
    expect(await say(c, 'hello')).toBe('HELLO');
    expect(await status(say(c, 'fail:quota über 100% — no'))).toEqual({ code: grpc.status.FAILED_PRECONDITION, details: 'quota über 100% — no' });
    const crash = await status(say(c, 'crash'));
    expect(crash.code).toBe(grpc.status.INTERNAL);
    expect(crash.details).toBe('boom');
  });

  it('unknown methods are UNIMPLEMENTED; non-gRPC requests get HTTP errors', async () => {
    const { port } = await start();
    const c = client(port);
    const s = await status(say(c, 'x', {}, '/test.Echo/Nope'));
    expect(s.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(s.details).toContain('/test.Echo/Nope');
    expect((await raw(port, { 'content-type': 'text/plain' }, Buffer.from('x'))).httpStatus).toBe(415);
    expect((await raw(port, { ':method': 'GET' }, Buffer.alloc(0))).httpStatus).toBe(405);
  });

  it("grpc-timeout is the call's deadline: the handler sees it, and a call still running at it ends DEADLINE_EXCEEDED", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { port } = await start(echo(gate));
    const c = client(port);
    expect(await say(c, 'deadline', { deadline: Date.now() + 5000 })).toBe('true');
    expect(await say(c, 'deadline')).toBe('false');
    // A raw client has no deadline timer of its own: the status read off the wire is the server's.
    const r = raw(port, { 'grpc-timeout': '150m' }, frameMessage(Buffer.from('wait')));
    expect(await r).toMatchObject({ status: String(grpc.status.DEADLINE_EXCEEDED) });
    release();
  });

  it('a malformed grpc-timeout, two messages on a unary call, and a truncated frame are refused, never guessed', async () => {
    const { port } = await start();
    expect(await raw(port, { 'grpc-timeout': '10 seconds' }, frameMessage(Buffer.from('a')))).toMatchObject({ status: String(grpc.status.INTERNAL), message: 'malformed grpc-timeout: 10 seconds' });
    expect(await raw(port, {}, Buffer.concat([frameMessage(Buffer.from('a')), frameMessage(Buffer.from('b'))]))).toMatchObject({ status: String(grpc.status.UNIMPLEMENTED) });
    expect(await raw(port, {}, frameMessage(Buffer.from('abc')).subarray(0, 6))).toMatchObject({ status: String(grpc.status.INTERNAL) });
    expect(await raw(port, {}, Buffer.alloc(0))).toMatchObject({ status: String(grpc.status.INTERNAL), message: 'the request has no message' });
    expect(await raw(port, { 'grpc-encoding': 'snappy' }, frameMessage(Buffer.from('a')))).toMatchObject({ status: String(grpc.status.UNIMPLEMENTED) });
  });

  it('gzip and deflate requests are decompressed (grpc-js compressing), and bounded by the receive limit', async () => {
    const { port } = await start(echo(), 1024);
    const gz = client(port, { 'grpc.default_compression_algorithm': 2 });
    expect(await say(gz, 'compressed '.repeat(50))).toBe('COMPRESSED '.repeat(50));
    const deflated = Buffer.concat([Buffer.of(1), Buffer.alloc(4), zlib.deflateSync(Buffer.from('deflated'))]);
    deflated.writeUInt32BE(deflated.length - 5, 1);
    expect(await raw(port, { 'grpc-encoding': 'deflate' }, deflated)).toMatchObject({ status: '0' });
    // 1 MiB of zeros compresses to ~1 KB: the bound is on what it expands to, not on the wire size.
    const bomb = zlib.gzipSync(Buffer.alloc(1024 * 1024));
    const frame = Buffer.concat([Buffer.of(1, 0, 0, 0, 0), bomb]);
    frame.writeUInt32BE(bomb.length, 1);
    expect(bomb.length).toBeLessThan(1024 * 2);
    expect(await raw(port, { 'grpc-encoding': 'gzip' }, frame)).toMatchObject({ status: String(grpc.status.RESOURCE_EXHAUSTED) });
    const big = await status(say(client(port), 'x'.repeat(2000)));
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('grpc.health.v1: Check per service, NOT_FOUND for unknown ones, Watch sees the change at stop', async () => {
    const { server, port } = await start();
    const c = client(port);
    expect(await health(c, '')).toBe(1);
    expect(await health(c, 'test.Echo')).toBe(1);
    expect((await status(health(c, 'other.Service'))).code).toBe(grpc.status.NOT_FOUND);

    const seen: number[] = [];
    const watch = c.makeServerStreamRequest(
      '/grpc.health.v1.Health/Watch',
      (b: Buffer) => b,
      (b: Buffer) => (b.length === 0 ? 0 : b[1]),
      Buffer.concat([Buffer.of(0x0a, 9), Buffer.from('test.Echo')]),
    );
    const ended = new Promise<number>((resolve) => {
      watch.on('data', (s: number) => seen.push(s));
      watch.on('error', (e: grpc.ServiceError) => resolve(e.code));
      watch.on('end', () => resolve(-1));
    });
    await new Promise<void>((resolve) => watch.once('data', () => resolve()));
    servers.splice(servers.indexOf(server), 1);
    await server.close(500);
    expect(await ended).toBe(grpc.status.UNAVAILABLE);
    expect(seen).toEqual([1, 2]); // SERVING, then NOT_SERVING
  });

  it('stop is graceful: a call in flight finishes with its answer, new connections are refused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let atHandler!: () => void;
    const arrived = new Promise<void>((r) => (atHandler = r));
    const { server, port } = await start(echo(gate, () => atHandler()));
    const c = client(port);
    expect(await say(c, 'warm')).toBe('WARM');
    const inFlight = say(c, 'wait-a-bit');
    await arrived;
    servers.splice(servers.indexOf(server), 1);
    const closing = server.close(5000);
    release();
    expect(await inFlight).toBe('WAIT-A-BIT');
    await closing;
    const refused = await status(say(client(port), 'late', { deadline: Date.now() + 1000 }));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(refused.code);
  });

  it('200 concurrent calls on one connection are all answered, each with its own reply', async () => {
    const { port } = await start();
    const c = client(port);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => say(c, `n${i}`)));
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `N${i}`));
  });
});
