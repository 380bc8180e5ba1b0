/**
 * Child process of bench:ratelimit-transport: one rate limit server on one transport, so that the
 * parent can read this process's CPU time and RSS from /proc/<pid>. Argument 1 is the transport
 * (`grpc-js` | `h2`), argument 2 the handler (`real`: Banyan's RateLimiter with the memory backend,
 * imported from src/ratelimit; `noop`: a constant response, the transport's ceiling).
 *
 * Over IPC it sends `{ port }` once listening, and answers `{ type: 'counts' }` with the calls it
 * handled and, for `real`, the limiter's own counters (hits, over limit, backend errors).
 *
 * `h2` is the lean gRPC unary server Banyan ships (src/grpc/unary-server.ts; `real` is the
 * RateLimitServer itself); `grpc-js` serves the same limiter through grpc-js, as Banyan did before.
 */
import http2 from 'node:http2';
import { UnaryGrpcServer } from '../src/grpc/unary-server.js';
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

async function startGrpcJs(): Promise<number> {
  // grpc-js with the same handler Banyan served before the lean transport (or a constant answer).
  const { rateLimitServiceDefinition } = await import('../src/proto/grpc.js');
  const server = new grpc.Server();
  const limiter = rls.limiter;
  server.addService(rateLimitServiceDefinition(), {
    ShouldRateLimit: (call: grpc.ServerUnaryCall<RlsRequest, RlsResponse>, cb: grpc.sendUnaryData<RlsResponse>) => {
      calls++;
      if (handler === 'noop') return cb(null, NOOP_ANSWER);
      const arrivedAt = performance.now();
      const d = call.getDeadline();
      const ms = d instanceof Date ? d.getTime() : d;
      const budget: CallBudget = Number.isFinite(ms) ? { arrivedAt, callerDeadlineAt: arrivedAt + (ms - Date.now()) } : { arrivedAt };
      limiter.shouldRateLimit(call.request, budget).then(
        (res) => cb(null, res),
        (err: unknown) => cb({ code: err instanceof RateLimitError ? err.code : grpc.status.INTERNAL, details: (err as Error).message }),
      );
    },
  });
  return new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
}

/** `h2`: the transport Banyan ships (src/grpc/unary-server.ts) — the RateLimitServer itself, or a constant answer on the same server. */
async function startH2(): Promise<number> {
  if (handler !== 'noop') {
    const decide = rls.limiter.shouldRateLimit.bind(rls.limiter);
    rls.limiter.shouldRateLimit = (req, budget) => {
      calls++;
      return decide(req, budget);
    };
    return rls.start(0, '127.0.0.1');
  }
  const resT = messageType('envoy.service.ratelimit.v3.RateLimitResponse');
  const server = new UnaryGrpcServer({
    name: 'bench',
    healthServices: [],
    log,
    methods: [
      {
        path: METHOD,
        decode: (b) => {
          const t = messageType('envoy.service.ratelimit.v3.RateLimitRequest');
          return t.toObject(t.decode(b), TO_OBJECT_OPTIONS);
        },
        encode: (r: RlsResponse) => resT.encode(resT.fromObject(r)).finish(),
        handle: () => {
          calls++;
          return Promise.resolve(NOOP_ANSWER);
        },
      },
    ],
  });
  return server.listen('127.0.0.1', 0);
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
