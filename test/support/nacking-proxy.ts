import { TypeUrl } from '../../src/proto/envoy.js';
import { XDS_SERVICES } from '../../src/xds/services.js';
import { SotwClient, type NodeSpec, type Resp } from '../conformance/harness.js';

const RDS = TypeUrl.RouteConfiguration;

/**
 * A scripted proxy on ADS (state of the world) that subscribes to RouteConfigurations by name and
 * answers every one as Envoy does: ACK, or — while `rejectWith` is set — NACK with that text as
 * error_detail, naming the version it last accepted (as Envoy keeps running what it had).
 *
 * Banyan never re-sends a version a stream rejected, so a proxy that stops rejecting shows it the
 * way a fixed Envoy does: a new stream (a restart, or a hot restart overlapping the old process) that
 * ACKs what it is sent. Open a second NackingProxy with the same node, then close this one.
 */
export class NackingProxy extends SotwClient {
  /** While set, every RouteConfiguration that arrives is NACKed with this message. */
  rejectWith: string | undefined;
  /** Versions answered, in order, with what was answered. */
  readonly answers: { version: string; nonce: string; acked: boolean; at: number }[] = [];
  private acceptedVersion = '';

  constructor(address: string, node: NodeSpec, private readonly names: string[], opts: { rejectWith?: string } = {}) {
    super(address, XDS_SERVICES[0], 'sotw', node);
    this.rejectWith = opts.rejectWith;
    // Registered after the base class's listener, so the decoded response is already in `received`.
    this.call.on('data', () => {
      const r = this.received.at(-1)!;
      if (r.type_url !== RDS) return;
      this.answer(r);
    });
    this.request(RDS, names);
  }

  /** The newest RouteConfiguration response; throws (for eventually) if none has arrived. */
  latest(): Resp {
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i].type_url === RDS) return this.received[i];
    throw new Error('no RouteConfiguration received yet');
  }

  private answer(r: Resp): void {
    const message = this.rejectWith;
    this.answers.push({ version: r.version_info, nonce: r.nonce, acked: message === undefined, at: Date.now() });
    if (message === undefined) {
      this.acceptedVersion = r.version_info;
      this.ack(r, this.names);
    } else {
      this.nack(r, message, this.acceptedVersion, this.names);
    }
  }
}
