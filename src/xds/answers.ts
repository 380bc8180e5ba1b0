import type { Logger } from 'pino';
import type { NodeInfo } from '../compile/types.js';
import type { Exchange } from './status.js';
import type { StreamContext } from './stream.js';

/** DiscoveryRequest.error_detail / DeltaDiscoveryRequest.error_detail (a google.rpc.Status). */
export interface ErrorDetail {
  code?: number;
  message?: string;
}

/**
 * A proxy's answers, recorded the same way whatever the stream kind: into the type's status, as the
 * 'ack' and 'nack' events that rollouts and benchmarks wait on, and for a NACK the metric and a warning
 * (a NACK is shown, never answered by a re-send).
 */
export class Answers {
  constructor(
    private readonly ctx: StreamContext,
    private readonly stream: { readonly id: string; readonly node?: NodeInfo },
    private readonly log: Logger,
  ) {}

  acked(typeUrl: string, ex: Exchange, version: string): void {
    ex.versionAcked = version;
    this.ctx.events.emit('ack', { streamId: this.stream.id, nodeId: this.stream.node?.id ?? '', typeUrl, version });
  }

  /** `version` and `nonce` are those of the response the proxy rejected; it keeps running what it had. */
  nacked(typeUrl: string, ex: Exchange, version: string, nonce: string, detail: ErrorDetail): void {
    const message = detail.message ?? '';
    ex.lastNack = { version, nonce, message, code: detail.code, at: new Date().toISOString() };
    this.ctx.metrics.nacked(typeUrl);
    this.ctx.events.emit('nack', { streamId: this.stream.id, nodeId: this.stream.node?.id ?? '', typeUrl, version, message });
    this.log.warn({ node: this.stream.node?.id, typeUrl, version, error: message }, 'proxy rejected config (NACK)');
  }
}
