import type { NodeInfo } from '../compile/types.js';
import type { EncodedResource } from './cache.js';
import { setVersion } from './hash.js';
import type { PeerCall } from './stream.js';
import type { Selection } from './subscription.js';

/**
 * Resources whose content is the proxy's own (a workload certificate issued for its identity). The
 * snapshot holds a placeholder under the name, shared by the group; each stream serves its proxy's
 * resource in the placeholder's place. The xDS layer knows nothing of certificates: it asks.
 */
export interface PersonalResources {
  /** Does the snapshot's resource `name` of `typeUrl` stand for a per-proxy one? */
  covers(typeUrl: string, name: string): boolean;
  /**
   * Starts serving one proxy. `ready` settles once its resources can be read (a rejection's message
   * is the reason the stream is ended with); `changed` is called whenever they change (rotation).
   */
  open(proxy: PersonalProxy, changed: () => void): PersonalSession;
}

export interface PersonalProxy {
  streamId: string;
  node: NodeInfo;
  call: PeerCall;
}

export interface PersonalSession {
  readonly ready: Promise<void>;
  /** The proxy's own resource standing for the placeholder `name`; undefined until ready. */
  get(typeUrl: string, name: string): EncodedResource | undefined;
  close(): void;
}

/** A gRPC status code and message to end a stream with. */
export class PersonalRefusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A stream's view of its personal resources: the shared selection with placeholders replaced, one
 * object per (selection, session state) so that protocol code comparing selections by identity sees
 * a stable value between changes.
 */
export class PersonalView {
  private session?: PersonalSession;
  private state: 'none' | 'pending' | 'ready' | 'failed' | 'closed' = 'none';
  /** Bumped on every change the session reports. */
  private epoch = 0;
  private memo = new WeakMap<Selection, { epoch: number; sel: Selection }>();

  constructor(
    private readonly provider: PersonalResources,
    private readonly proxy: () => PersonalProxy | undefined,
    /** The session changed (ready or rotated): the stream re-plans `typeUrl`s it serves. */
    private readonly onChange: () => void,
    private readonly onFail: (err: unknown) => void,
  ) {}

  /** Does `sel` hold a placeholder this stream must resolve before sending it? */
  needs(typeUrl: string, sel: Selection): boolean {
    return sel.resources.some((r) => this.provider.covers(typeUrl, r.name));
  }

  /** True when `sel` can go out now; otherwise opens the session (once) and reports back through onChange. */
  settled(typeUrl: string, sel: Selection): boolean {
    if (!this.needs(typeUrl, sel)) return true;
    if (this.state === 'ready') return true;
    if (this.state === 'none') this.start();
    return false;
  }

  /** `sel` with the placeholders replaced by this proxy's own resources (dropped while not ready). */
  apply(typeUrl: string, sel: Selection): Selection {
    if (!this.needs(typeUrl, sel)) return sel;
    const hit = this.memo.get(sel);
    if (hit && hit.epoch === this.epoch) return hit.sel;
    const resources: EncodedResource[] = [];
    for (const r of sel.resources) {
      if (!this.provider.covers(typeUrl, r.name)) resources.push(r);
      else {
        const own = this.state === 'ready' ? this.session?.get(typeUrl, r.name) : undefined;
        if (own) resources.push(own);
      }
    }
    const personal: Selection = { resources, version: setVersion(resources), personal: true };
    this.memo.set(sel, { epoch: this.epoch, sel: personal });
    return personal;
  }

  /** The stream is gone: the session closes and is never opened again. */
  close(): void {
    this.state = 'closed';
    this.session?.close();
    this.session = undefined;
  }

  private start(): void {
    const proxy = this.proxy();
    if (!proxy) return;
    this.state = 'pending';
    this.session = this.provider.open(proxy, () => {
      this.epoch++;
      if (this.state === 'ready') this.onChange();
    });
    this.session.ready.then(
      () => {
        if (this.state !== 'pending') return;
        this.state = 'ready';
        this.epoch++;
        this.onChange();
      },
      (err: unknown) => {
        if (this.state === 'closed') return;
        this.state = 'failed';
        this.onFail(err);
      },
    );
  }
}
