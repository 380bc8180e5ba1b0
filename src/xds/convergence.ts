import type client from 'prom-client';
import { prom } from '../telemetry/metrics.js';
import type { SnapshotChange } from './cache.js';

/** What convergence asks of a stream: its group now, and whether it has ACKed everything it should have. */
export interface Converging {
  readonly group?: string;
  readonly isClosed: boolean;
  /** Every type it asked for is SYNCED (status.ts): it ACKed the version it should have, nothing unanswered. */
  inSync(): boolean;
}

/** The one change of a group still being waited for. */
interface Pending {
  readonly group: string;
  /** performance.now() when the change was set on the cache (SnapshotChange.at). */
  readonly at: number;
  /** Streams connected when it was published that are not yet in sync with it. */
  readonly waiting: Set<Converging>;
  /** When the latest waited-for stream came in sync (undefined: none has yet). */
  lastSyncedAt?: number;
  /** A proxy rejected it: counted once per change. */
  nacked: boolean;
}

export const CONVERGENCE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Time from a config change being set on a group's snapshot to every proxy of the group connected at
 * that moment being in sync with it (README "Metrics"). Each group has at most one pending change;
 * streams are added to it once, when the change fans out (a cost the fan-out already pays), and leave
 * it when they come in sync, disconnect or move to another group. Nothing scans the fleet on an answer:
 * a stream not waited for costs one map lookup; one waited for, a look at its own few types.
 *
 * Rules:
 * - a NACK keeps the change pending (the proxy runs the old config); the change is counted once in
 *   banyan_xds_convergence_nacked_total when a proxy first rejects it;
 * - a proxy that disconnects (or is regrouped) is no longer waited for; if every remaining one was in
 *   sync, the change converged when the last of them came in sync;
 * - a newer change of the group supersedes the pending one, which is dropped and counted in
 *   banyan_xds_convergence_superseded_total: each observation is the time of one change, never a
 *   mixture of two (closing it at the newer change's convergence would charge it the newer one's time);
 * - a group with no connected proxy observes nothing, nor does a change every proxy left before
 *   any came in sync;
 * - a group the config no longer has leaves the metrics: its series are removed (groups come and go
 *   with the config, and each would otherwise be exported until restart), and its removal is not a
 *   change to converge on. A group that comes back starts from zero.
 */
export class Convergence {
  private readonly pending = new Map<string, Pending>();
  /** Each waited-for stream's pending change (a stream waits on at most one: its group's). */
  private readonly waitingOn = new Map<Converging, Pending>();
  private readonly seconds: client.Histogram<'group'>;
  private readonly nacks: client.Counter<'group'>;
  private readonly superseded: client.Counter<'group'>;

  constructor(registry?: client.Registry) {
    const registers = registry ? [registry] : [];
    this.seconds = new prom.Histogram({
      name: 'banyan_xds_convergence_seconds',
      help: 'Time from a config change set on a group\'s snapshot to every proxy of the group connected then having ACKed it (superseded changes are not observed)',
      labelNames: ['group'],
      buckets: CONVERGENCE_BUCKETS,
      registers,
    });
    this.nacks = new prom.Counter({
      name: 'banyan_xds_convergence_nacked_total',
      help: 'Config changes of a group that a proxy rejected while they were pending (they stay unconverged)',
      labelNames: ['group'],
      registers,
    });
    this.superseded = new prom.Counter({
      name: 'banyan_xds_convergence_superseded_total',
      help: 'Config changes of a group replaced by a newer change before they converged (dropped, not observed)',
      labelNames: ['group'],
      registers,
    });
    const self = this;
    new prom.Gauge({
      name: 'banyan_xds_convergence_pending_proxies',
      help: 'Proxy streams the pending config change of a group still waits for (absent: nothing pending)',
      labelNames: ['group'],
      registers,
      collect() {
        this.reset();
        for (const p of self.pending.values()) this.set({ group: p.group }, p.waiting.size);
      },
    });
  }

  /**
   * A change is being fanned out: call with the change before the streams see it (supersedes what it
   * replaces), then join() each stream after it has, then settle() once they all have.
   */
  begin(change: SnapshotChange): void {
    for (const group of change.changed.keys()) {
      const prev = this.pending.get(group);
      if (change.gone.has(group)) {
        if (prev) this.drop(prev);
        for (const m of [this.seconds, this.nacks, this.superseded]) m.remove({ group });
        continue;
      }
      if (prev) {
        this.superseded.inc({ group });
        this.drop(prev);
      }
      this.pending.set(group, { group, at: change.at, waiting: new Set(), nacked: false });
    }
  }

  /** After the stream took the change: waited for when its group changed; out of a group it left. */
  join(stream: Converging, change: SnapshotChange): void {
    const was = this.waitingOn.get(stream);
    if (was && was.group !== stream.group) this.leave(stream, was);
    if (stream.isClosed || stream.group === undefined || !change.changed.has(stream.group)) return;
    const p = this.pending.get(stream.group);
    if (!p) return;
    p.waiting.add(stream);
    this.waitingOn.set(stream, p);
  }

  /** Every stream has joined: a change nobody waits for (no proxy connected) observes nothing. */
  settle(change: SnapshotChange): void {
    for (const group of change.changed.keys()) {
      const p = this.pending.get(group);
      if (p && p.waiting.size === 0) this.pending.delete(group);
    }
  }

  /** The stream answered or flushed: if it is waited for and now in sync, it stops being waited for. */
  check(stream: Converging): void {
    const p = this.waitingOn.get(stream);
    if (!p || !stream.inSync()) return;
    p.lastSyncedAt = performance.now();
    this.leave(stream, p);
  }

  /** The stream rejected a response: its group's pending change is counted as NACKed (once). */
  nacked(stream: Converging): void {
    const p = this.waitingOn.get(stream);
    if (!p || p.nacked) return;
    p.nacked = true;
    this.nacks.inc({ group: p.group });
  }

  /** The stream closed: no longer waited for. */
  released(stream: Converging): void {
    const p = this.waitingOn.get(stream);
    if (p) this.leave(stream, p);
  }

  private leave(stream: Converging, p: Pending): void {
    p.waiting.delete(stream);
    this.waitingOn.delete(stream);
    if (p.waiting.size > 0 || this.pending.get(p.group) !== p) return;
    this.pending.delete(p.group);
    if (p.lastSyncedAt !== undefined) this.seconds.observe({ group: p.group }, (p.lastSyncedAt - p.at) / 1000);
  }

  private drop(p: Pending): void {
    for (const s of p.waiting) this.waitingOn.delete(s);
    p.waiting.clear();
    this.pending.delete(p.group);
  }
}
