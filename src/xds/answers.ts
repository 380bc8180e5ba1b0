import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { NodeInfo } from '../compile/types.js';
import type { Converging, Convergence } from './convergence.js';
import type { XdsMetrics } from './metrics.js';
import type { Exchange } from './status.js';
import type { XdsEvents } from './stream.js';

/** DiscoveryRequest.error_detail / DeltaDiscoveryRequest.error_detail (a google.rpc.Status). */
export interface ErrorDetail {
  code?: number;
  message?: string;
}

/** The stream an answer came on. */
export interface Answering {
  readonly id: string;
  readonly node?: NodeInfo;
  readonly log: Logger;
}

/**
 * Proxies' answers, recorded the same way whatever the stream kind: into the type's status, as the
 * 'ack' and 'nack' events that rollouts and benchmarks wait on, and for a NACK the metric and a warning
 * (a NACK is shown, never answered by a re-send). One per server: streams carry no copy of it.
 */
export class Answers {
  constructor(
    private readonly events: EventEmitter<XdsEvents>,
    private readonly metrics: XdsMetrics,
    private readonly convergence: Convergence,
  ) {}

  acked(stream: Answering, typeUrl: string, ex: Exchange, version: string): void {
    ex.versionAcked = version;
    this.events.emit('ack', { streamId: stream.id, nodeId: stream.node?.id ?? '', typeUrl, version });
  }

  /** `version` and `nonce` are those of the response the proxy rejected; it keeps running what it had. */
  nacked(stream: Answering & Converging, typeUrl: string, ex: Exchange, version: string, nonce: string, detail: ErrorDetail): void {
    const message = detail.message ?? '';
    ex.lastNack = { version, nonce, message, code: detail.code, at: new Date().toISOString() };
    this.metrics.nacked(typeUrl);
    this.convergence.nacked(stream);
    this.events.emit('nack', { streamId: stream.id, nodeId: stream.node?.id ?? '', typeUrl, version, message });
    stream.log.warn({ node: stream.node?.id, typeUrl, version, error: message }, 'proxy rejected config (NACK)');
  }
}
