/**
 * bench:authz — Check throughput and latency of the authz service against same-run ceilings:
 *   - gRPC ceiling: a grpc-js server with the same service definition whose handler does no work;
 *   - jose raw verify rate: jwtVerify in a tight loop in this process, per algorithm.
 * The ceiling and the hot cached token are driven by h2load (one body fits every request): peak
 * closed loop, latency open loop at half of each row's own peak. Fresh tokens need a different
 * request each call, so they keep a light Node generator (bench/authz-load.ts) over a pool of
 * pre-signed, pre-encoded requests with the token cache disabled, interleaved with jose's raw rate.
 * Targets: cached ≥ 70% of the gRPC ceiling; fresh ≥ 60% of jose raw.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { importJWK, jwtVerify } from 'jose';
import type { Counter } from 'prom-client';
import { createAuthzServer, type AuthzServer } from '../src/authz/server.js';
import { encodeMessage } from '../src/proto/envoy.js';
import { authorizationServiceDefinition } from '../src/proto/grpc.js';
import { makeKey, provider, sign, checkRequest, ISSUER, AUDIENCE, type TestKey } from '../test/authz/helpers.js';
import type { LoadJob, LoadResult } from './authz-load.js';
import { fmt, pct, verdict } from './support/format.js';
import { probeCall, writeGrpcBody } from './support/grpc-frame.js';
import { closedLoop, openLoop, type GrpcTarget } from './support/h2load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = 1;
const FRESH_MS = Number(process.env.BENCH_AUTHZ_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_AUTHZ_ROUNDS ?? 3);
const WARMUP_MS = 500;
const CONNECTIONS = 4;
const STREAMS = 16;
const NODE_CONNECTIONS = 2;
const NODE_CONCURRENCY = 32;
const FRESH_TOKENS = 300;
const METHOD = '/envoy.service.auth.v3.Authorization/Check';
const REQUEST_TYPE = 'envoy.service.auth.v3.CheckRequest';
const ALGS = [
  ['RS256', 'rs'],
  ['ES256', 'es'],
  ['EdDSA', 'ed'],
] as const;

class NodeLoadGenerator {
  private child: ChildProcess = fork(new URL('./authz-load.js', import.meta.url), { stdio: 'inherit', serialization: 'advanced' });

  run(port: number, requests: Buffer[]): Promise<LoadResult> {
    const job: LoadJob = { port, method: METHOD, requests, connections: NODE_CONNECTIONS, concurrency: NODE_CONCURRENCY, durationMs: FRESH_MS, warmupMs: WARMUP_MS };
    return new Promise((resolve, reject) => {
      this.child.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) => (m.ok ? resolve(m.result!) : reject(new Error(m.error))));
      this.child.send(job);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

interface Target {
  port: number;
  stop(): Promise<void>;
}

async function noopServer(): Promise<Target> {
  const server = new grpc.Server();
  const ok = { status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [] } };
  server.addService(authorizationServiceDefinition(), { Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, ok) });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { port, stop: async () => server.forceShutdown() };
}

/** Allowed/denied checks so far, from the server's own counter: proof that answers were allows. */
async function verdicts(server: AuthzServer): Promise<{ allowed: number; denied: number }> {
  const counter = server.registry.getSingleMetric('banyan_authz_checks_total') as Counter<string>;
  const out = { allowed: 0, denied: 0 };
  for (const v of (await counter.get()).values) out[v.labels.result === 'allowed' ? 'allowed' : 'denied'] += v.value;
  return out;
}

/** Runs `fn` and throws unless the server allowed at least `minAllowed(result)` checks and denied none. */
async function allAllowed<T>(name: string, server: AuthzServer, fn: () => Promise<T>, minAllowed: (r: T) => number): Promise<T> {
  const before = await verdicts(server);
  const result = await fn();
  const after = await verdicts(server);
  const allowed = after.allowed - before.allowed;
  const denied = after.denied - before.denied;
  if (denied || allowed < minAllowed(result)) throw new Error(`${name}: server allowed ${allowed} and denied ${denied} checks for ${minAllowed(result)} answers`);
  return result;
}

/** jwtVerify back to back over the same token pool, with the key already imported (jose's best case). */
async function joseRaw(key: TestKey, tokens: string[]): Promise<Sample> {
  const publicKey = await importJWK(key.jwk, key.alg);
  const opts = { issuer: ISSUER, audience: AUDIENCE, algorithms: [key.alg] };
  const warmEnd = performance.now() + WARMUP_MS;
  for (let i = 0; performance.now() < warmEnd; i++) await jwtVerify(tokens[i % tokens.length], publicKey, opts);
  const lat: number[] = [];
  const started = performance.now();
  const end = started + FRESH_MS;
  for (let i = 0; performance.now() < end; i++) {
    const t0 = performance.now();
    await jwtVerify(tokens[i % tokens.length], publicKey, opts);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / ((performance.now() - started) / 1000), p50Ms: lat[Math.ceil(lat.length / 2) - 1], p99Ms: lat[Math.ceil(lat.length * 0.99) - 1] };
}

interface Sample {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  halfP99Ms?: number;
}

const median = <T>(xs: T[], by: (x: T) => number): T => [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)];

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-authz-'));
  const load = new NodeLoadGenerator();
  const targets: Target[] = [];
  try {
    const keys = await Promise.all(ALGS.map(([alg, kid]) => makeKey(alg, kid)));
    const jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
    const p = provider({ jwks: { kind: 'file', path: jwksFile } });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const hot = writeGrpcBody(dir, 'check-hot', REQUEST_TYPE, checkRequest({ authorization: `Bearer ${await sign(keys[1], { exp })}` }));
    const pools = await Promise.all(keys.map((key) => Promise.all(Array.from({ length: FRESH_TOKENS }, (_, i) => sign(key, { sub: `u${i}`, exp })))));
    const encodedPools = pools.map((pool) => pool.map((t) => Buffer.from(encodeMessage(REQUEST_TYPE, checkRequest({ authorization: `Bearer ${t}` })))));

    const noop = await noopServer();
    targets.push(noop);
    const cachedServer = createAuthzServer({ providers: [p], cacheSize: 10_000 });
    await cachedServer.authorizer.ready();
    const cached = { port: await cachedServer.start(0, '127.0.0.1'), stop: () => cachedServer.stop() };
    targets.push(cached);
    const freshServer = createAuthzServer({ providers: [p], cacheSize: 0 });
    await freshServer.authorizer.ready();
    const fresh = { port: await freshServer.start(0, '127.0.0.1'), stop: () => freshServer.stop() };
    targets.push(fresh);

    const h2 = async (name: string, port: number): Promise<Sample & { failed: number; offered: number }> => {
      const answer = await probeCall<{ status?: { code?: number }; ok_response?: unknown }>(port, METHOD, hot.message, 'envoy.service.auth.v3.CheckResponse');
      if ((answer.status?.code ?? 0) !== 0 || !answer.ok_response) throw new Error(`${name}: probe answered ${JSON.stringify(answer)}, expected an allow`);
      const t: GrpcTarget = { port, method: METHOD, bodyFile: hot.file };
      const peak = await closedLoop(t, { connections: CONNECTIONS, streams: STREAMS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
      const half = await openLoop(t, { rate: Math.round(peak.perSecond / 2), seconds: SECONDS, warmupSeconds: WARMUP_SECONDS });
      return { perSecond: peak.perSecond, p50Ms: peak.p50Ms, p99Ms: peak.p99Ms, halfP99Ms: half.p99Ms, failed: peak.failed + half.failed, offered: half.offered };
    };
    const ceiling = await h2('ceiling', noop.port);
    const hotCached = await allAllowed('cached', cachedServer, () => h2('cached', cached.port), (r) => r.perSecond * SECONDS);

    // Fresh and raw alternate within each round and the median round is reported: interleaving
    // keeps a load spike on this shared machine from landing on one side of a ratio.
    const samples = new Map<string, Sample[]>();
    const add = (name: string, r: Sample) => samples.set(name, [...(samples.get(name) ?? []), r]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, key] of keys.entries()) {
        add(`raw ${key.alg}`, await joseRaw(key, pools[i]));
        const r = await allAllowed(`fresh ${key.alg}`, freshServer, () => load.run(fresh.port, encodedPools[i]), (x) => x.calls);
        if (r.errors) throw new Error(`fresh ${key.alg}: ${r.errors} calls failed`);
        add(`fresh ${key.alg}`, r);
      }
    }
    const m = (name: string) => median(samples.get(name)!, (s) => s.perSecond);

    console.log(
      `ceiling and cached: h2load, peak closed loop ${CONNECTIONS} connections × ${STREAMS} streams, half = open loop at half the row's own peak; ${SECONDS}s after ${WARMUP_SECONDS}s warm-up.\n` +
        `fresh: Node generator, ${NODE_CONNECTIONS} connections, ${NODE_CONCURRENCY} in flight, ${FRESH_TOKENS} pre-signed tokens per algorithm, token cache off; median of ${ROUNDS} rounds of ${FRESH_MS} ms interleaved with jose raw.\n` +
        `${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}; half-peak offered: ceiling ${fmt(ceiling.offered)}/s, cached ${fmt(hotCached.offered)}/s; failed h2load streams: ${ceiling.failed + hotCached.failed}\n`,
    );
    console.log('| scenario | checks/s | p50 ms | p99 ms | p99 ms at half peak | ratio |');
    console.log('|---|---:|---:|---:|---:|---|');
    const row = (name: string, r: Sample, vs: string) => console.log(`| ${name} | ${fmt(r.perSecond)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${r.halfP99Ms === undefined ? '' : fmt(r.halfP99Ms, 3)} | ${vs} |`);
    row('gRPC ceiling (no-op handler), h2load', ceiling, 'baseline');
    row('authz, hot cached token, h2load', hotCached, `${pct(hotCached.perSecond, ceiling.perSecond)} of gRPC ceiling (target ≥ 70%: ${verdict(hotCached.perSecond >= 0.7 * ceiling.perSecond)})`);
    for (const key of keys) {
      const raw = m(`raw ${key.alg}`);
      const f = m(`fresh ${key.alg}`);
      row(`jose jwtVerify ${key.alg}, sequential in-process`, raw, 'baseline');
      row(`authz, fresh ${key.alg} token each call, Node generator`, f, `${pct(f.perSecond, raw.perSecond)} of jose raw (target ≥ 60%: ${verdict(f.perSecond >= 0.6 * raw.perSecond)})`);
    }
  } finally {
    for (const t of targets) await t.stop();
    load.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
