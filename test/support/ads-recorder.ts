import { XDS_SERVICES } from '../../src/xds/services.js';
import { SotwClient, type NodeSpec, type Resp } from '../conformance/harness.js';

/**
 * A scripted proxy on ADS (state of the world) that subscribes to the given types and names, ACKs
 * every response the moment it arrives, as Envoy does, and keeps all of them (`received`, in order,
 * with arrival times in `arrivedAt`) so that a test can judge every push, not only the latest.
 */
export class AdsRecorder extends SotwClient {
  readonly arrivedAt: number[] = [];

  constructor(address: string, node: NodeSpec, private readonly subscriptions: Record<string, string[]>) {
    super(address, XDS_SERVICES[0], 'sotw', node);
    // Registered after the base class's listener, so the decoded response is already in `received`.
    this.call.on('data', () => {
      const r = this.received.at(-1)!;
      this.arrivedAt.push(Date.now());
      const names = this.subscriptions[r.type_url];
      if (names) this.ack(r, names);
    });
    for (const [typeUrl, names] of Object.entries(subscriptions)) this.request(typeUrl, names);
  }

  /** Every response of `typeUrl` so far, from index `from` of `received` on. */
  pushes(typeUrl: string, from = 0): Resp[] {
    return this.received.slice(from).filter((r) => r.type_url === typeUrl);
  }

  /** The newest response of `typeUrl`; throws (for eventually) if none has arrived. */
  latest(typeUrl: string): Resp {
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i].type_url === typeUrl) return this.received[i];
    throw new Error(`no ${typeUrl} received yet`);
  }
}
