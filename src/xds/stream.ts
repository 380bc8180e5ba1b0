import type { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { NodeInfo } from '../compile/types.js';
import type { Answers } from './answers.js';
import type { SnapshotCache, SnapshotChange } from './cache.js';
import type { Convergence, Converging } from './convergence.js';
import type { Flushable, FlushScheduler } from './flush.js';
import type { XdsMetrics } from './metrics.js';
import { nodeInfo, userAgentOf, type RawNode } from './node.js';
import { TypeUrl } from '../proto/envoy.js';
import { pushOrder } from './order.js';
import { PersonalRefusal, PersonalView, type PersonalResources } from './personal.js';
import type { PushQueue } from './push-queue.js';
import { checkTypeUrl, isRefused, Refusal, type RefusedRequest, type XdsLimits } from './requests.js';
import type { Exchange, ProxyStatus, RefusalRecord, StreamKind, TypeStatus } from './status.js';
import type { NameSet, Selection, Selector } from './subscription.js';
import type { XdsResponse } from './wire.js';

/** Events the server emits as proxies answer: what rollouts and benchmarks wait on. */
export interface XdsEvents {
  ack: [{ streamId: string; nodeId: string; typeUrl: string; version: string }];
  nack: [{ streamId: string; nodeId: string; typeUrl: string; version: string; message: string }];
}

/** What every stream shares with the server. */
export interface StreamContext {
  cache: SnapshotCache;
  selector: Selector;
  metrics: XdsMetrics;
  log: Logger;
  events: EventEmitter<XdsEvents>;
  answers: Answers;
  admission?: Admission;
  /** Per-proxy resources (workload certificates) standing in for the snapshot's placeholders. */
  personal?: PersonalResources;
  /** What a client may send (requests.ts). */
  limits: XdsLimits;
  /** Runs every stream's flush in slices that yield to the event loop (flush.ts). */
  flushes: FlushScheduler;
  /** Which streams each group's pending change still waits for (convergence.ts). */
  convergence: Convergence;
}

/** What admission reads of a call: its peer and the TLS it came over. */
export type PeerCall = Pick<grpc.ServerDuplexStream<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

/** Whether a node may join a group (README "Proxy identity"): the refusal's reason, or undefined. */
export interface Admission {
  check(node: NodeInfo, group: string, call: PeerCall, when: RefusalRecord['when']): string | undefined;
}

/** What the server asks of a stream, whatever its protocol. */
export interface ServedStream extends Converging {
  readonly isClosed: boolean;
  onSnapshot(change: SnapshotChange): void;
  status(): ProxyStatus;
}

let streamSeq = 0;

/**
 * One xDS stream: node and group, per-type state, per-stream nonces, and a flush that runs once per
 * turn of the event loop so that everything dirtied together goes out together (push-queue.ts), in
 * the server's slices (flush.ts). Writes follow HTTP/2 flow control: while a response written to the
 * call has not been taken by the HTTP/2 stream (a proxy that stops reading fills its window), the
 * stream writes nothing more; what is dirtied meanwhile waits in the queue, one entry per type, and the
 * flush after the last write completes plans the newest state.
 */
export abstract class XdsStream<Req extends { node?: RawNode; type_url?: string }, St extends Exchange> implements ServedStream, Flushable {
  readonly id = `s${++streamSeq}`;
  readonly connectedSince = new Date().toISOString();
  node?: NodeInfo;
  userAgent?: { name: string; version: string };
  group?: string;
  /** Per type requested, in the protocol's own terms. */
  protected readonly types = new Map<string, St>();
  protected abstract readonly queue: PushQueue<unknown>;
  readonly log: Logger;
  private nonceSeq = 0;
  private scheduled = false;
  private closed = false;
  /** Responses written to the call whose write has not completed (HTTP/2 flow control, the socket). */
  private unflushed = 0;
  /** When the oldest incomplete write started (undefined: none). */
  private writingSince?: string;
  /** A flush is held back until the incomplete writes complete. */
  private held = false;
  private readonly personal?: PersonalView;
  /** Ends a stream that never sends a request (a client that opened it and went away without a reset). */
  private firstRequestTimer?: NodeJS.Timeout;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly call: grpc.ServerDuplexStream<Req, XdsResponse>,
    readonly kind: StreamKind,
    readonly service: string,
    /** Per-type services serve only this type; aggregated streams leave it undefined. */
    protected readonly fixedType: string | undefined,
    private readonly onClose: (s: ServedStream) => void,
  ) {
    this.log = ctx.log.child({ stream: this.id, kind });
    ctx.metrics.streamOpened(kind, fixedType);
    if (ctx.personal) {
      this.personal = new PersonalView(
        ctx.personal,
        () => (this.node ? { streamId: this.id, node: this.node, call } : undefined),
        () => {
          if (this.types.has(TypeUrl.Secret)) this.queue.add(TypeUrl.Secret);
          this.schedule();
        },
        (err) => {
          const refusal = err instanceof PersonalRefusal ? err : new PersonalRefusal(grpc.status.UNAVAILABLE, `cannot prepare this proxy's own secrets: ${(err as Error).message}`);
          this.log.warn({ node: this.node?.id, reason: refusal.message }, 'xDS stream ended: its own secrets cannot be served');
          this.end(refusal.code, refusal.message);
        },
      );
    }
    const wait = ctx.limits.firstRequestTimeoutMs;
    if (wait > 0) {
      this.firstRequestTimer = setTimeout(
        () => this.refuseRequest(new Refusal('first_request_timeout', grpc.status.DEADLINE_EXCEEDED, `no DiscoveryRequest within ${wait} ms of opening the stream`)),
        wait,
      );
      this.firstRequestTimer.unref();
    }
    call.on('data', (req: Req | RefusedRequest) => {
      if (this.closed) return;
      try {
        if (isRefused(req)) this.refuseRequest(req.refused);
        else this.receive(req);
      } catch (err) {
        this.log.error({ err }, 'failed to handle xDS request');
      }
    });
    call.on('end', () => {
      this.close();
      call.end();
    });
    call.on('error', () => this.close());
    call.on('close', () => this.close());
    call.on('cancelled', () => this.close());
    // A call already over when its handler runs never emits again: release it now (the server adds no closed stream).
    if (call.cancelled || call.destroyed) this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The cache changed: look again at the types that changed for this stream's group. */
  onSnapshot(change: SnapshotChange): void {
    const before = this.group;
    this.placeNode();
    if (!this.group) return;
    // Judged again on every change: a new group, or narrower identities for the same one, may refuse it now.
    if (this.refuse('regrouped')) return;
    const changed = this.group === before ? change.changed.get(this.group) : undefined;
    for (const typeUrl of this.types.keys()) {
      if (this.group !== before || changed?.has(typeUrl)) this.queue.add(typeUrl, change.at);
    }
    this.schedule();
  }

  inSync(): boolean {
    for (const [typeUrl, st] of this.types) if (this.typeStatus(typeUrl, st).state !== 'SYNCED') return false;
    return true;
  }

  status(): ProxyStatus {
    return {
      streamId: this.id,
      nodeId: this.node?.id ?? '',
      nodeCluster: this.node?.cluster ?? '',
      group: this.group,
      kind: this.kind,
      service: this.service,
      peer: this.call.getPeer(),
      connectedSince: this.connectedSince,
      ...(this.userAgent && { userAgent: { ...this.userAgent } }),
      ...(this.writingSince && { backpressure: { pendingWrites: this.unflushed, since: this.writingSince, pushWaiting: this.held } }),
      types: pushOrder(this.types.keys()).map((typeUrl) => this.typeStatus(typeUrl, this.types.get(typeUrl)!)),
    };
  }

  /** State for a type first requested by `req`. */
  protected abstract open(req: Req): St;
  /** A request for a type: maybe an answer to a response, maybe a change of subscription. */
  protected abstract handle(req: Req, typeUrl: string, st: St, first: boolean): void;
  protected abstract typeStatus(typeUrl: string, st: St): TypeStatus;

  protected schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    this.ctx.flushes.schedule(this);
  }

  /** Called by the scheduler (flush.ts) in its turn. */
  flushNow(): void {
    this.scheduled = false;
    if (this.closed) return;
    if (this.unflushed > 0) {
      // flow control: the proxy has not taken what was written; the last write's completion reschedules
      if (this.queue.size) this.held = true;
      return;
    }
    try {
      // A flush waits for the proxy's own secrets: what names them never goes out before them.
      if (this.group && this.queue.size && !this.personalPending()) this.queue.flush();
    } catch (err) {
      this.log.error({ err }, 'failed to push xDS response');
    }
    // a flush that had nothing to send may leave the stream in sync with a change (its selection unchanged)
    this.ctx.convergence.check(this);
  }

  /** The group's selection for a subscription, with this proxy's own resources in place of placeholders. */
  protected select(typeUrl: string, sub: NameSet): Selection {
    const sel = this.ctx.selector.select(this.group!, typeUrl, sub);
    return this.personal ? this.personal.apply(typeUrl, sel) : sel;
  }

  private personalPending(): boolean {
    const st = this.personal && this.types.get(TypeUrl.Secret);
    if (!st) return false;
    return !this.personal!.settled(TypeUrl.Secret, this.ctx.selector.select(this.group!, TypeUrl.Secret, st.sub.set));
  }

  protected nextNonce(): string {
    return (++this.nonceSeq).toString(36);
  }

  protected write(typeUrl: string, response: XdsResponse, dirtiedAt: number | undefined): void {
    if (this.unflushed++ === 0) this.writingSince = new Date().toISOString();
    // The callback runs once HTTP/2 has taken the message (its window allowing) and the socket has
    // written it; a write refused by a full buffer (false) completes the same way, before 'drain'.
    this.call.write(response, this.written);
    this.ctx.metrics.pushed(typeUrl, response.size, dirtiedAt === undefined ? undefined : performance.now() - dirtiedAt);
  }

  private readonly written = (): void => {
    if (--this.unflushed > 0 || this.closed) return;
    if (this.held) this.log.debug({ node: this.node?.id, since: this.writingSince }, 'writes completed: flushing what waited');
    this.writingSince = undefined;
    this.held = false;
    if (this.queue.size) this.schedule();
  };

  private receive(req: Req): void {
    if (this.firstRequestTimer) {
      clearTimeout(this.firstRequestTimer);
      this.firstRequestTimer = undefined;
    }
    if (!this.node) {
      this.node = nodeInfo(req.node);
      this.userAgent = userAgentOf(req.node);
      this.placeNode();
      this.log.info({ node: this.node.id, cluster: this.node.cluster, group: this.group }, 'xDS stream opened');
      if (this.refuse('first-request')) return;
    }
    if (this.closed) return;
    const typeUrl = req.type_url || this.fixedType;
    if (!typeUrl) {
      this.log.warn('request without type_url on an aggregated stream ignored');
      return;
    }
    if (this.fixedType && typeUrl !== this.fixedType) {
      this.log.warn({ typeUrl, served: this.fixedType }, 'request for another type on a per-type stream ignored');
      return;
    }
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      const bad = checkTypeUrl(typeUrl, this.ctx.limits);
      if (bad) return this.refuseRequest(bad);
      if (this.types.size >= this.ctx.limits.maxTypesPerStream) {
        return this.refuseRequest(new Refusal('too_many_types', grpc.status.RESOURCE_EXHAUSTED, `a stream may ask for at most ${this.ctx.limits.maxTypesPerStream} types`));
      }
      this.types.set(typeUrl, (st = this.open(req)));
    }
    const detail = (req as { error_detail?: { message?: string } }).error_detail;
    const max = this.ctx.limits.maxNackMessageChars;
    if (detail?.message && detail.message.length > max) detail.message = `${detail.message.slice(0, max)}… (${detail.message.length - max} more characters)`;
    this.handle(req, typeUrl, st, first);
    this.ctx.convergence.check(this);
    this.schedule();
  }

  /** A proxy's group comes from its first request's node, re-evaluated when the snapshot changes. */
  private placeNode(): void {
    if (!this.node || !this.ctx.cache.snapshot) return;
    try {
      this.group = this.ctx.cache.groupOf(this.node);
    } catch (err) {
      this.log.error({ err, node: this.node.id }, 'groupOf failed; stream keeps its previous group');
    }
  }

  /** Ends the stream with PERMISSION_DENIED when the node's identity may not join its group. */
  private refuse(when: RefusalRecord['when']): boolean {
    if (!this.node || !this.group || !this.ctx.admission) return false;
    const reason = this.ctx.admission.check(this.node, this.group, this.call, when);
    if (reason === undefined) return false;
    this.end(grpc.status.PERMISSION_DENIED, reason);
    return true;
  }

  /** A request beyond the limits: counted, logged, and the stream ended with the refusal's status. */
  private refuseRequest(refusal: Refusal): void {
    if (this.closed) return;
    this.ctx.metrics.refused(refusal.reason);
    this.log.warn({ node: this.node?.id, reason: refusal.reason }, 'xDS stream ended: %s', refusal.message);
    this.end(refusal.code, refusal.message);
  }

  private end(code: grpc.status, reason: string): void {
    if (this.closed) return;
    const err = Object.assign(new Error(reason), { code, details: reason });
    this.close();
    this.call.emit('error', err);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.firstRequestTimer);
    this.firstRequestTimer = undefined;
    // (undefined only when closed from the base constructor, before the subclass made its queue)
    this.queue?.clear();
    this.ctx.flushes.cancel(this);
    this.personal?.close();
    this.ctx.metrics.streamClosed(this.kind, this.fixedType);
    this.log.info({ node: this.node?.id }, 'xDS stream closed');
    this.onClose(this);
  }
}
