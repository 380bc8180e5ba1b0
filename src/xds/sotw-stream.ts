import { TypeUrl } from '../proto/envoy.js';
import type { ErrorDetail } from './answers.js';
import { setVersion } from './hash.js';
import type { RawNode } from './node.js';
import { PushQueue, type Pusher } from './push-queue.js';
import { typeStatus, type Exchange, type TypeStatus } from './status.js';
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
  error_detail?: ErrorDetail;
  /**
   * Hash of the resource_names bytes (requests.ts SotwRequest, which decodes the names only when read):
   * a request whose key equals the previous one's names the same resources, so they are not read.
   */
  namesKey?: string;
}

interface TypeState extends Exchange {
  /** What the latest response answered (an interned subscription: compared by identity) and carried (shared, never copied). */
  sent?: { sub: NameSet; sel: Selection };
  /** Sent and neither ACKed nor NACKed yet. */
  inFlight: boolean;
  /** The selection the client last ACKed: the base that partial RDS/EDS responses are relative to. */
  accepted?: Selection;
  /** Versions this stream rejected: never sent to it again. */
  nacked: Set<string>;
  /** namesKey of the last request applied to `sub`. */
  namesKey?: string;
}

const PARTIAL_TYPES: ReadonlySet<string> = new Set([TypeUrl.RouteConfiguration, TypeUrl.ClusterLoadAssignment]);

interface Plan {
  sel: Selection;
  send: boolean;
}

/**
 * State-of-the-world stream (ADS or a per-type service). Answers subscription changes and snapshot
 * changes; ACKs never cause a response of their own (a snapshot that waited for one goes out after it,
 * coalesced to the newest); a NACKed version is recorded and never re-sent; requests
 * carrying a stale nonce update the subscription but are not answered (the client answers the
 * newer response, and that request is).
 */
export class SotwStream extends XdsStream<DiscoveryRequest, TypeState> implements Pusher<Plan> {
  protected readonly queue = new PushQueue<Plan>(this, !this.fixedType);

  protected open(): TypeState {
    return { sub: new Subscription(), inFlight: false, nacked: new Set() };
  }

  protected handle(req: DiscoveryRequest, typeUrl: string, st: TypeState): void {
    const nonce = req.response_nonce ?? '';
    if (nonce && st.sent && nonce !== st.lastNonce) {
      this.subscribe(req, st);
      this.log.debug({ typeUrl, nonce, latest: st.lastNonce }, 'stale nonce: request not answered');
      return;
    }
    if (nonce && st.sent && st.inFlight) {
      st.inFlight = false;
      if (req.error_detail) {
        st.nacked.add(st.versionSent!);
        this.ctx.answers.nacked(this, typeUrl, st, st.versionSent!, nonce, req.error_detail);
      } else {
        st.accepted = st.sent.sel;
        this.ctx.answers.acked(this, typeUrl, st, req.version_info ?? '');
      }
      this.queue.answered(typeUrl);
    }
    this.subscribe(req, st);
    // A new subscription is answered even when the selected resources (and so the version) are unchanged.
    if (!st.sent || st.sub.set !== st.sent.sub) this.queue.add(typeUrl);
  }

  plan(typeUrl: string): Plan {
    const st = this.types.get(typeUrl)!;
    const sel = this.select(typeUrl, st.sub.set);
    return { sel, send: this.shouldSend(st, sel.version) };
  }

  changes(plan: Plan): boolean {
    return plan.send;
  }

  outstanding(typeUrl: string): boolean {
    return this.types.get(typeUrl)?.inFlight ?? false;
  }

  /** Only a newer snapshot for the same subscription waits for the answer; a subscription change is answered now. */
  canWait(typeUrl: string): boolean {
    const st = this.types.get(typeUrl)!;
    return !!st.sent && st.sub.set === st.sent.sub;
  }

  /** The clusters last sent that the new selection drops, and the subscription still covers, stay in it. */
  holdRemovals(plan: Plan): Plan | undefined {
    const st = this.types.get(TypeUrl.Cluster)!;
    if (!st.sent) return undefined;
    const wanted = new Set(plan.sel.resources.map((r) => r.name));
    const kept = st.sent.sel.resources.filter((r) => !wanted.has(r.name) && st.sub.covers(r.name));
    if (!kept.length) return undefined;
    const resources = [...plan.sel.resources, ...kept].sort(byName);
    const sel = { resources, version: setVersion(resources) };
    this.log.debug({ kept: kept.map((r) => r.name) }, 'cluster removal deferred until routes are acknowledged');
    return { sel, send: this.shouldSend(st, sel.version) };
  }

  push(typeUrl: string, { sel, send }: Plan, dirtiedAt: number | undefined): void {
    if (!send) return;
    const st = this.types.get(typeUrl)!;
    const nonce = this.nextNonce();
    // RDS and EDS need not repeat unchanged resources (only LDS and CDS are full-state); a partial
    // response is relative to what the client ACKed, so only when nothing else is unanswered. A newer
    // snapshot waits for the answer (push-queue.ts), so only a subscription change sent while a
    // response is unanswered goes out in full.
    const partial = PARTIAL_TYPES.has(typeUrl) && !st.inFlight && st.accepted;
    const body = partial ? this.ctx.selector.sotwDiffBody(typeUrl, partial, sel) : this.ctx.selector.sotwBody(typeUrl, sel);
    st.sent = { sub: st.sub.set, sel };
    st.lastNonce = nonce;
    st.versionSent = sel.version;
    st.inFlight = true;
    this.write(typeUrl, new SotwResponse(body, nonce), dirtiedAt);
    this.log.debug({ typeUrl, version: sel.version, nonce, resources: sel.resources.length }, 'pushed');
  }

  protected typeStatus(typeUrl: string, st: TypeState): TypeStatus {
    const current = this.group ? this.select(typeUrl, st.sub.set).version : undefined;
    return typeStatus(typeUrl, st, current, st.versionAcked === current && !st.inFlight);
  }

  /** The request's names become the subscription, unless they are the bytes the last request carried (every ACK). */
  private subscribe(req: DiscoveryRequest, st: TypeState): void {
    if (req.namesKey !== undefined && req.namesKey === st.namesKey) return;
    st.sub.replace(req.resource_names ?? []);
    st.namesKey = req.namesKey;
  }

  private shouldSend(st: TypeState, version: string): boolean {
    if (st.nacked.has(version)) return false;
    return !st.sent || st.sub.set !== st.sent.sub || version !== st.versionSent;
  }
}
