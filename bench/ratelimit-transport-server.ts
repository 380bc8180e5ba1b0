/**
 * Child process of bench:ratelimit-transport: one rate limit server on one transport, so that the
 * parent can read this process's CPU time and RSS from /proc/<pid>. Argument 1 is the transport
 * (`grpc-js` | `h2`), argument 2 the handler (`real`: Banyan's RateLimiter with the memory backend,
 * imported from src/ratelimit; `noop`: a constant response, the transport's ceiling).
 *
 * Over IPC it sends `{ port }` once listening, and answers `{ type: 'counts' }` with the calls it
 * handled and, for `real`, the limiter's own counters (hits, over limit, backend errors).
 *
 * `h2` is the lean gRPC unary path: node:http2, the protobufjs codecs of the loaded protos (looked up
 * once, so protobufjs's generated encode/decode/fromObject/toObject run per call), 5-byte framing,
 * `grpc-status`/`grpc-message` trailers, `grpc-timeout` honoured as the call's deadline, and
 * grpc.health.v1.Health/Check answered SERVING.
 */
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos, messageType, TO_OBJECT_OPTIONS } from '../src/proto/envoy.js';
import { parseRateLimitYaml } from '../src/config/ratelimit/parse.js';
import { createRateLimitServer } from '../src/ratelimit/server.js';
import { RateLimitError, type CallBudget } from '../src/ratelimit/service.js';
import type { RlsRequest, RlsResponse } from '../src/ratelimit/types.js';
import { createLogger } from '../src/telemetry/logger.js';
import { counterTotal } from './support/counters.js';

const METHOD = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const DOMAINS = parseRateLimitYaml(
  'domain: bench\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 1000000 }\n',
  'bench.yaml',
).domains;
const NOOP_ANSWER: RlsResponse = { overall_code: 'OK', statuses: [{ code: 'OK' }] };

const transport = process.argv[2];
const handler = process.argv[3];
if (!['grpc-js', 'h2'].includes(transport ?? '') || !['real', 'noop'].includes(handler ?? '')) {
  console.error('usage: ratelimit-transport-server <grpc-js|h2> <real|noop>');
  process.exit(2);
}

loadEnvoyProtos();
const log = createLogger('bench', 'silent');
// The real handler: Banyan's RateLimitServer (for grpc-js, as served today) or its RateLimiter alone
// behind the lean path; the same limiter code, memory backend, same config either way.
const rls = createRateLimitServer({ domains: DOMAINS, log });
let calls = 0;

/** grpc-timeout: 1–8 ASCII digits and a unit (H, M, S, m, u, n), as in the gRPC HTTP/2 protocol. */
export function parseGrpcTimeoutMs(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return n / 1000;
    default: return n / 1e6;
  }
}

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

async function startGrpcJs(): Promise<number> {
  if (handler === 'real') {
    // Count calls around the server's own handler without changing it: wrap the limiter's entry.
    const decide = rls.limiter.shouldRateLimit.bind(rls.limiter);
    rls.limiter.shouldRateLimit = (req, budget) => {
      calls++;
      return decide(req, budget);
    };
    return rls.start(0, '127.0.0.1');
  }
  const { rateLimitServiceDefinition } = await import('../src/proto/grpc.js');
  const server = new grpc.Server();
  server.addService(rateLimitServiceDefinition(), {
    ShouldRateLimit: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls++;
      cb(null, NOOP_ANSWER);
    },
  });
  return new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
}

function startH2(): Promise<number> {
  const reqT = messageType('envoy.service.ratelimit.v3.RateLimitRequest');
  const resT = messageType('envoy.service.ratelimit.v3.RateLimitResponse');
  const healthServing = grpcFrame(Uint8Array.of(0x08, 0x01)); // HealthCheckResponse{status: SERVING}
  const limiter = rls.limiter;
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

  const finish = (stream: http2.ServerHttp2Stream, body: Buffer | undefined, code: number, message?: string): void => {
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(code) };
    if (message) trailers['grpc-message'] = encodeURIComponent(message);
    if (!stream.headersSent) {
      if (body === undefined) {
        // Trailers-only response: status in the (only) HEADERS frame.
        stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
        return;
      }
      stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(body);
  };

  server.on('stream', (stream, headers) => {
    const arrivedAt = performance.now();
    const path = headers[':path'];
    const ct = headers['content-type'];
    if (headers[':method'] !== 'POST' || typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (path !== METHOD && path !== HEALTH_CHECK) {
      finish(stream, undefined, grpc.status.UNIMPLEMENTED, `unknown method ${String(path)}`);
      return;
    }
    const timeoutMs = parseGrpcTimeoutMs(headers['grpc-timeout'] as string | undefined);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      // The caller gives up at its deadline; so do we (DEADLINE_EXCEEDED, as grpc-js does).
      timer = setTimeout(() => finish(stream, undefined, grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), timeoutMs);
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => timer && clearTimeout(timer));
    stream.on('end', () => {
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (data.length < 5 || data[0] !== 0 || data.readUInt32BE(1) !== data.length - 5) {
        if (timer) clearTimeout(timer);
        finish(stream, undefined, data.length >= 1 && data[0] !== 0 ? grpc.status.UNIMPLEMENTED : grpc.status.INTERNAL, data[0] ? 'compression not supported' : 'malformed gRPC frame');
        return;
      }
      if (path === HEALTH_CHECK) {
        if (timer) clearTimeout(timer);
        finish(stream, healthServing, grpc.status.OK);
        return;
      }
      calls++;
      let request: RlsRequest;
      try {
        request = reqT.toObject(reqT.decode(data.subarray(5)), TO_OBJECT_OPTIONS) as RlsRequest;
      } catch (err) {
        if (timer) clearTimeout(timer);
        finish(stream, undefined, grpc.status.INTERNAL, `cannot decode request: ${(err as Error).message}`);
        return;
      }
      const answer = (res: RlsResponse): void => {
        if (timer) clearTimeout(timer);
        finish(stream, grpcFrame(resT.encode(resT.fromObject(res)).finish()), grpc.status.OK);
      };
      if (handler === 'noop') {
        answer(NOOP_ANSWER);
        return;
      }
      const budget: CallBudget = timeoutMs === undefined ? { arrivedAt } : { arrivedAt, callerDeadlineAt: arrivedAt + timeoutMs };
      limiter.shouldRateLimit(request, budget).then(answer, (err: unknown) => {
        if (timer) clearTimeout(timer);
        if (err instanceof RateLimitError) finish(stream, undefined, err.code, err.message);
        else finish(stream, undefined, grpc.status.INTERNAL, (err as Error).message);
      });
    });
  });
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

const port = transport === 'grpc-js' ? await startGrpcJs() : await startH2();
process.on('message', (msg: { type?: string }) => {
  if (msg?.type !== 'counts') return;
  void (async () => {
    const m = rls.limiter.metrics;
    process.send!({
      type: 'counts',
      calls,
      hits: handler === 'real' ? await counterTotal(m.totalHits) : 0,
      overLimit: handler === 'real' ? await counterTotal(m.overLimit) : 0,
      backendErrors: handler === 'real' ? await counterTotal(m.backendErrors) : 0,
    });
  })();
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'listening', port });
