/**
 * Simulated proxies for bench:xds, run as a separate process so that client work does not share the
 * server's event loop: `node dist/bench/xds-clients.js <address> <count> [sotw|delta]` with the
 * subscriptions on stdin as JSON { eds: string[], rds: string[] }. Each stream (SotW or delta ADS)
 * subscribes to CDS and LDS (wildcard), EDS and RDS by name, and ACKs every response, reading only
 * version, type and nonce.
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
  for (let i = 0; i < count; i++) {
    // One connection per proxy, as real proxies have.
    const client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(client);
    const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[mode === 'sotw' ? ads.sotw : ads.delta]();
    call.on('data', (bytes: Buffer) => {
      const h = head(bytes);
      if (mode === 'sotw') call.write({ type_url: h.typeUrl, version_info: h.version, response_nonce: h.nonce, resource_names: names[h.typeUrl] ?? [] });
      else call.write({ type_url: h.typeUrl, response_nonce: h.nonce });
    });
    call.on('error', (err) => {
      if ((err as grpc.ServiceError).code !== grpc.status.CANCELLED) console.error(`stream ${i}: ${err.message}`);
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
