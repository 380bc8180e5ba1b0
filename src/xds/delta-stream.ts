import type { ErrorDetail } from './answers.js';
import type { EncodedResource } from './cache.js';
import { HeldVersions, versionsOf } from './held.js';
import type { RawNode } from './node.js';
import { PushQueue, type Pusher } from './push-queue.js';
import { typeStatus, type Exchange, type TypeStatus } from './status.js';
import { XdsStream } from './stream.js';
import { Subscription, type Selection } from './subscription.js';
import { DeltaResponse } from './wire.js';

/** envoy.service.discovery.v3.DeltaDiscoveryRequest in object form (the fields the server reads). */
export interface DeltaDiscoveryRequest {
  node?: RawNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: ErrorDetail;
}

interface Pending {
  systemVersion: string;
  /** What the client held before this response (shares the base version map; no per-name copy). */
  before: HeldVersions;
  /** What this response sent (shared encodings) and removed. */
  updates: readonly EncodedResource[];
  removals: readonly string[];
}

interface TypeState extends Exchange {
  /** What the client holds, as far as the server knows: name → resource version. */
  has: HeldVersions;
  pending: Map<string, Pending>;
  /** Per name, the resource version this stream rejected: not sent to it again. */
  nacked: Map<string, string>;
  /** The first response for a type is sent even when empty: the client waits for it to initialise. */
  answered: boolean;
  /** A request subscribed or unsubscribed since the last response: answered without waiting for pending ACKs. */
  requested: boolean;
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
export class DeltaStream extends XdsStream<DeltaDiscoveryRequest, TypeState> implements Pusher<Plan> {
  protected readonly queue = new PushQueue<Plan>(this, !this.fixedType);

  protected open(req: DeltaDiscoveryRequest): TypeState {
    const st: TypeState = { sub: new Subscription(), has: new HeldVersions(), pending: new Map(), nacked: new Map(), answered: false, requested: false };
    for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) st.has.set(name, version);
    return st;
  }

  protected handle(req: DeltaDiscoveryRequest, typeUrl: string, st: TypeState, first: boolean): void {
    const nonce = req.response_nonce ?? '';
    const pending = nonce ? st.pending.get(nonce) : undefined;
    if (pending) {
      st.pending.delete(nonce);
      if (req.error_detail) {
        this.rollBack(st, pending);
        this.ctx.answers.nacked(this, typeUrl, st, pending.systemVersion, nonce, req.error_detail);
      } else this.ctx.answers.acked(this, typeUrl, st, pending.systemVersion);
      this.queue.answered(typeUrl);
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
    if (first || added.length || unsubscribe.length) {
      st.requested = true;
      this.queue.add(typeUrl);
    }
  }

  plan(typeUrl: string): Plan {
    const st = this.types.get(typeUrl)!;
    const sel = this.select(typeUrl, st.sub.set);
    const present = new Set<string>();
    const updates: EncodedResource[] = [];
    for (const r of sel.resources) {
      present.add(r.name);
      if (st.has.get(r.name) !== r.version && st.nacked.get(r.name) !== r.version) updates.push(r);
    }
    const removals = [...st.has.names()].filter((name) => !present.has(name)).sort();
    return { sel, systemVersion: sel.version, updates, removals };
  }

  changes(plan: Plan): boolean {
    return plan.updates.length > 0 || plan.removals.length > 0;
  }

  outstanding(typeUrl: string): boolean {
    return !!this.types.get(typeUrl)?.pending.size;
  }

  /** A newer snapshot waits for the pending answers (coalesced); a subscription change does not. */
  canWait(typeUrl: string): boolean {
    const st = this.types.get(typeUrl)!;
    return st.answered && !st.requested;
  }

  holdRemovals(plan: Plan): Plan | undefined {
    return plan.removals.length ? { ...plan, removals: [] } : undefined;
  }

  push(typeUrl: string, plan: Plan, dirtiedAt: number | undefined): void {
    const st = this.types.get(typeUrl)!;
    st.requested = false;
    if (!this.changes(plan) && st.answered) return;
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

  protected typeStatus(typeUrl: string, st: TypeState): TypeStatus {
    const plan = this.group ? this.plan(typeUrl) : undefined;
    const upToDate = !!plan && !this.changes(plan) && st.answered;
    return typeStatus(typeUrl, st, plan?.systemVersion, upToDate && !st.pending.size);
  }

  /** The client kept what it had: roll our view of it back, and remember what it refused. */
  private rollBack(st: TypeState, pending: Pending): void {
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
  }
}
