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
  /** Sends the plan, if it has anything the proxy is owed. */
  push(typeUrl: string, plan: P, dirtiedAt: number | undefined): void;
}

/**
 * The types one stream has to (re)consider. A flush plans them all before sending any, so that what
 * was dirtied together goes out together in make-before-break order. On an aggregated stream, clusters
 * the proxy has but the new snapshot drops keep being served while listener or route updates are going
 * out or unanswered on this stream (a route still naming one would otherwise point at nothing); they go
 * once those are ACKed or NACKed. A per-type stream cannot see the routes' answers, so it holds nothing.
 */
export class PushQueue<P> {
  /** Type → performance.now() when the snapshot that dirtied it was set (undefined: a request did). */
  private readonly dirty = new Map<string, number | undefined>();
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

  clear(): void {
    this.dirty.clear();
  }

  flush(): void {
    const order = pushOrder(this.dirty.keys());
    const plans = new Map(order.map((t) => [t, this.pusher.plan(t)]));
    if (this.aggregated) this.holdRemovedClusters(plans);
    for (const typeUrl of order) {
      const dirtiedAt = this.dirty.get(typeUrl);
      this.dirty.delete(typeUrl);
      this.pusher.push(typeUrl, plans.get(typeUrl)!, dirtiedAt);
    }
  }

  /** The proxy answered a response of `typeUrl`: held clusters go once no routing update is unanswered or due. */
  answered(typeUrl: string): void {
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
