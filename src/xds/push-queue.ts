import { TypeUrl } from '../proto/envoy.js';
import { pushOrder, ROUTING_TYPES } from './order.js';

/** What a PushQueue needs from its stream's protocol; P is that protocol's plan of one response. */
export interface Pusher<P> {
  /** What would go out for this type now. */
  plan(typeUrl: string): P;
  /** Would sending the plan change what the proxy holds? */
  changes(plan: P): boolean;
  /** The cluster plan with the clusters it drops kept, or undefined when it drops none the proxy holds. */
  holdRemovals(plan: P): P | undefined;
  /** Is a response of this type sent and neither ACKed nor NACKed yet? */
  outstanding(typeUrl: string): boolean;
  /**
   * May the plan wait for the outstanding answer? True when it only carries a newer snapshot (no
   * subscription change the client is waiting on): it is then coalesced with whatever comes next.
   */
  canWait(typeUrl: string, plan: P): boolean;
  /** Sends the plan, if it has anything the proxy is owed. */
  push(typeUrl: string, plan: P, dirtiedAt: number | undefined): void;
}

/**
 * The types one stream has to (re)consider. A flush plans them all before sending any, so that what
 * was dirtied together goes out together in make-before-break order. On an aggregated stream, clusters
 * the proxy has but the new snapshot drops keep being served while listener or route updates are going
 * out or unanswered on this stream (a route still naming one would otherwise point at nothing); they go
 * once those are ACKed or NACKed. A per-type stream cannot see the routes' answers, so it holds nothing.
 *
 * Coalescing: a type whose last response is unanswered gets no newer snapshot until the proxy answers;
 * it waits, and when the answer arrives the flush plans the newest selection (intermediate versions are
 * never sent, and a partial RDS/EDS response is relative to what the proxy just ACKed). On an aggregated
 * stream the types after a waiting one in push order wait with it, so make-before-break order holds
 * (clusters before the routes that name them). Requests that change a subscription never wait.
 */
export class PushQueue<P> {
  /** Type → performance.now() when the snapshot that dirtied it was set (undefined: a request did). */
  private readonly dirty = new Map<string, number | undefined>();
  /** Types with a newer snapshot held back until the proxy answers (same values as `dirty`). */
  private readonly waiting = new Map<string, number | undefined>();
  /** The last cluster response planned kept clusters the snapshot drops. */
  private holding = false;

  constructor(
    private readonly pusher: Pusher<P>,
    private readonly aggregated: boolean,
  ) {}

  get size(): number {
    return this.dirty.size;
  }

  add(typeUrl: string, at?: number): void {
    this.dirty.set(typeUrl, this.dirty.get(typeUrl) ?? at);
  }

  /** Types waiting for the proxy's answer to go out (coalesced). */
  get waitingSize(): number {
    return this.waiting.size;
  }

  clear(): void {
    this.dirty.clear();
    this.waiting.clear();
  }

  flush(): void {
    const order = pushOrder(this.dirty.keys());
    const plans = new Map(order.map((t) => [t, this.pusher.plan(t)]));
    if (this.aggregated) this.holdRemovedClusters(plans);
    let blocked = false;
    for (const typeUrl of order) {
      const dirtiedAt = this.dirty.get(typeUrl);
      this.dirty.delete(typeUrl);
      const plan = plans.get(typeUrl)!;
      if (this.pusher.changes(plan) && this.pusher.canWait(typeUrl, plan) && (blocked || this.pusher.outstanding(typeUrl))) {
        this.waiting.set(typeUrl, this.waiting.get(typeUrl) ?? dirtiedAt);
        blocked = this.aggregated;
        continue;
      }
      this.pusher.push(typeUrl, plan, dirtiedAt);
    }
  }

  /**
   * The proxy answered a response of `typeUrl`: what waited goes again (planned afresh: the newest
   * version); held clusters go once no routing update is unanswered or due.
   */
  answered(typeUrl: string): void {
    for (const [t, at] of this.waiting) this.add(t, at);
    this.waiting.clear();
    if (!this.holding || !ROUTING_TYPES.has(typeUrl)) return;
    if ([...ROUTING_TYPES].every((t) => !this.pusher.outstanding(t) && !this.dirty.has(t))) this.add(TypeUrl.Cluster);
  }

  private holdRemovedClusters(plans: Map<string, P>): void {
    const plan = plans.get(TypeUrl.Cluster);
    if (plan === undefined) return;
    const routesMoving = [...ROUTING_TYPES].some((t) => {
      const p = plans.get(t);
      return (p !== undefined && this.pusher.changes(p)) || this.pusher.outstanding(t);
    });
    const held = routesMoving ? this.pusher.holdRemovals(plan) : undefined;
    this.holding = held !== undefined;
    if (held !== undefined) plans.set(TypeUrl.Cluster, held);
  }
}
