import type { Subscription } from './subscription.js';

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
  /** From the node's user_agent_name and user_agent_version / user_agent_build_version; absent when it sends neither. */
  userAgent?: { name: string; version: string };
  /**
   * Present while responses written to the stream are not yet taken by HTTP/2 (a proxy that stops
   * reading fills its flow-control window): how many, since when, and whether a push waits behind them
   * (the stream writes nothing more until they complete; what waits is one plan per type, the newest).
   */
  backpressure?: { pendingWrites: number; since: string; pushWaiting: boolean };
  types: TypeStatus[];
}

/** What every stream kind keeps of one type for its status; answers are recorded into it (answers.ts). */
export interface Exchange {
  readonly sub: Subscription;
  /** Nonce and version of the latest response sent. */
  lastNonce?: string;
  versionSent?: string;
  versionAcked?: string;
  lastNack?: NackRecord;
}

/**
 * One type's status, by one rule for every stream kind. `current`: the version the proxy should have
 * (undefined until its node is in a group); `settled`: nothing is unanswered and the proxy has it.
 */
export function typeStatus(typeUrl: string, ex: Exchange, current: string | undefined, settled: boolean): TypeStatus {
  const rejectedLatest = !!ex.lastNack && ex.lastNack.nonce === ex.lastNonce;
  return {
    typeUrl,
    state: rejectedLatest ? 'NACKED' : current !== undefined && settled ? 'SYNCED' : 'STALE',
    currentVersion: current,
    versionSent: ex.versionSent,
    versionAcked: ex.versionAcked,
    lastNonce: ex.lastNonce,
    lastNack: ex.lastNack,
    subscribed: ex.sub.toJSON(),
  };
}

export type { RefusalRecord } from '../store/types.js';
