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
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos, messageType, TO_OBJECT_OPTIONS } from '../src/proto/envoy.js';
import { parseRateLimitYaml } from '../src/config/ratelimit/parse.js';
import { createRedisClient, RedisBackend } from '../src/ratelimit/backend/redis.js';
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
if (!['grpc-js', 'h2', 'connect'].includes(transport ?? '') || !['real', 'noop', 'redis'].includes(handler ?? '')) {
  console.error('usage: ratelimit-transport-server <grpc-js|h2|connect> <real|noop|redis> (redis: BENCH_REDIS_URL)');
  process.exit(2);
}

loadEnvoyProtos();
const log = createLogger('bench', 'silent');
// The real handler: Banyan's RateLimitServer (for grpc-js, as served today) or its RateLimiter alone
// behind the lean path; the same limiter code, memory backend, same config either way.
// `redis`: the same limiter on Banyan's Redis backend (BENCH_REDIS_URL), failure mode deny so that a
// backend error is a failed call, never a silent pass.
const redisBackend = handler === 'redis' ? new RedisBackend(createRedisClient({ url: process.env.BENCH_REDIS_URL! })) : undefined;
const rls = createRateLimitServer({ domains: DOMAINS, log, ...(redisBackend ? { backend: redisBackend, failureMode: 'deny' as const } : {}) });
if (redisBackend) await redisBackend.ready();
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

/** grpc-message: UTF-8, percent-encoding only '%' and bytes outside 0x20–0x7E (the gRPC HTTP/2 spec). */
function grpcMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

async function startGrpcJs(): Promise<number> {
  if (handler !== 'noop') {
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
    if (message) trailers['grpc-message'] = grpcMessage(message);
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

/**
 * Imports a package that is not a dependency of Banyan: from node_modules when present, else from
 * BENCH_CONNECT_DIR (a directory where `npm install @connectrpc/connect-node@2` was run).
 */
export async function importOptional(name: string): Promise<any> {
  try {
    return await import(name);
  } catch {
    const dir = process.env.BENCH_CONNECT_DIR;
    if (!dir) throw new Error(`${name} is not installed (set BENCH_CONNECT_DIR to a directory where it is)`);
    return import(pathToFileURL(createRequire(`${dir}/package.json`).resolve(name)).href);
  }
}

/**
 * @connectrpc/connect-node (gRPC protocol only) on node:http2. Connect needs a @bufbuild/protobuf
 * DescService: built here at start from the same loaded protobufjs root (the service's transitive
 * closure, one file per package, via protobufjs/ext/descriptor), so no code generation. Its messages
 * are @bufbuild objects (camelCase, enums as numbers, bigint 64-bit), mapped by hand to and from the
 * RateLimiter's object form; dynamic_metadata is not mapped (not used by this bench's config).
 */
async function startConnect(): Promise<number> {
  const req = createRequire(import.meta.url);
  const desc = req('protobufjs/ext/descriptor') as any;
  const bp = await importOptional('@bufbuild/protobuf');
  const wkt = await importOptional('@bufbuild/protobuf/wkt');
  const { connectNodeAdapter } = await importOptional('@connectrpc/connect-node');
  const { ConnectError } = await importOptional('@connectrpc/connect');
  const root = loadEnvoyProtos();
  const svc = root.lookupService('envoy.service.ratelimit.v3.RateLimitService');
  const rt = (f: protobuf.Field): protobuf.Type | protobuf.Enum | null =>
    (f.resolvedType as protobuf.Type | protobuf.Enum | null) ?? (f.type in protobuf.types.defaults ? null : (f.parent as protobuf.Type).lookupTypeOrEnum(f.type));
  const topOf = (t: protobuf.ReflectionObject): protobuf.ReflectionObject => {
    while (t.parent instanceof protobuf.Type) t = t.parent;
    return t;
  };
  const tops = new Set<protobuf.ReflectionObject>();
  const visit = (t: protobuf.ReflectionObject): void => {
    const top = topOf(t);
    if (tops.has(top)) return;
    tops.add(top);
    const walk = (x: protobuf.ReflectionObject): void => {
      if (!(x instanceof protobuf.Type)) return;
      for (const f of x.fieldsArray) {
        const r = rt(f);
        if (r) visit(r);
      }
      x.nestedArray.forEach(walk);
    };
    walk(top);
  };
  svc.resolveAll();
  for (const m of svc.methodsArray) {
    visit(m.resolvedRequestType!);
    visit(m.resolvedResponseType!);
  }
  // protobufjs keeps type names as written; descriptors need them fully qualified.
  const fixNames = (t: protobuf.Type, d: any): void => {
    for (const fd of d.field ?? []) {
      const f = t.fields[fd.name];
      const r = f && rt(f);
      if (!r) continue;
      if (f instanceof protobuf.MapField) {
        const entry = (d.nestedType ?? []).find((n: any) => fd.typeName?.endsWith(n.name));
        if (entry) {
          fd.typeName = `${t.fullName}.${entry.name}`;
          const v = entry.field.find((x: any) => x.name === 'value');
          if (v) v.typeName = r.fullName;
        }
      } else fd.typeName = r.fullName;
    }
    for (const nd of d.nestedType ?? []) {
      const nt = t.nested?.[nd.name];
      if (nt instanceof protobuf.Type) fixNames(nt, nd);
    }
  };
  const byPkg = new Map<string, protobuf.ReflectionObject[]>();
  for (const t of tops) {
    const pkg = t.parent!.fullName.slice(1);
    byPkg.set(pkg, [...(byPkg.get(pkg) ?? []), t]);
  }
  const files: any[] = [];
  for (const [pkg, types] of byPkg) {
    const file = desc.FileDescriptorProto.create({ name: `${pkg}.proto`, package: pkg, syntax: 'proto3' });
    for (const t of types) {
      if (t instanceof protobuf.Enum) file.enumType.push((t as any).toDescriptor());
      else {
        const d = (t as any).toDescriptor('proto3');
        fixNames(t as protobuf.Type, d);
        file.messageType.push(d);
      }
    }
    const deps = new Set<string>();
    const scan = (d: any): void => {
      for (const f of d.field ?? []) {
        if (!f.typeName) continue;
        const p = [...byPkg.keys()].filter((k) => f.typeName.startsWith(`.${k}.`)).sort((a, b) => b.length - a.length)[0];
        if (p && p !== pkg) deps.add(`${p}.proto`);
      }
      (d.nestedType ?? []).forEach(scan);
    };
    file.messageType.forEach(scan);
    file.dependency = [...deps];
    if (pkg === 'envoy.service.ratelimit.v3') file.service.push((svc as any).toDescriptor());
    files.push(file);
  }
  const sorted: any[] = [];
  const seen = new Set<string>();
  const add = (f: any): void => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const d of f.dependency) add(files.find((x) => x.name === d));
    sorted.push(f);
  };
  files.forEach(add);
  const set = desc.FileDescriptorSet.encode(desc.FileDescriptorSet.create({ file: sorted })).finish();
  const registry = bp.createFileRegistry(bp.fromBinary(wkt.FileDescriptorSetSchema, set));
  const service = registry.getService('envoy.service.ratelimit.v3.RateLimitService');

  const unitEnum = root.lookupEnum('envoy.type.v3.RateLimitUnit');
  const codeEnum = root.lookupEnum('envoy.service.ratelimit.v3.RateLimitResponse.Code');
  const toRls = (m: any): RlsRequest => ({
    domain: m.domain,
    hits_addend: m.hitsAddend,
    descriptors: m.descriptors.map((d: any) => ({
      entries: d.entries.map((e: any) => ({ key: e.key, value: e.value })),
      ...(d.limit ? { limit: { requests_per_unit: d.limit.requestsPerUnit, unit: unitEnum.valuesById[d.limit.unit] } } : {}),
      ...(d.hitsAddend ? { hits_addend: { value: Number(d.hitsAddend.value) } } : {}),
    })),
  });
  const fromRls = (r: RlsResponse): any => ({
    overallCode: codeEnum.values[r.overall_code],
    statuses: r.statuses.map((s) => ({
      code: codeEnum.values[s.code],
      ...(s.current_limit ? { currentLimit: { name: s.current_limit.name ?? '', requestsPerUnit: s.current_limit.requests_per_unit, unit: unitEnum.values[s.current_limit.unit] } } : {}),
      limitRemaining: s.limit_remaining ?? 0,
      ...(s.duration_until_reset ? { durationUntilReset: { seconds: BigInt(s.duration_until_reset.seconds), nanos: s.duration_until_reset.nanos ?? 0 } } : {}),
    })),
    responseHeadersToAdd: (r.response_headers_to_add ?? []).map((h) => ({ key: h.key, value: h.value })),
  });
  const noop = fromRls(NOOP_ANSWER);
  const limiter = rls.limiter;
  const handlerFn = async (m: any, ctx: any): Promise<any> => {
    const arrivedAt = performance.now();
    calls++;
    const request = toRls(m);
    if (handler === 'noop') return noop;
    const timeoutMs: number | undefined = ctx.timeoutMs();
    try {
      return fromRls(await limiter.shouldRateLimit(request, timeoutMs === undefined ? { arrivedAt } : { arrivedAt, callerDeadlineAt: arrivedAt + timeoutMs }));
    } catch (err) {
      // gRPC and Connect codes share their numbers.
      if (err instanceof RateLimitError) throw new ConnectError(err.message, err.code);
      throw err;
    }
  };
  const server = http2.createServer(
    { settings: { maxConcurrentStreams: 1000 } },
    connectNodeAdapter({ grpc: true, grpcWeb: false, connect: false, routes: (router: any) => router.service(service, { shouldRateLimit: handlerFn }) }),
  );
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

const port = transport === 'grpc-js' ? await startGrpcJs() : transport === 'h2' ? await startH2() : await startConnect();
process.on('message', (msg: { type?: string }) => {
  if (msg?.type !== 'counts') return;
  void (async () => {
    const m = rls.limiter.metrics;
    process.send!({
      type: 'counts',
      calls,
      hits: handler !== 'noop' ? await counterTotal(m.totalHits) : 0,
      overLimit: handler !== 'noop' ? await counterTotal(m.overLimit) : 0,
      backendErrors: handler !== 'noop' ? await counterTotal(m.backendErrors) : 0,
    });
  })();
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'listening', port });
