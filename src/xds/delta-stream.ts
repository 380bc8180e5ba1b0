import { TypeUrl } from '../proto/envoy.js';
import type { EncodedResource } from './cache.js';
import type { RawNode } from './node.js';
import { pushOrder, ROUTING_TYPES } from './order.js';
import type { NackRecord, TypeStatus } from './status.js';
import { XdsStream } from './stream.js';
import { Subscription, type Selection } from './subscription.js';
import { DeltaResponse } from './wire.js';
import { HeldVersions, versionsOf } from './held.js';

/** envoy.service.discovery.v3.DeltaDiscoveryRequest in object form (the fields the server reads). */
export interface DeltaDiscoveryRequest {
  node?: RawNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

interface Pending {
  systemVersion: string;
  /** What the client held before this response (shares the base version map; no per-name copy). */
  before: HeldVersions;
  /** What this response sent (shared encodings) and removed. */
  updates: readonly EncodedResource[];
  removals: readonly string[];
}

interface TypeState {
  sub: Subscription;
  /** What the client holds, as far as the server knows: name → resource version. */
  has: HeldVersions;
  pending: Map<string, Pending>;
  /** Per name, the resource version this stream rejected: not sent to it again. */
  nacked: Map<string, string>;
  /** The first response for a type is sent even when empty: the client waits for it to initialise. */
  answered: boolean;
  lastNonce?: string;
  versionSent?: string;
  versionAcked?: string;
  lastNack?: NackRecord;
  holding: boolean;
}

interface Plan {
  /** What the stream should hold: the shared selection its held versions are kept relative to. */
  sel: Selection;
  systemVersion: string;
  updates: EncodedResource[];
  removals: string[];
}

/**
 * Incremental (delta) stream: per-resource versions, only changed resources sent, removals in
 * removed_resources, initial_resource_versions honoured, NACKed resource versions not re-sent.
 */
export class DeltaStream extends XdsStream<DeltaDiscoveryRequest> {
  private readonly types = new Map<string, TypeState>();

  protected requestedTypes(): Iterable<string> {
    return this.types.keys();
  }

  protected handle(req: DeltaDiscoveryRequest, typeUrl: string): void {
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = { sub: new Subscription(), has: new HeldVersions(), pending: new Map(), nacked: new Map(), answered: false, holding: false };
      this.types.set(typeUrl, st);
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) st.has.set(name, version);
    }
    const nonce = req.response_nonce ?? '';
    const pending = nonce ? st.pending.get(nonce) : undefined;
    if (pending) {
      st.pending.delete(nonce);
      if (req.error_detail) this.nacked(typeUrl, st, nonce, pending, req.error_detail);
      else this.acked(typeUrl, st, pending);
      if (ROUTING_TYPES.has(typeUrl)) this.releaseClustersWhenRoutesSettled();
    }
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    const before = st.sub.set;
    const added = st.sub.apply(req.resource_names_subscribe ?? [], unsubscribe, first);
    // The client drops what it unsubscribes from; no removal is owed for those.
    if (first || st.sub.set !== before) {
      for (const name of [...st.has.names()]) {
        if (!st.sub.covers(name, this.ctx.cache.isApiListener(typeUrl, name))) st.has.delete(name);
      }
    }
    if (first || added.length || unsubscribe.length) this.markDirty(typeUrl);
  }

  protected flush(): void {
    if (!this.group || !this.dirty.size) return;
    const order = pushOrder(this.dirty.keys());
    const plans = new Map(order.map((t) => [t, this.plan(t)]));
    if (!this.fixedType) this.makeBeforeBreak(plans);
    for (const typeUrl of order) {
      const plan = plans.get(typeUrl)!;
      const st = this.types.get(typeUrl)!;
      const dirtiedAt = this.dirty.get(typeUrl);
      this.dirty.delete(typeUrl);
      if (plan.updates.length || plan.removals.length || !st.answered) this.send(typeUrl, plan, dirtiedAt);
    }
  }

  private plan(typeUrl: string): Plan {
    const st = this.types.get(typeUrl)!;
    const sel = this.ctx.selector.select(this.group!, typeUrl, st.sub.set);
    const present = new Set<string>();
    const updates: EncodedResource[] = [];
    for (const r of sel.resources) {
      present.add(r.name);
      if (st.has.get(r.name) !== r.version && st.nacked.get(r.name) !== r.version) updates.push(r);
    }
    const removals = [...st.has.names()].filter((name) => !present.has(name)).sort();
    return { sel, systemVersion: sel.version, updates, removals };
  }

  /** As in SotW: cluster removals wait while listener/route updates are outstanding on this stream. */
  private makeBeforeBreak(plans: Map<string, Plan>): void {
    const plan = plans.get(TypeUrl.Cluster);
    const st = this.types.get(TypeUrl.Cluster);
    if (!plan || !st) return;
    const routesMoving = [...ROUTING_TYPES].some((t) => {
      const p = plans.get(t);
      return (p && (p.updates.length || p.removals.length)) || this.types.get(t)?.pending.size;
    });
    st.holding = routesMoving && plan.removals.length > 0;
    if (st.holding) plans.set(TypeUrl.Cluster, { ...plan, removals: [] });
  }

  private releaseClustersWhenRoutesSettled(): void {
    const cds = this.types.get(TypeUrl.Cluster);
    if (!cds?.holding) return;
    if ([...ROUTING_TYPES].every((t) => !this.types.get(t)?.pending.size && !this.dirty.has(t))) this.markDirty(TypeUrl.Cluster);
  }

  private send(typeUrl: string, plan: Plan, dirtiedAt: number | undefined): void {
    const st = this.types.get(typeUrl)!;
    const nonce = this.nextNonce();
    const pending: Pending = { systemVersion: plan.systemVersion, before: st.has.clone(), updates: plan.updates, removals: plan.removals };
    for (const r of plan.updates) st.has.set(r.name, r.version);
    for (const name of plan.removals) st.has.delete(name);
    st.has.rebase(versionsOf(plan.sel));
    st.pending.set(nonce, pending);
    st.answered = true;
    st.lastNonce = nonce;
    st.versionSent = plan.systemVersion;
    const response = new DeltaResponse(plan.systemVersion, typeUrl, plan.updates.map((r) => r.deltaResource), plan.removals, nonce);
    this.write(typeUrl, response, dirtiedAt);
    this.log.debug({ typeUrl, nonce, updates: plan.updates.length, removals: plan.removals.length }, 'pushed (delta)');
  }

  private acked(typeUrl: string, st: TypeState, pending: Pending): void {
    st.versionAcked = pending.systemVersion;
    this.ctx.events.emit('ack', { streamId: this.id, nodeId: this.node?.id ?? '', typeUrl, version: pending.systemVersion });
  }

  /** The client kept what it had: roll our view of it back, and remember what it refused. */
  private nacked(typeUrl: string, st: TypeState, nonce: string, pending: Pending, detail: { code?: number; message?: string }): void {
    const restore = (name: string) => {
      const prev = pending.before.get(name);
      if (prev === undefined) st.has.delete(name);
      else st.has.set(name, prev);
    };
    for (const r of pending.updates) {
      restore(r.name);
      st.nacked.set(r.name, r.version);
    }
    for (const name of pending.removals) restore(name);
    st.lastNack = { version: pending.systemVersion, nonce, message: detail.message ?? '', code: detail.code, at: new Date().toISOString() };
    this.ctx.metrics.nacked(typeUrl);
    this.ctx.events.emit('nack', { streamId: this.id, nodeId: this.node?.id ?? '', typeUrl, version: pending.systemVersion, message: st.lastNack.message });
    this.log.warn({ node: this.node?.id, typeUrl, version: pending.systemVersion, error: st.lastNack.message }, 'proxy rejected config (delta NACK)');
  }

  protected typeStatuses(): TypeStatus[] {
    return pushOrder(this.types.keys()).map((typeUrl) => {
      const st = this.types.get(typeUrl)!;
      const plan = this.group ? this.plan(typeUrl) : undefined;
      const upToDate = !!plan && !plan.updates.length && !plan.removals.length && st.answered;
      const rejectedLatest = !!st.lastNack && st.lastNack.nonce === st.lastNonce;
      return {
        typeUrl,
        state: rejectedLatest ? 'NACKED' : !st.pending.size && upToDate ? 'SYNCED' : 'STALE',
        currentVersion: plan?.systemVersion,
        versionSent: st.versionSent,
        versionAcked: st.versionAcked,
        lastNonce: st.lastNonce,
        lastNack: st.lastNack,
        subscribed: st.sub.toJSON(),
      };
    });
  }
}
