/**
 * Simulated proxies for bench:xds, run as a separate process so that client work does not share the
 * server's event loop: `node dist/bench/xds-clients.js <address> <count> [sotw|delta]` with the
 * subscriptions on stdin as JSON { eds: string[], rds: string[] }. Each stream (SotW or delta ADS)
 * subscribes to CDS and LDS (wildcard), EDS and RDS by name, and ACKs every response, reading only
 * version, type and nonce.
 *
 * Started with an IPC channel (bench/support/xds-side.ts), it also tells when every stream has ACKed
 * given versions, so one client measures any server by what reaches the proxies:
 *   { op: 'wait', id, versions: { typeUrl: version } } → { op: 'done', id } once every stream's last
 *     ACK of each type carries that version (at once if they already do);
 *   { op: 'stats', id } → { op: 'stats', id, bytes, responses: { typeUrl: n } }, totals since start
 *     (bytes: DiscoveryResponse messages as received, without gRPC framing);
 * and { op: 'error', message } when a stream ends with an error.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/proto/envoy.js';
import { xdsServiceDefinition, XDS_SERVICES } from '../src/xds/services.js';

interface Head {
  version: string;
  typeUrl: string;
  nonce: string;
}

/**
 * Reads fields 1 (version_info / system_version_info), 4 (type_url), 5 (nonce), which are the same in
 * DiscoveryResponse and DeltaDiscoveryResponse; skips the resources.
 */
function head(bytes: Buffer): Head {
  const r = protobuf.Reader.create(bytes);
  const out: Head = { version: '', typeUrl: '', nonce: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) out.version = r.string();
    else if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** ACK bookkeeping for the IPC mode: each stream's last ACKed version per type, and one pending wait. */
class Acks {
  private readonly acked: Record<string, string>[];
  private wait?: { id: number; target: Record<string, string>; remaining: number };
  bytes = 0;
  readonly responses: Record<string, number> = {};
  constructor(count: number) {
    this.acked = Array.from({ length: count }, () => ({}));
  }
  received(stream: number, h: Head, size: number): void {
    this.bytes += size;
    this.responses[h.typeUrl] = (this.responses[h.typeUrl] ?? 0) + 1;
    const prev = this.acked[stream][h.typeUrl];
    this.acked[stream][h.typeUrl] = h.version;
    const w = this.wait;
    if (!w || !(h.typeUrl in w.target)) return;
    const t = w.target[h.typeUrl];
    if (prev !== t && h.version === t) w.remaining--;
    else if (prev === t && h.version !== t) w.remaining++;
    this.check();
  }
  waitFor(id: number, target: Record<string, string>): void {
    let remaining = 0;
    for (const a of this.acked) for (const [type, v] of Object.entries(target)) if (a[type] !== v) remaining++;
    this.wait = { id, target, remaining };
    this.check();
  }
  private check(): void {
    if (this.wait && this.wait.remaining === 0) {
      process.send!({ op: 'done', id: this.wait.id });
      this.wait = undefined;
    }
  }
}

async function main(): Promise<void> {
  const [address, countArg, mode = 'sotw'] = process.argv.slice(2);
  const count = Number(countArg);
  if (mode !== 'sotw' && mode !== 'delta') throw new Error(`mode must be sotw or delta, not ${mode}`);
  const subs = JSON.parse(await readStdin()) as { eds: string[]; rds: string[] };
  const names: Record<string, string[]> = {
    [TypeUrl.Cluster]: [],
    [TypeUrl.Listener]: [],
    [TypeUrl.ClusterLoadAssignment]: subs.eds,
    [TypeUrl.RouteConfiguration]: subs.rds,
  };
  const ads = XDS_SERVICES[0];
  const Client = grpc.makeGenericClientConstructor(xdsServiceDefinition(ads, { rawResponses: true }), ads.service);
  const clients: grpc.Client[] = [];
  const acks = process.send ? new Acks(count) : undefined;
  if (acks) {
    process.on('message', (m: { op: 'wait'; id: number; versions: Record<string, string> } | { op: 'stats'; id: number }) => {
      if (m.op === 'wait') acks.waitFor(m.id, m.versions);
      else if (m.op === 'stats') process.send!({ op: 'stats', id: m.id, bytes: acks.bytes, responses: acks.responses });
    });
    process.on('disconnect', () => {
      for (const c of clients) c.close();
      process.exit(0);
    });
  }
  for (let i = 0; i < count; i++) {
    // One connection per proxy, as real proxies have.
    const client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(client);
    const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[mode === 'sotw' ? ads.sotw : ads.delta]();
    call.on('data', (bytes: Buffer) => {
      const h = head(bytes);
      if (mode === 'sotw') call.write({ type_url: h.typeUrl, version_info: h.version, response_nonce: h.nonce, resource_names: names[h.typeUrl] ?? [] });
      else call.write({ type_url: h.typeUrl, response_nonce: h.nonce });
      acks?.received(i, h, bytes.length);
    });
    call.on('error', (err) => {
      if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
      console.error(`stream ${i}: ${err.message}`);
      // A stream that ended will never ACK again: the bench stops waiting for it.
      if (process.send) process.send({ op: 'error', message: `stream ${i}: ${err.message}` });
    });
    const node = { id: `bench-proxy-${i}`, cluster: 'bench' };
    for (const typeUrl of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
      call.write(mode === 'sotw' ? { node, type_url: typeUrl, resource_names: names[typeUrl] } : { node, type_url: typeUrl, resource_names_subscribe: names[typeUrl] });
    }
  }
  process.on('SIGTERM', () => {
    for (const c of clients) c.close();
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
