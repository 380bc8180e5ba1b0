/**
 * bench:ca — what Banyan's CA costs per proxy. N proxies connect over ADS and ask for one Secret:
 * the baseline serves a file certificate (one shared resource); the CA run serves each proxy its own
 * freshly issued workload certificate (key pair, signature, encode per stream). Same process, same
 * clients, same run: the difference is the CA's work. CPU is process CPU (server and clients share it).
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { Admission } from '../src/admission/index.js';
import { certToPem, createCa, issueCert, keyToPem } from '../src/ca/index.js';
import { loadConfigFromString } from '../src/config/load.js';
import { TypeUrl } from '../src/proto/envoy.js';
import { WorkloadSecrets } from '../src/server/workload-secrets.js';
import { SnapshotCache } from '../src/xds/cache.js';
import { XdsServer } from '../src/xds/server.js';
import { xdsServiceDefinition, XDS_SERVICES } from '../src/xds/services.js';
import { fmt } from './support/format.js';

const yaml = (secret: string, ca: boolean) => `${ca ? 'ca: { trustDomain: bench.test }\n' : ''}secrets: ${ca ? '[]' : '[{ name: edge-cert, certFile: edge.crt, keyFile: edge.key }]'}
listeners:
  - name: edge
    port: 10443
    tls: { certificates: [{ secret: ${secret} }] }
    routes: [{ name: all, match: { prefix: / }, to: app }]
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
`;

interface Row {
  label: string;
  wallMs: number;
  cpuMs: number;
}

async function runOnce(n: number, useCa: boolean): Promise<Row> {
  const log = pino({ level: 'silent' });
  const cache = new SnapshotCache({ logger: log });
  const ca = await createCa({ name: 'bench CA' });
  const personal = useCa ? new WorkloadSecrets({ ca: async () => ca, meshCa: () => config.ca, clientCertsVerified: false, allowUnauthenticated: true, log }) : undefined;
  const xds = new XdsServer({ cache, logger: log, personal });
  // A real key pair for the file case, so both cases carry PEM of the same shape.
  const leaf = await issueCert(ca, { dns: ['edge.bench.test'] });
  const pem = { cert: certToPem(leaf.cert), key: await keyToPem(leaf.privateKey) };
  const loaded = loadConfigFromString(yaml(useCa ? 'banyan:workload' : 'edge-cert', useCa), '/bench/edge.yaml', { readFile: (f) => (f.endsWith('.crt') ? pem.cert : pem.key) });
  const config = loaded.config!;
  const admitted = new Admission().admit(config, { file: 'edge.yaml', line: 1, col: 1 });
  if (!admitted.snapshot) throw new Error(JSON.stringify(admitted.diagnostics));
  cache.setSnapshot(admitted.snapshot, admitted.wire);
  const server = new grpc.Server();
  xds.addToServer(server);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const ads = XDS_SERVICES[0];
  const Client = grpc.makeGenericClientConstructor(xdsServiceDefinition(ads, { rawResponses: true }), ads.service);
  const name = useCa ? 'banyan:workload' : 'edge-cert';
  const clients: grpc.Client[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      clients.push(client);
      const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, Buffer>>)[ads.sotw]();
      return new Promise<void>((resolve, reject) => {
        call.on('data', (raw: Buffer) => {
          // The response carries the secret once its resources field (2) is non-empty.
          const r = protobuf.Reader.create(raw);
          while (r.pos < r.len) {
            const tag = r.uint32();
            if (tag >>> 3 === 2) return resolve();
            r.skipType(tag & 7);
          }
        });
        call.on('error', reject);
        call.write({ node: { id: `edge-${i}`, cluster: 'edge' }, type_url: TypeUrl.Secret, resource_names: [name] });
      });
    }),
  );
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  for (const cl of clients) cl.close();
  personal?.close();
  xds.close();
  server.forceShutdown();
  return { label: useCa ? "Banyan's CA (one certificate per proxy)" : 'file secret (shared)', wallMs, cpuMs: (c.user + c.system) / 1000 };
}

export async function run(): Promise<void> {
  console.log('| proxies | secret | all served (ms) | CPU (ms) | CPU per proxy (ms) | CA ÷ file (CPU) |');
  console.log('|---:|---|---:|---:|---:|---:|');
  for (const n of [200, 1000]) {
    // Interleaved, a warm-up of each first.
    await runOnce(20, false);
    await runOnce(20, true);
    const file = await runOnce(n, false);
    const withCa = await runOnce(n, true);
    for (const r of [file, withCa]) {
      const ratio = r === withCa ? `${fmt(withCa.cpuMs / file.cpuMs, 2)}×` : '1.00×';
      console.log(`| ${fmt(n)} | ${r.label} | ${fmt(r.wallMs)} | ${fmt(r.cpuMs)} | ${fmt(r.cpuMs / n, 2)} | ${ratio} |`);
    }
  }
}
