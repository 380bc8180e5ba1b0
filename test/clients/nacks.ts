/**
 * What a real proxyless client rejects: plant a config in a fresh Banyan, let one client of `kind`
 * subscribe to it, and read back what Banyan recorded from that client's ACKs and NACKs. For tests
 * of client-capability checks (a construct the client NACKs must be refused before it is served).
 *
 * The config is compiled and put in the snapshot cache directly, past admission: a construct that
 * admission already refuses must still be plantable, or the check could never be shown to be needed.
 */
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { startTestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { prepareClient, type Batch, type ClientKind } from './driver.js';

export interface NackOptions {
  /** What the client dials (default xds:///orders: the config needs a `kind: api` listener `orders`). */
  target?: string;
  nodeCluster?: string;
  timeoutMs?: number;
  /** Type URLs the client must have subscribed to before its answers count (a slow client may not have asked for RDS yet). */
  awaitTypes?: string[];
}

export interface PlantResult {
  /** Type URL → the error message the client sent, for every resource type it NACKed; `{}` when it ACKed everything. */
  nacked: Record<string, string>;
  /** One RPC made once every type was answered: what the client does with what it kept. */
  rpc: Batch;
}

/** Serves `yaml` (compiled, not admitted) to one client of `kind`; resolves once no type is waiting for an answer. */
export async function plantConfig(kind: ClientKind, yaml: string, opts: NackOptions = {}): Promise<PlantResult> {
  const loaded = loadConfigFromString(yaml, 'planted.yaml');
  if (!loaded.config) throw new Error(`planted config does not load:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`);
  const snapshot = compile(loaded.config);
  const nodeId = `${kind}-nack-probe`;
  const launch = await prepareClient(kind);
  const t = await startTestBanyan('{}', { watch: false });
  t.banyan.cache.setSnapshot(snapshot);
  const client = launch({ xds: `127.0.0.1:${t.banyan.ports.xds}`, nodeId, target: opts.target, nodeCluster: opts.nodeCluster });
  try {
    // Subscriptions start with the first RPC; whether it succeeds is not the question.
    await client.batch({ n: 1, deadlineMs: 2_000 });
    const nacked = await eventually(
      () => {
        const s = t.banyan.xds.status().find((p) => p.nodeId === nodeId);
        if (!s?.types.length) throw new Error(`${kind} has not subscribed to anything`);
        const missing = (opts.awaitTypes ?? []).filter((url) => !s.types.some((ty) => ty.typeUrl === url));
        if (missing.length) throw new Error(`${kind} has not subscribed to ${missing.join(', ')}`);
        const pending = s.types.filter((ty) => ty.state === 'STALE').map((ty) => ty.typeUrl);
        if (pending.length) throw new Error(`${kind} has not answered ${pending.join(', ')}`);
        return Object.fromEntries(s.types.filter((ty) => ty.state === 'NACKED').map((ty) => [ty.typeUrl, ty.lastNack?.message ?? '']));
      },
      opts.timeoutMs ?? 10_000,
      50,
    );
    return { nacked, rpc: await client.batch({ n: 1, deadlineMs: 2_000 }) };
  } finally {
    await client.close();
    await t.stop();
  }
}

/** Type URL → NACK message for every type a client of `kind` NACKed when served `yaml`; `{}` when it ACKed all. */
export async function nackedTypes(kind: ClientKind, yaml: string, opts: NackOptions = {}): Promise<Record<string, string>> {
  return (await plantConfig(kind, yaml, opts)).nacked;
}
