/**
 * Cheap ACKs (issue 13, item 3): CPU per 1,000 EDS ACKs carrying 500 resource names, as the server
 * reads them. `before`: what the server did until now — the grpc-js method's protobufjs decode and
 * toObject of the whole DiscoveryRequest, then Subscription.replace over the names (a Set built and
 * compared with the interned one). `after`: readSotwRequest (src/xds/requests.ts) scanning the bytes
 * and hashing the names' bytes, and the stream's key comparison (no name decoded, nothing rebuilt).
 * `after, names changed`: the same with a different list each time (decode + replace, what a real
 * subscription change costs). `npx tsx bench/xds-ack.ts [rounds]`, or run() from the bench runner.
 */
import { encodeMessage, messageType, TO_OBJECT_OPTIONS, TypeUrl } from '../src/proto/envoy.js';
import { DEFAULT_LIMITS, isRefused, readSotwRequest } from '../src/xds/requests.js';
import { Subscription } from '../src/xds/subscription.js';
import { median } from './support/format.js';

const NAMES = 500;
const ACKS = 1000;

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}


export async function run(rounds = 30): Promise<void> {
  const names = Array.from({ length: NAMES }, (_, i) => `outbound|8080||service-${i}.namespace-${i % 17}.svc.cluster.local`);
  const ack = (nonce: number) =>
    Buffer.from(
      encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', {
        version_info: 'Zx3kq0mBv7aYc1Qe',
        resource_names: names,
        type_url: TypeUrl.ClusterLoadAssignment,
        response_nonce: nonce.toString(36),
      }),
    );
  const acks = Array.from({ length: ACKS }, (_, i) => ack(i + 1));
  const changed = Array.from({ length: ACKS }, (_, i) =>
    Buffer.from(encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', { resource_names: [...names.slice(1), `extra-${i}`], type_url: TypeUrl.ClusterLoadAssignment })),
  );
  const reqT = messageType('envoy.service.discovery.v3.DiscoveryRequest');

  const before = () => {
    const sub = new Subscription();
    sub.replace(names);
    for (const bytes of acks) {
      const req = reqT.toObject(reqT.decode(bytes), TO_OBJECT_OPTIONS) as { resource_names?: string[] };
      sub.replace(req.resource_names ?? []);
    }
  };
  const after = () => {
    const sub = new Subscription();
    let key: string | undefined;
    for (const bytes of acks) {
      const req = readSotwRequest(bytes, DEFAULT_LIMITS);
      if (isRefused(req)) throw new Error(req.refused.message);
      if (req.namesKey === key) continue;
      sub.replace(req.resource_names);
      key = req.namesKey;
    }
  };
  const afterChanged = () => {
    const sub = new Subscription();
    let key: string | undefined;
    for (const bytes of changed) {
      const req = readSotwRequest(bytes, DEFAULT_LIMITS);
      if (isRefused(req)) throw new Error(req.refused.message);
      if (req.namesKey === key) continue;
      sub.replace(req.resource_names);
      key = req.namesKey;
    }
  };

  // warm up the JIT on every path
  for (let i = 0; i < 5; i++) {
    before();
    after();
    afterChanged();
  }
  const rows: [string, number[]][] = [
    ['before (protobufjs decode + replace)', []],
    ['after (scan + hash, names equal)', []],
    ['after, names changed (decode + replace)', []],
  ];
  for (let r = 0; r < rounds; r++) {
    rows[0][1].push(cpuMs(before));
    rows[1][1].push(cpuMs(after));
    rows[2][1].push(cpuMs(afterChanged));
  }
  const base = median(rows[0][1]);
  console.log(`EDS ACKs with ${NAMES} names (${acks[0].length} bytes each), CPU per ${ACKS} ACKs, median of ${rounds} rounds\n`);
  console.log('| path | CPU ms / 1,000 ACKs | µs / ACK | vs before |');
  console.log('|---|---:|---:|---:|');
  for (const [name, xs] of rows) {
    const m = median(xs);
    console.log(`| ${name} | ${m.toFixed(1)} | ${((m * 1000) / ACKS).toFixed(1)} | ${(base / m).toFixed(1)}× less |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(Number(process.argv[2] ?? 30)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
