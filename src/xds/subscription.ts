import type { EncodedResource, SnapshotCache } from './cache.js';
import { setVersion } from './hash.js';
import { encodeSotwBody } from './wire.js';

export const WILDCARD = '*';

/**
 * An immutable set of subscribed names, interned by content: the thousand streams that ask for the
 * same 500 endpoints share one set (and one canonical key) instead of holding a copy each. Identity
 * is equality: two live NameSets with the same content are the same object.
 */
export class NameSet {
  private constructor(
    readonly wildcard: boolean,
    readonly names: ReadonlySet<string>,
    /** Canonical form, the intern key. */
    readonly key: string,
  ) {}

  private static readonly interned = new Map<string, WeakRef<NameSet>>();
  /** Forgets a key once no stream holds its set (unless it was interned again since). */
  private static readonly reaper = new FinalizationRegistry<string>((key) => {
    if (!NameSet.interned.get(key)?.deref()) NameSet.interned.delete(key);
  });

  static readonly NONE = NameSet.of(false, []);

  static of(wildcard: boolean, names: Iterable<string>): NameSet {
    const sorted = [...new Set(names)].sort();
    const key = (wildcard ? '*\0' : '\0') + sorted.join('\0');
    const live = NameSet.interned.get(key)?.deref();
    if (live) return live;
    const set = new NameSet(wildcard, new Set(sorted), key);
    NameSet.interned.set(key, new WeakRef(set));
    NameSet.reaper.register(set, key);
    return set;
  }

  /** Does `names` (a request's list, "*" excluded) hold exactly this set's names? */
  sameNames(names: ReadonlySet<string>): boolean {
    if (names.size !== this.names.size) return false;
    for (const n of names) if (!this.names.has(n)) return false;
    return true;
  }
}

/**
 * What one stream asked for of one type: the wildcard and/or explicit names, with the protocol's
 * legacy rule that a stream that has never named a resource is a wildcard subscriber. The names are
 * an interned NameSet; a request repeating the current names (every ACK) leaves it untouched.
 */
export class Subscription {
  private current = NameSet.NONE;
  /** Has any request for this type ever carried a name (then an empty list means "nothing"). */
  private explicitEver = false;

  /** The current names, shared with every stream subscribed to the same. */
  get set(): NameSet {
    return this.current;
  }

  get wildcard(): boolean {
    return this.current.wildcard;
  }

  get names(): ReadonlySet<string> {
    return this.current.names;
  }

  /** SotW: the request carries the full list. Returns true when the subscription changed. */
  replace(names: readonly string[]): boolean {
    if (names.length) this.explicitEver = true;
    const requested = new Set(names);
    const wildcard = requested.delete(WILDCARD) || (!names.length && !this.explicitEver);
    if (wildcard === this.current.wildcard && this.current.sameNames(requested)) return false;
    this.current = NameSet.of(wildcard, requested);
    return true;
  }

  /** Delta: the request carries additions and removals; returns names newly subscribed. */
  apply(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): string[] {
    let wildcard = this.current.wildcard || (first && !subscribe.length);
    if (subscribe.length) this.explicitEver = true;
    if (!subscribe.length && !unsubscribe.length) {
      if (wildcard !== this.current.wildcard) this.current = NameSet.of(wildcard, this.current.names);
      return [];
    }
    const names = new Set(this.current.names);
    const added: string[] = [];
    for (const n of subscribe) {
      if (n === WILDCARD) wildcard = true;
      else if (!names.has(n)) {
        names.add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === WILDCARD) wildcard = false;
      else names.delete(n);
    }
    this.current = NameSet.of(wildcard, names);
    return added;
  }

  /** Does this subscription cover `name`? Api listeners are only ever covered by name. */
  covers(name: string, apiListener = false): boolean {
    return this.current.names.has(name) || (this.current.wildcard && !apiListener);
  }

  toJSON(): string[] {
    return [...(this.current.wildcard ? [WILDCARD] : []), ...this.current.names];
  }
}

export interface Selection {
  resources: EncodedResource[];
  version: string;
  /** Holds one proxy's own resources (personal.ts): its bytes are encoded for that stream, never memoised. */
  personal?: true;
}

/**
 * The resources a subscription selects from a group, and the encoded SotW response bodies, memoised
 * per snapshot generation: a thousand streams with the same subscription cost one selection, one
 * version hash and one encode.
 */
export class Selector {
  /**
   * Per interned subscription (identity is content), per group and type; weak, so a subscription no
   * stream holds any more (its streams closed) takes its selections with it.
   */
  private memo = new WeakMap<NameSet, Map<string, Selection>>();
  private bodies = new Map<string, Buffer>();
  private generation = -1;

  constructor(private readonly cache: SnapshotCache) {}

  select(group: string, typeUrl: string, sub: NameSet): Selection {
    this.resetIfStale();
    let bySub = this.memo.get(sub);
    if (!bySub) this.memo.set(sub, (bySub = new Map()));
    const memoKey = `${group}\0${typeUrl}`;
    let sel = bySub.get(memoKey);
    if (!sel) {
      const all = this.cache.get(group, typeUrl).resources;
      const resources: EncodedResource[] = [];
      if (sub.wildcard) {
        for (const r of all.values()) if (!this.cache.isApiListener(typeUrl, r.name) || sub.names.has(r.name)) resources.push(r);
      } else {
        for (const name of sub.names) {
          const r = all.get(name);
          if (r) resources.push(r);
        }
      }
      resources.sort(byName);
      sel = { resources, version: setVersion(resources) };
      bySub.set(memoKey, sel);
    }
    return sel;
  }

  /**
   * The stream-independent bytes of a SotW response (everything but the nonce), encoded once per
   * (type, version): content-derived versions make the version a key for the resource list.
   */
  sotwBody(typeUrl: string, sel: Selection): Buffer {
    this.resetIfStale();
    if (sel.personal) return encodeSotwBody(sel.version, typeUrl, sel.resources.map((r) => r.any));
    const key = `${typeUrl}\0${sel.version}`;
    let body = this.bodies.get(key);
    if (!body) {
      body = encodeSotwBody(sel.version, typeUrl, sel.resources.map((r) => r.any));
      this.bodies.set(key, body);
    }
    return body;
  }

  /**
   * A partial SotW body (RDS/EDS): the resources of `sel` that are new or different from `base`. Both
   * versions are content hashes, so (type, base version, version) identifies the bytes.
   */
  sotwDiffBody(typeUrl: string, base: Selection, sel: Selection): Buffer {
    this.resetIfStale();
    const key = `${typeUrl}\0${base.version}\0${sel.version}`;
    let body = this.bodies.get(key);
    if (!body) {
      const had = new Map(base.resources.map((r) => [r.name, r.version]));
      const changed = sel.resources.filter((r) => had.get(r.name) !== r.version);
      body = encodeSotwBody(sel.version, typeUrl, changed.map((r) => r.any));
      this.bodies.set(key, body);
    }
    return body;
  }

  private resetIfStale(): void {
    if (this.generation !== this.cache.generation) {
      this.memo = new WeakMap();
      this.bodies.clear();
      this.generation = this.cache.generation;
    }
  }
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
