import type client from 'prom-client';
import { prom } from '../telemetry/metrics.js';
import { shortType } from './cache.js';
import type { ProxyStatus, StreamKind, SyncState } from './status.js';

/** The xDS server's Prometheus metrics, registered on the registry it is given. */
export class XdsMetrics {
  private readonly streams: client.Gauge<'kind' | 'type'>;
  private readonly pushes: client.Counter<'type'>;
  private readonly latency: client.Histogram<'type'>;
  private readonly nacks: client.Counter<'type'>;
  private readonly bytes: client.Counter<'type'>;
  private readonly refusals: client.Counter<'reason'>;

  constructor(registry?: client.Registry) {
    const registers = registry ? [registry] : [];
    this.streams = new prom.Gauge({
      name: 'banyan_xds_connected_streams',
      help: 'Open xDS streams by kind (ads-sotw, ads-delta, sotw, delta) and type (ads for aggregated streams)',
      labelNames: ['kind', 'type'],
      registers,
    });
    this.pushes = new prom.Counter({ name: 'banyan_xds_pushes_total', help: 'xDS responses sent', labelNames: ['type'], registers });
    this.latency = new prom.Histogram({
      name: 'banyan_xds_push_latency_seconds',
      help: 'Time from a snapshot being set to the response it caused being written to a stream',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.nacks = new prom.Counter({ name: 'banyan_xds_nacks_total', help: 'Responses rejected by proxies', labelNames: ['type'], registers });
    this.bytes = new prom.Counter({ name: 'banyan_xds_bytes_sent_total', help: 'Response bytes written to xDS streams', labelNames: ['type'], registers });
    this.refusals = new prom.Counter({
      name: 'banyan_xds_requests_refused_total',
      help: 'xDS requests beyond the limits on what a client may send (their stream ended with the gRPC status the reason names)',
      labelNames: ['reason'],
      registers,
    });
  }

  streamOpened(kind: StreamKind, typeUrl?: string): void {
    this.streams.inc({ kind, type: typeUrl ? shortType(typeUrl) : 'ads' });
  }

  streamClosed(kind: StreamKind, typeUrl?: string): void {
    this.streams.dec({ kind, type: typeUrl ? shortType(typeUrl) : 'ads' });
  }

  pushed(typeUrl: string, bytes: number, sinceSnapshotMs?: number): void {
    const type = shortType(typeUrl);
    this.pushes.inc({ type });
    this.bytes.inc({ type }, bytes);
    if (sinceSnapshotMs !== undefined) this.latency.observe({ type }, sinceSnapshotMs / 1000);
  }

  refused(reason: string): void {
    this.refusals.inc({ reason });
  }

  nacked(typeUrl: string): void {
    this.nacks.inc({ type: shortType(typeUrl) });
  }
}

const SEVERITY: Record<SyncState, number> = { SYNCED: 0, STALE: 1, NACKED: 2 };

/**
 * Sync state per proxy and per group, computed from the live status at scrape time: a proxy that
 * disconnects is simply absent from the next scrape, so cardinality is bounded by the connected fleet
 * with no series to forget. A proxy's state is its worst over its streams and types (NACKED, then STALE).
 */
export function registerSyncGauges(registry: client.Registry, status: () => ProxyStatus[]): void {
  const perProxy = (): Map<string, { nodeId: string; group: string; state: SyncState }> => {
    const proxies = new Map<string, { nodeId: string; group: string; state: SyncState }>();
    for (const s of status()) {
      const group = s.group ?? 'unassigned';
      const key = `${s.nodeId}\u0000${group}`;
      let state = proxies.get(key)?.state ?? 'SYNCED';
      for (const t of s.types) if (SEVERITY[t.state] > SEVERITY[state]) state = t.state;
      proxies.set(key, { nodeId: s.nodeId, group, state });
    }
    return proxies;
  };
  new prom.Gauge({
    name: 'banyan_xds_proxy_sync_state',
    help: 'Connected proxies: 1 for the sync state each is in (SYNCED, STALE, NACKED), by node id and group; gone when the proxy disconnects',
    labelNames: ['node_id', 'group', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of perProxy().values()) this.set({ node_id: p.nodeId, group: p.group, state: p.state }, 1);
    },
  });
  new prom.Gauge({
    name: 'banyan_xds_proxies',
    help: 'Connected proxies by group and sync state (SYNCED, STALE, NACKED)',
    labelNames: ['group', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of perProxy().values()) this.inc({ group: p.group, state: p.state });
    },
  });
}
