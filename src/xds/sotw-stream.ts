import { TypeUrl } from '../proto/envoy.js';
import { setVersion } from './hash.js';
import type { RawNode } from './node.js';
import { pushOrder, ROUTING_TYPES } from './order.js';
import type { NackRecord, TypeStatus } from './status.js';
import { XdsStream } from './stream.js';
import { byName, Subscription, type NameSet, type Selection } from './subscription.js';
import { SotwResponse } from './wire.js';

/** envoy.service.discovery.v3.DiscoveryRequest in object form (the fields the server reads). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: RawNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

interface Sent {
  nonce: string;
  version: string;
  /** The subscription the response answered (interned: compared by identity). */
  sub: NameSet;
  /** What the client holds if it accepts the response (shared between streams, never copied). */
  sel: Selection;
}

interface TypeState {
  sub: Subscription;
  sent?: Sent;
  /** Sent and neither ACKed nor NACKed yet. */
  inFlight: boolean;
  acked?: string;
  /** The selection the client last ACKed: the base that partial RDS/EDS responses are relative to. */
  accepted?: Selection;
  lastNack?: NackRecord;
  /** Versions this stream rejected: never sent to it again. */
  nacked: Set<string>;
  /** Clusters only: removed clusters are still being served until routes stop using them. */
  holding: boolean;
}

const PARTIAL_TYPES: ReadonlySet<string> = new Set([TypeUrl.RouteConfiguration, TypeUrl.ClusterLoadAssignment]);

interface Plan {
  sel: Selection;
  send: boolean;
}

/**
 * State-of-the-world stream (ADS or a per-type service). Answers subscription changes and snapshot
 * changes; ACKs never cause a response; a NACKed version is recorded and never re-sent; requests
 * carrying a stale nonce update the subscription but are not answered (the client answers the
 * newer response, and that request is).
 */
export class SotwStream extends XdsStream<DiscoveryRequest> {
  private readonly types = new Map<string, TypeState>();

  protected requestedTypes(): Iterable<string> {
    return this.types.keys();
  }

  protected handle(req: DiscoveryRequest, typeUrl: string): void {
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { sub: new Subscription(), inFlight: false, nacked: new Set(), holding: false };
      this.types.set(typeUrl, st);
    }
    const nonce = req.response_nonce ?? '';
    if (nonce && st.sent && nonce !== st.sent.nonce) {
      st.sub.replace(req.resource_names ?? []);
      this.log.debug({ typeUrl, nonce, latest: st.sent.nonce }, 'stale nonce: request not answered');
      return;
    }
    if (nonce && st.sent && st.inFlight) {
      st.inFlight = false;
      if (req.error_detail) this.nacked(typeUrl, st, req.error_detail);
      else this.acked(typeUrl, st, req.version_info ?? '');
      if (ROUTING_TYPES.has(typeUrl)) this.releaseClustersWhenRoutesSettled();
    }
    st.sub.replace(req.resource_names ?? []);
    // A new subscription is answered even when the selected resources (and so the version) are unchanged.
    if (!st.sent || st.sub.set !== st.sent.sub) this.markDirty(typeUrl);
  }

  protected flush(): void {
    if (!this.group || !this.dirty.size) return;
    const order = pushOrder(this.dirty.keys());
    const plans = new Map(order.map((t) => [t, this.plan(t)]));
    if (!this.fixedType) this.makeBeforeBreak(plans);
    for (const typeUrl of order) {
      const plan = plans.get(typeUrl)!;
      const dirtiedAt = this.dirty.get(typeUrl);
      this.dirty.delete(typeUrl);
      if (plan.send) this.send(typeUrl, plan.sel, dirtiedAt);
    }
  }

  private plan(typeUrl: string): Plan {
    const st = this.types.get(typeUrl)!;
    const sel = this.ctx.selector.select(this.group!, typeUrl, st.sub.set);
    return { sel, send: this.shouldSend(st, sel.version) };
  }

  private shouldSend(st: TypeState, version: string): boolean {
    if (st.nacked.has(version)) return false;
    return !st.sent || st.sub.set !== st.sent.sub || version !== st.sent.version;
  }

  /**
   * Clusters the proxy has but the new snapshot drops keep being served while listener or route
   * updates are going out or unanswered on this stream; they go once those are ACKed or NACKed.
   */
  private makeBeforeBreak(plans: Map<string, Plan>): void {
    const plan = plans.get(TypeUrl.Cluster);
    const st = this.types.get(TypeUrl.Cluster);
    if (!plan || !st?.sent) return;
    const routesMoving = [...ROUTING_TYPES].some((t) => plans.get(t)?.send || this.types.get(t)?.inFlight);
    const wanted = new Set(plan.sel.resources.map((r) => r.name));
    const kept = routesMoving ? st.sent.sel.resources.filter((r) => !wanted.has(r.name) && st.sub.covers(r.name)) : [];
    st.holding = kept.length > 0;
    if (!st.holding) return;
    const resources = [...plan.sel.resources, ...kept].sort(byName);
    const sel = { resources, version: setVersion(resources) };
    plans.set(TypeUrl.Cluster, { sel, send: this.shouldSend(st, sel.version) });
    this.log.debug({ kept: kept.map((r) => r.name) }, 'cluster removal deferred until routes are acknowledged');
  }

  private releaseClustersWhenRoutesSettled(): void {
    const cds = this.types.get(TypeUrl.Cluster);
    if (!cds?.holding) return;
    const settled = [...ROUTING_TYPES].every((t) => !this.types.get(t)?.inFlight && !this.dirty.has(t));
    if (settled) this.markDirty(TypeUrl.Cluster);
  }

  private send(typeUrl: string, sel: Selection, dirtiedAt: number | undefined): void {
    const st = this.types.get(typeUrl)!;
    const nonce = this.nextNonce();
    // RDS and EDS need not repeat unchanged resources (only LDS and CDS are full-state); a partial
    // response is relative to what the client ACKed, so only when nothing else is unanswered.
    const partial = PARTIAL_TYPES.has(typeUrl) && !st.inFlight && st.accepted;
    const body = partial ? this.ctx.selector.sotwDiffBody(typeUrl, partial, sel) : this.ctx.selector.sotwBody(typeUrl, sel);
    st.sent = { nonce, version: sel.version, sub: st.sub.set, sel };
    st.inFlight = true;
    this.write(typeUrl, new SotwResponse(body, nonce), dirtiedAt);
    this.log.debug({ typeUrl, version: sel.version, nonce, resources: sel.resources.length }, 'pushed');
  }

  private acked(typeUrl: string, st: TypeState, version: string): void {
    st.acked = version;
    st.accepted = st.sent!.sel;
    this.ctx.events.emit('ack', { streamId: this.id, nodeId: this.node?.id ?? '', typeUrl, version });
  }

  private nacked(typeUrl: string, st: TypeState, detail: { code?: number; message?: string }): void {
    const sent = st.sent!;
    st.nacked.add(sent.version);
    st.lastNack = { version: sent.version, nonce: sent.nonce, message: detail.message ?? '', code: detail.code, at: new Date().toISOString() };
    this.ctx.metrics.nacked(typeUrl);
    this.ctx.events.emit('nack', { streamId: this.id, nodeId: this.node?.id ?? '', typeUrl, version: sent.version, message: st.lastNack.message });
    this.log.warn({ node: this.node?.id, typeUrl, version: sent.version, error: st.lastNack.message }, 'proxy rejected config (NACK)');
  }

  protected typeStatuses(): TypeStatus[] {
    return pushOrder(this.types.keys()).map((typeUrl) => {
      const st = this.types.get(typeUrl)!;
      const current = this.group ? this.ctx.selector.select(this.group, typeUrl, st.sub.set).version : undefined;
      const rejectedLatest = !!st.lastNack && st.lastNack.nonce === st.sent?.nonce;
      return {
        typeUrl,
        state: rejectedLatest ? 'NACKED' : current !== undefined && st.acked === current && !st.inFlight ? 'SYNCED' : 'STALE',
        currentVersion: current,
        versionSent: st.sent?.version,
        versionAcked: st.acked,
        lastNonce: st.sent?.nonce,
        lastNack: st.lastNack,
        subscribed: st.sub.toJSON(),
      };
    });
  }
}
