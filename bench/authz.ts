/**
 * bench:authz — Check throughput and latency of the authz service against same-run ceilings:
 *   - gRPC ceiling: a grpc-js server with the same service definition whose handler does no work,
 *     driven by the same load generator (a separate process);
 *   - jose raw verify rate: jwtVerify in a tight loop in this process, per algorithm.
 * Scenarios: a hot cached token; a fresh verification every call per algorithm (cache disabled,
 * a pool of distinct tokens). Targets: cached ≥ 70% of the gRPC ceiling; fresh ≥ 60% of jose.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { importJWK, jwtVerify } from 'jose';
import { createAuthzServer } from '../src/authz/server.js';
import { authorizationServiceDefinition } from '../src/proto/grpc.js';
import type { AuthProvider } from '../src/config/model.js';
import { makeKey, provider, sign, checkRequest, ISSUER, AUDIENCE, type TestKey } from '../test/authz/helpers.js';
import type { LoadJob, LoadResult } from './authz-load.js';

const DURATION_MS = Number(process.env.BENCH_AUTHZ_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_AUTHZ_ROUNDS ?? 3);
const WARMUP_MS = 500;
const CONCURRENCY = 32;
const FRESH_TOKENS = 300;
const ALGS = [
  ['RS256', 'rs'],
  ['ES256', 'es'],
  ['EdDSA', 'ed'],
] as const;

class LoadGenerator {
  private child: ChildProcess = fork(new URL('./authz-load.js', import.meta.url), { stdio: 'inherit' });

  run(job: Omit<LoadJob, 'durationMs' | 'warmupMs' | 'concurrency'>): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.child.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) => (m.ok ? resolve(m.result!) : reject(new Error(m.error))));
      this.child.send({ ...job, durationMs: DURATION_MS, warmupMs: WARMUP_MS, concurrency: CONCURRENCY });
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

async function authzServer(p: AuthProvider, cacheSize: number): Promise<Target> {
  const server = createAuthzServer({ providers: [p], cacheSize });
  await server.authorizer.ready();
  const port = await server.start(0, '127.0.0.1');
  return { port, stop: () => server.stop() };
}

/** jwtVerify back to back over the same token pool, with the key already imported (jose's best case). */
async function joseRaw(key: TestKey, tokens: string[]): Promise<{ perSecond: number; p50Ms: number; p99Ms: number }> {
  const publicKey = await importJWK(key.jwk, key.alg);
  const opts = { issuer: ISSUER, audience: AUDIENCE, algorithms: [key.alg] };
  const warmEnd = performance.now() + WARMUP_MS;
  for (let i = 0; performance.now() < warmEnd; i++) await jwtVerify(tokens[i % tokens.length], publicKey, opts);
  const lat: number[] = [];
  const started = performance.now();
  const end = started + DURATION_MS;
  for (let i = 0; performance.now() < end; i++) {
    const t0 = performance.now();
    await jwtVerify(tokens[i % tokens.length], publicKey, opts);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / ((performance.now() - started) / 1000), p50Ms: lat[Math.floor(lat.length / 2)], p99Ms: lat[Math.floor(lat.length * 0.99)] };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const median = <T>(xs: T[], by: (x: T) => number): T => [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)];

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-authz-'));
  const load = new LoadGenerator();
  const targets: Target[] = [];
  try {
    const keys = await Promise.all(ALGS.map(([alg, kid]) => makeKey(alg, kid)));
    const jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
    const p = provider({ jwks: { kind: 'file', path: jwksFile } });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const hot = checkRequest({ authorization: `Bearer ${await sign(keys[1], { exp })}` });
    const pools = await Promise.all(keys.map((key) => Promise.all(Array.from({ length: FRESH_TOKENS }, (_, i) => sign(key, { sub: `u${i}`, exp })))));

    const noop = await noopServer();
    const cachedAuthz = await authzServer(p, 10_000);
    const freshAuthz = await authzServer(p, 0);
    targets.push(noop, cachedAuthz, freshAuthz);

    // Scenarios alternate within each round and the median round is reported: this machine's
    // cores are shared, and interleaving keeps a load spike from landing on one side of a ratio.
    type Sample = { perSecond: number; p50Ms: number; p99Ms: number };
    const samples = new Map<string, Sample[]>();
    const add = (name: string, r: Sample) => samples.set(name, [...(samples.get(name) ?? []), r]);
    const checked = (name: string, r: LoadResult) => {
      if (r.notOk) throw new Error(`${name}: ${r.notOk} checks were denied`);
      return r;
    };
    for (let round = 0; round < ROUNDS; round++) {
      add('ceiling', await load.run({ port: noop.port, requests: [hot] }));
      add('cached', checked('cached', await load.run({ port: cachedAuthz.port, requests: [hot] })));
      for (const [i, key] of keys.entries()) {
        add(`raw ${key.alg}`, await joseRaw(key, pools[i]));
        add(`fresh ${key.alg}`, checked(`fresh ${key.alg}`, await load.run({ port: freshAuthz.port, requests: pools[i].map((t) => checkRequest({ authorization: `Bearer ${t}` })) })));
      }
    }
    const m = (name: string) => median(samples.get(name)!, (s) => s.perSecond);
    const pct = (a: Sample, b: Sample) => `${fmt((100 * a.perSecond) / b.perSecond)}%`;
    const ceiling = m('ceiling');
    const rows: [string, Sample, string][] = [
      ['gRPC ceiling (no-op handler)', ceiling, 'baseline'],
      ['authz, hot cached token', m('cached'), `${pct(m('cached'), ceiling)} of gRPC ceiling (target ≥ 70%)`],
    ];
    for (const key of keys) {
      const raw = m(`raw ${key.alg}`);
      const fresh = m(`fresh ${key.alg}`);
      rows.push([`jose jwtVerify ${key.alg}, sequential in-process`, raw, 'baseline']);
      rows.push([`authz, fresh ${key.alg} token each call`, fresh, `${pct(fresh, raw)} of jose raw (target ≥ 60%); ${pct(fresh, ceiling)} of gRPC ceiling`]);
    }

    console.log(`median of ${ROUNDS} interleaved rounds; ${DURATION_MS} ms per scenario after ${WARMUP_MS} ms warm-up; ${CONCURRENCY} calls in flight from a separate load-generator process; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}\n`);
    console.log('| scenario | checks/s | p50 ms | p99 ms | ratio |');
    console.log('|---|---:|---:|---:|---|');
    for (const [scenario, r, vs] of rows) console.log(`| ${scenario} | ${fmt(r.perSecond)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${vs} |`);
  } finally {
    for (const t of targets) await t.stop();
    load.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
