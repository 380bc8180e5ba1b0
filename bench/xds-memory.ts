/**
 * Where the xDS server's idle RSS goes (issue 13, item 6): `node --expose-gc dist/bench/xds-memory.js`
 * loads what a bench:xds row process loads, one step at a time, and prints RSS, V8 heap, external
 * memory and code space after each (gc() first). No streams are connected: the row's "idle".
 */
import v8 from 'node:v8';

const mb = (b: number) => (b / 1e6).toFixed(1);
interface Step {
  step: string;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  code: number;
}
const steps: Step[] = [];

function sample(step: string): void {
  global.gc?.();
  global.gc?.();
  const m = process.memoryUsage();
  const code = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
  steps.push({ step, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, code });
}

async function main(): Promise<void> {
  if (!global.gc) throw new Error('run with node --expose-gc');
  sample('node, nothing loaded');
  await import('@grpc/grpc-js');
  await import('pino');
  await import('prom-client');
  sample('+ grpc-js, pino, prom-client');
  const proto = await import('../src/proto/envoy.js');
  sample('+ proto module (no .proto parsed)');
  proto.loadEnvoyProtos();
  sample('+ Envoy protos parsed and resolved (protobufjs Root)');
  const { loadConfigFromString } = await import('../src/config/load.js');
  const { compile } = await import('../src/compile/index.js');
  sample('+ config loader and compiler modules (zod schemas, YAML)');
  const { SnapshotCache } = await import('../src/xds/cache.js');
  const { XdsServer } = await import('../src/xds/server.js');
  const { createRegistry } = await import('../src/telemetry/metrics.js');
  sample('+ xDS modules');
  // the bench's config, without importing bench/xds.ts (which loads the side-by-side harness too)
  const { build } = await import('./xds.js');
  sample('+ bench/xds.ts and what it imports (admission, go side-by-side harness)');
  let snap: ReturnType<typeof build> | undefined = build(0);
  sample('+ one compiled snapshot held (1,000 routes, 500 clusters)');
  const registry = createRegistry();
  const cache = new SnapshotCache({ registry });
  cache.setSnapshot(snap);
  sample('+ snapshot encoded in the xDS cache');
  snap = undefined;
  const grpc = await import('@grpc/grpc-js');
  const xds = new XdsServer({ cache, registry });
  const server = new grpc.Server();
  xds.addToServer(server);
  await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  sample('+ XdsServer on a bound grpc.Server (the row\'s idle)');
  void loadConfigFromString;
  void compile;

  console.log('| step | RSS MB | Δ RSS | heap used MB | heap total MB | external MB | code space MB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  let prev = 0;
  for (const s of steps) {
    console.log(`| ${s.step} | ${mb(s.rss)} | ${prev ? `+${mb(s.rss - prev)}` : ''} | ${mb(s.heapUsed)} | ${mb(s.heapTotal)} | ${mb(s.external)} | ${mb(s.code)} |`);
    prev = s.rss;
  }
  const spaces = v8.getHeapSpaceStatistics().map((s) => `${s.space_name} ${mb(s.space_used_size)}/${mb(s.space_size)}`);
  console.log(`\nV8 heap spaces at the end (used/size MB): ${spaces.join(', ')}`);
  server.forceShutdown();
  xds.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
