/**
 * Banyan's xDS server alone in a process, for bench:xds's side-by-side rows (bench/support/xds-side.ts):
 * the same role as bench/go/gcp-server, so /proc/<pid> of this process is the server's CPU and RSS.
 * Run with an IPC channel (and --expose-gc); messages:
 *   { op: 'prepare', ks }  build (load + compile) these bench changes, gc()   → { op: 'prepared' }
 *   { op: 'apply', k }     setSnapshot of a prepared change                  → { op: 'applied', k, versions }
 * and { op: 'port', port } once listening.
 */
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { SnapshotCache } from '../../src/xds/cache.js';
import { XdsServer } from '../../src/xds/server.js';
import { build } from '../xds.js';

type Msg = { op: 'prepare'; ks: number[] } | { op: 'apply'; k: number };

async function main(): Promise<void> {
  if (!process.send) throw new Error('xds-banyan-server needs an IPC channel');
  const send = (m: object) => process.send!(m);
  const registry = createRegistry();
  const logger = pino({ level: 'silent' });
  const cache = new SnapshotCache({ logger, registry });
  const xds = new XdsServer({ cache, logger, registry });
  const server = new grpc.Server();
  xds.addToServer(server);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const prepared = new Map<number, CompiledSnapshot>();
  process.on('message', (m: Msg) => {
    if (m.op === 'prepare') {
      for (const k of m.ks) prepared.set(k, build(k));
      // Compile garbage is not the change's cost (the Go server is handed decoded resources too).
      global.gc?.();
      send({ op: 'prepared' });
    } else if (m.op === 'apply') {
      const snap = prepared.get(m.k);
      if (!snap) throw new Error(`change ${m.k} not prepared`);
      prepared.delete(m.k);
      cache.setSnapshot(snap);
      const group = [...snap.groups.keys()][0];
      const versions: Record<string, string> = {};
      for (const typeUrl of snap.groups.get(group)!.keys()) versions[typeUrl] = cache.get(group, typeUrl).version;
      send({ op: 'applied', k: m.k, versions });
    }
  });
  process.on('disconnect', () => {
    xds.close();
    server.forceShutdown();
    process.exit(0);
  });
  send({ op: 'port', port });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
