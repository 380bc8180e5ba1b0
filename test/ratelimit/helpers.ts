import * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos } from '../../src/proto/envoy.js';
import { rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { RateLimiter, type RateLimitServiceOptions } from '../../src/ratelimit/service.js';
import type { RlsDescriptor, RlsRequest, RlsResponse } from '../../src/ratelimit/types.js';

/** A limiter on the memory backend with the clock pinned (mid-window unless told otherwise). */
export function limiterFor(yaml: string, opts: RateLimitServiceOptions & { at?: number } = {}): { rl: RateLimiter; clock: { now: number } } {
  const { domains, diagnostics } = parseRateLimitYaml(yaml, 'test.yaml');
  if (diagnostics.length) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const clock = { now: opts.at ?? 1_700_000_000_500 };
  return { rl: new RateLimiter({ now: () => clock.now, ...opts, domains }), clock };
}

/** A request: each descriptor written as [["key","value"], ...]. */
export function req(domain: string, ...descriptors: ([string, string][] | RlsDescriptor)[]): RlsRequest {
  return {
    domain,
    descriptors: descriptors.map((d) => (Array.isArray(d) ? { entries: d.map(([key, value]) => ({ key, value })) } : d)),
  };
}

/** Codes of `n` successive calls of the same request. */
export async function codes(rl: RateLimiter, request: RlsRequest, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await rl.shouldRateLimit(request)).overall_code);
  return out;
}

export async function metricValue(rl: RateLimiter, name: string, key: string): Promise<number> {
  const m = await rl.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => v.labels.key === key)?.value ?? 0;
}

/** A grpc-js client acting as Envoy's ratelimit filter (rls.proto messages). */
/** A ShouldRateLimit client; `ownConnection` keeps grpc-js from sharing one connection among clients of one address. */
export function rlsClient(port: number, ownConnection = false): { call(r: RlsRequest, deadlineMs?: number): Promise<RlsResponse>; close(): void } {
  loadEnvoyProtos();
  const Ctor = grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RateLimitService');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}) as unknown as grpc.Client & {
    ShouldRateLimit(r: RlsRequest, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: RlsResponse) => void): void;
  };
  return {
    call: (r, deadlineMs = 10_000) =>
      new Promise((resolve, reject) => client.ShouldRateLimit(r, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)))),
    close: () => client.close(),
  };
}
