/** Proxy status as the admin API serves it: plain JSON, one entry per connected stream. */

export type StreamKind = 'ads-sotw' | 'ads-delta' | 'sotw' | 'delta';

/**
 * SYNCED: the proxy ACKed the version it should have now. NACKED: it rejected the latest response
 * sent (it keeps running what it had). STALE: a response is pending, in flight or not yet ACKed.
 */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED';

export interface NackRecord {
  /** The version the proxy rejected. */
  version: string;
  nonce: string;
  message: string;
  code?: number;
  at: string;
}

export interface TypeStatus {
  typeUrl: string;
  state: SyncState;
  /** Version the proxy should have given its subscription and the current snapshot. */
  currentVersion?: string;
  versionSent?: string;
  versionAcked?: string;
  lastNonce?: string;
  lastNack?: NackRecord;
  /** Subscribed names; "*" for a wildcard subscription. */
  subscribed: string[];
}

export interface ProxyStatus {
  streamId: string;
  nodeId: string;
  nodeCluster: string;
  /** Undefined until a snapshot exists to place the node in a group. */
  group?: string;
  kind: StreamKind;
  /** Fully-qualified gRPC service of the stream, e.g. envoy.service.discovery.v3.AggregatedDiscoveryService. */
  service: string;
  peer: string;
  connectedSince: string;
  types: TypeStatus[];
}
