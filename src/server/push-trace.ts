import { context, trace, type Span } from '@opentelemetry/api';
import { tracer, tracingEnabled } from '../telemetry/tracing.js';
import type { SnapshotChange } from '../xds/cache.js';
import type { XdsServer } from '../xds/server.js';

/** Group spans per push; the rest of the groups are counted on the push span only. */
export const MAX_GROUP_SPANS = 32;
/** NACKs recorded as events per push; the rest are counted. */
export const MAX_NACK_EVENTS = 20;
/** How long a push span waits for the proxies' answers. */
export const ANSWER_WINDOW_MS = 10_000;
const MAX_NACK_MESSAGE = 256;

type Outcome = 'answered' | 'timeout' | 'superseded' | 'stopped' | 'no-proxies';

interface GroupTrace {
  span: Span;
  waiting: Set<string>;
}

/**
 * The push of one change to the proxies, as a bounded follow-up of the change's trace: a
 * `banyan.config.push` span (child of the change) with one `banyan.config.push.group` child per
 * changed group (at most MAX_GROUP_SPANS), each counting the proxies connected in that group. The
 * spans stay open until every one of those proxies has answered (ACK or NACK) or ANSWER_WINDOW_MS,
 * whichever is first, and at most one push is open: the next change ends the previous one. NACKs
 * are span events (at most MAX_NACK_EVENTS); ACKs are counted. So a fleet of any size costs a fixed
 * number of spans and events per change, and nothing at all while tracing is off.
 */
export class PushTrace {
  private open?: OpenPush;

  constructor(
    private readonly xds: XdsServer,
    private readonly windowMs = ANSWER_WINDOW_MS,
  ) {}

  /** The cache took a new snapshot within a traced change. */
  pushed(change: SnapshotChange): void {
    if (!tracingEnabled() || !trace.getActiveSpan()?.isRecording()) return;
    this.open?.finish('superseded');
    const byGroup = new Map<string, Set<string>>();
    for (const s of this.xds.status()) {
      if (s.group === undefined || !change.changed.has(s.group)) continue;
      let ids = byGroup.get(s.group);
      if (!ids) byGroup.set(s.group, (ids = new Set()));
      ids.add(s.streamId);
    }
    const open: OpenPush = new OpenPush(this.xds, change, byGroup, this.windowMs, () => {
      if (this.open === open) this.open = undefined;
    });
    if (open.unanswered === 0) open.finish('no-proxies');
    else this.open = open;
  }

  /** Ends the open push (on shutdown, before the exporter is flushed). */
  close(): void {
    this.open?.finish('stopped');
  }
}

class OpenPush {
  private readonly push: Span;
  private readonly groups = new Map<string, GroupTrace>();
  /** Stream → its group's trace, for the streams still to answer. */
  private readonly pending = new Map<string, GroupTrace | undefined>();
  private acks = 0;
  private nacks = 0;
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(
    private readonly xds: XdsServer,
    change: SnapshotChange,
    byGroup: Map<string, Set<string>>,
    windowMs: number,
    private readonly onDone: () => void,
  ) {
    const proxies = [...byGroup.values()].reduce((n, ids) => n + ids.size, 0);
    this.push = tracer().startSpan('banyan.config.push', {
      attributes: {
        'banyan.push.generation': change.generation,
        'banyan.push.groups': change.changed.size,
        'banyan.push.proxies': proxies,
        'banyan.push.encoded': change.encoded,
      },
    });
    const under = trace.setSpan(context.active(), this.push);
    const names = [...change.changed.keys()].sort();
    for (const name of names.slice(0, MAX_GROUP_SPANS)) {
      const ids = byGroup.get(name) ?? new Set<string>();
      const types = [...(change.changed.get(name) ?? [])].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort();
      const span = tracer().startSpan('banyan.config.push.group', { attributes: { 'banyan.group': name, 'banyan.push.proxies': ids.size, 'banyan.push.types': types } }, under);
      const g = { span, waiting: new Set(ids) };
      this.groups.set(name, g);
      for (const id of ids) this.pending.set(id, g);
      if (!ids.size) span.end();
    }
    for (const name of names.slice(MAX_GROUP_SPANS)) for (const id of byGroup.get(name) ?? []) this.pending.set(id, undefined);
    this.push.setAttribute('banyan.push.groups_traced', Math.min(names.length, MAX_GROUP_SPANS));
    this.timer = setTimeout(() => this.finish('timeout'), windowMs);
    this.timer.unref();
    xds.on('ack', this.onAck);
    xds.on('nack', this.onNack);
  }

  /** Proxies of the changed groups that have not answered yet. */
  get unanswered(): number {
    return this.pending.size;
  }

  private readonly onAck = (a: { streamId: string }): void => {
    if (!this.pending.has(a.streamId)) return;
    this.acks++;
    this.answered(a.streamId);
  };

  private readonly onNack = (n: { streamId: string; nodeId: string; typeUrl: string; message: string }): void => {
    if (!this.pending.has(n.streamId)) return;
    if (this.nacks++ < MAX_NACK_EVENTS) {
      this.push.addEvent('nack', { 'banyan.node': n.nodeId, 'banyan.xds.type': n.typeUrl, 'banyan.nack.message': n.message.slice(0, MAX_NACK_MESSAGE) });
    }
    this.answered(n.streamId);
  };

  private answered(streamId: string): void {
    const g = this.pending.get(streamId);
    this.pending.delete(streamId);
    if (g) {
      g.waiting.delete(streamId);
      if (!g.waiting.size) g.span.end();
    }
    if (!this.pending.size) this.finish('answered');
  }

  finish(outcome: Outcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.xds.off('ack', this.onAck);
    this.xds.off('nack', this.onNack);
    for (const g of this.groups.values()) {
      if (!g.waiting.size) continue;
      g.span.setAttribute('banyan.push.unanswered', g.waiting.size).end();
    }
    this.push.setAttributes({ 'banyan.push.outcome': outcome, 'banyan.push.acks': this.acks, 'banyan.push.nacks': this.nacks, 'banyan.push.unanswered': this.pending.size });
    this.push.end();
    this.onDone();
  }
}
