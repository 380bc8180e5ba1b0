/**
 * A lean gRPC server for unary methods on node:http2, for the services on Envoy's request path (rate
 * limit), where the transport's CPU per call decides how many decisions a core makes. Measured side
 * by side on the same handler (bench:ratelimit-transport) it made 1.7× the calls per CPU-second of
 * grpc-js, which spends most of a small call in its own per-call machinery (metadata objects,
 * interceptors, channelz, several promises and streams per call).
 *
 * What a gRPC server owes its clients is kept: status and message in trailers (trailers-only for
 * errors), grpc-timeout as the call's deadline (DEADLINE_EXCEEDED at it), gzip/deflate requests,
 * the 4 MiB receive limit, UNIMPLEMENTED for unknown methods, grpc.health.v1 (Check, Watch, List),
 * TLS/mTLS from files that are followed, and a graceful stop (GOAWAY, in-flight calls finish).
 */
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { decodeHealthRequest, encodeHealthList, encodeHealthResponse, HEALTH_PATHS, HealthStatus } from './health.js';
import { assertSecureBind, secureContextOptions, TlsFileWatcher, type Transport, type TlsWatchOptions } from './tls.js';
import { ACCEPTED_ENCODINGS, DEFAULT_MAX_RECEIVE_BYTES, encodeGrpcMessage, FrameError, frameMessage, GrpcCode, parseGrpcTimeout, unaryMessage } from './wire.js';


/** What a handler knows about its call. Times are performance.now() milliseconds. */
export interface UnaryCall {
  arrivedAt: number;
  /** The caller's deadline (from grpc-timeout), when it gave one. */
  deadlineAt?: number;
  headers: http2.IncomingHttpHeaders;
  /** The connection's socket (a TLSSocket when served over TLS), e.g. for the peer's certificate. */
  socket: Socket | TLSSocket;
}

export interface UnaryMethod<Req = unknown, Res = unknown> {
  /** '/package.Service/Method' */
  path: string;
  decode(bytes: Buffer): Req;
  encode(res: Res): Uint8Array;
  handle(req: Req, call: UnaryCall): Promise<Res>;
}

/** A handler's error as a gRPC status; anything else is INTERNAL (and logged). */
export interface GrpcStatus {
  code: number;
  message: string;
}

export interface UnaryServerOptions {
  /** Named in logs and in the plaintext-off-loopback refusal. */
  name: string;
  methods: UnaryMethod<any, any>[];
  /** grpc.health.v1 service names besides "" (all SERVING until stop). */
  healthServices: readonly string[];
  /** Maps a handler's rejection to its status; undefined = INTERNAL. */
  statusOf?: (err: unknown) => GrpcStatus | undefined;
  maxReceiveBytes?: number;
  log: Logger;
}

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': ACCEPTED_ENCODINGS };
const OK_TRAILERS: http2.OutgoingHttpHeaders = { 'grpc-status': '0' };
const ignore = (): void => undefined;

export class UnaryGrpcServer {
  readonly health: HealthStatus;
  private readonly methods = new Map<string, UnaryMethod<any, any>>();
  private readonly maxReceiveBytes: number;
  private server?: http2.Http2Server | http2.Http2SecureServer;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly watches = new Set<http2.ServerHttp2Stream>();
  private watcher?: TlsFileWatcher;
  private stopping = false;

  constructor(private readonly opts: UnaryServerOptions) {
    for (const m of opts.methods) this.methods.set(m.path, m);
    this.health = new HealthStatus(opts.healthServices);
    this.maxReceiveBytes = opts.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES;
  }

  /** Binds host:port (0 = any free port), TLS or plaintext per `transport`; resolves with the port. */
  async listen(host: string, port: number, transport: Transport = {}, tlsOpts: TlsWatchOptions = {}): Promise<number> {
    assertSecureBind(this.opts.name, host, transport);
    let server: http2.Http2Server | http2.Http2SecureServer;
    if (transport.tls) {
      const files = transport.tls;
      const watcher = await TlsFileWatcher.open(files, { logger: this.opts.log, ...tlsOpts });
      // A rotation reaches new connections; open ones keep the certificate they started with.
      const secure = http2.createSecureServer({ ...secureContextOptions(files, watcher.material), ALPNProtocols: ['h2'], allowHTTP1: false });
      watcher.onChange((m) => secure.setSecureContext(secureContextOptions(files, m)));
      this.watcher = watcher;
      server = secure;
    } else {
      server = http2.createServer();
    }
    server.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.on('error', ignore);
      s.once('close', () => this.sessions.delete(s));
      if (this.stopping) s.close();
    });
    server.on('sessionError', ignore);
    // A failed TLS handshake (a client without a valid certificate) is the client's problem.
    server.on('tlsClientError', ignore);
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.watcher?.close();
      this.watcher = undefined;
      throw new Error(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
    server.on('error', (err) => this.opts.log.error({ err }, `${this.opts.name}: server error`));
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const arrivedAt = performance.now();
    stream.on('error', ignore);
    const path = headers[':path'] as string;
    const ct = headers['content-type'];
    if (headers[':method'] !== 'POST') return void stream.respond({ ':status': 405 }, { endStream: true });
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return void stream.respond({ ':status': 415 }, { endStream: true });
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    if (Number.isNaN(timeoutMs)) return fail(stream, GrpcCode.INTERNAL, `malformed grpc-timeout: ${String(headers['grpc-timeout'])}`);
    const encoding = headers['grpc-encoding'] as string | undefined;
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      return fail(stream, GrpcCode.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported (supported: ${ACCEPTED_ENCODINGS})`);
    }
    const method = this.methods.get(path);
    const health = method ? undefined : path === HEALTH_PATHS.check || path === HEALTH_PATHS.watch || path === HEALTH_PATHS.list ? path : undefined;
    if (!method && !health) return fail(stream, GrpcCode.UNIMPLEMENTED, `the method ${path} is not implemented`);

    const deadlineAt = timeoutMs === undefined ? undefined : arrivedAt + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined && health !== HEALTH_PATHS.watch) {
      // The caller stops waiting at its deadline; so does the call (as every gRPC server does).
      timer = setTimeout(() => fail(stream, GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded'), timeoutMs);
      stream.once('close', () => clearTimeout(timer));
    }

    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      if (size > this.maxReceiveBytes + 5) return; // already answered; the rest is read and dropped
      size += c.length;
      if (size > this.maxReceiveBytes + 5) return fail(stream, GrpcCode.RESOURCE_EXHAUSTED, `received message larger than max (${this.maxReceiveBytes})`);
      chunks.push(c);
    });
    stream.once('end', () => {
      if (stream.headersSent || stream.closed) return;
      let message: Buffer;
      try {
        message = unaryMessage(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), encoding, this.maxReceiveBytes);
      } catch (err) {
        if (err instanceof FrameError) return fail(stream, err.code, err.message);
        throw err;
      }
      if (health) return this.serveHealth(stream, health, message);
      let req: unknown;
      try {
        req = method!.decode(message);
      } catch (err) {
        return fail(stream, GrpcCode.INTERNAL, `cannot decode the request: ${(err as Error).message}`);
      }
      const call: UnaryCall = { arrivedAt, ...(deadlineAt !== undefined ? { deadlineAt } : {}), headers, socket: stream.session!.socket as Socket };
      method!.handle(req, call).then(
        (res) => {
          if (stream.headersSent || stream.closed || stream.destroyed) return;
          let body: Buffer;
          try {
            body = frameMessage(method!.encode(res));
          } catch (err) {
            this.opts.log.error({ err, method: path }, `${this.opts.name}: cannot encode the response`);
            return fail(stream, GrpcCode.INTERNAL, `cannot encode the response: ${(err as Error).message}`);
          }
          reply(stream, body);
        },
        (err: unknown) => {
          const status = this.opts.statusOf?.(err);
          if (status) return fail(stream, status.code, status.message);
          this.opts.log.error({ err, method: path }, `${this.opts.name}: handler failed`);
          fail(stream, GrpcCode.INTERNAL, (err as Error)?.message ?? String(err));
        },
      );
    });
  }

  private serveHealth(stream: http2.ServerHttp2Stream, path: string, message: Buffer): void {
    let service: string;
    try {
      service = path === HEALTH_PATHS.list ? '' : decodeHealthRequest(message);
    } catch (err) {
      return fail(stream, GrpcCode.INTERNAL, `cannot decode the request: ${(err as Error).message}`);
    }
    if (path === HEALTH_PATHS.list) return reply(stream, frameMessage(encodeHealthList(this.health.list())));
    const status = this.health.get(service);
    if (path === HEALTH_PATHS.check) {
      if (status === undefined) return fail(stream, GrpcCode.NOT_FOUND, `unknown service ${service}`);
      return reply(stream, frameMessage(encodeHealthResponse(status)));
    }
    // Watch: the current status now, then each change, until the caller or the server ends it.
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.write(frameMessage(encodeHealthResponse(status ?? 'SERVICE_UNKNOWN')));
    const unwatch = this.health.watch(service, (s) => stream.write(frameMessage(encodeHealthResponse(s))));
    this.watches.add(stream);
    stream.once('close', () => {
      unwatch();
      this.watches.delete(stream);
    });
  }

  /**
   * Stops taking connections and sends GOAWAY on each open one; calls in flight finish. After
   * `graceMs` whatever is left is closed. Health watchers see NOT_SERVING first, then UNAVAILABLE.
   */
  async close(graceMs = 2000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.stopping = true;
    this.health.set('', 'NOT_SERVING', true);
    for (const w of this.watches) endWatch(w, GrpcCode.UNAVAILABLE, 'the server is shutting down');
    if (server) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of this.sessions) s.destroy();
          resolve();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const s of this.sessions) s.close();
      });
    }
    this.watcher?.close();
    this.watcher = undefined;
  }
}

function reply(stream: http2.ServerHttp2Stream, body: Buffer): void {
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
  stream.end(body);
}

/** A trailers-only response (status in the one HEADERS frame), or trailers after a started response. */
function fail(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.closed || stream.destroyed || stream.writableEnded) return;
  const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
  if (!stream.headersSent) {
    stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
    return;
  }
  endWatch(stream, code, message);
}

function endWatch(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.closed || stream.destroyed || stream.writableEnded) return;
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }));
  stream.end();
}
