import type { EncodedResource, SnapshotCache } from './cache.js';
import { setVersion } from './hash.js';
import { encodeSotwBody } from './wire.js';

export const WILDCARD = '*';

/**
 * What one stream asked for of one type: the wildcard and/or explicit names, with the protocol's
 * legacy rule that a stream that has never named a resource is a wildcard subscriber.
 */
export class Subscription {
  wildcard = false;
  readonly names = new Set<string>();
  /** Has any request for this type ever carried a name (then an empty list means "nothing"). */
  private explicitEver = false;
  private cachedKey?: string;

  /** SotW: the request carries the full list. Returns true when the subscription changed. */
  replace(names: readonly string[]): boolean {
    const before = this.key();
    if (names.length) this.explicitEver = true;
    this.wildcard = names.includes(WILDCARD) || (!names.length && !this.explicitEver);
    this.names.clear();
    for (const n of names) if (n !== WILDCARD) this.names.add(n);
    this.cachedKey = undefined;
    return this.key() !== before;
  }

  /** Delta: the request carries additions and removals; returns names newly subscribed. */
  apply(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): string[] {
    if (first && !subscribe.length) this.wildcard = true;
    if (subscribe.length) this.explicitEver = true;
    const added: string[] = [];
    for (const n of subscribe) {
      if (n === WILDCARD) this.wildcard = true;
      else if (!this.names.has(n)) {
        this.names.add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === WILDCARD) this.wildcard = false;
      else this.names.delete(n);
    }
    this.cachedKey = undefined;
    return added;
  }

  /** Does this subscription cover `name`? Api listeners are only ever covered by name. */
  covers(name: string, apiListener = false): boolean {
    return this.names.has(name) || (this.wildcard && !apiListener);
  }

  /** Canonical form: equal keys mean equal subscriptions. */
  key(): string {
    this.cachedKey ??= (this.wildcard ? '*\0' : '\0') + [...this.names].sort().join('\0');
    return this.cachedKey;
  }

  toJSON(): string[] {
    return [...(this.wildcard ? [WILDCARD] : []), ...[...this.names].sort()];
  }
}

export interface Selection {
  resources: EncodedResource[];
  version: string;
}

/**
 * The resources a subscription selects from a group, and the encoded SotW response bodies, memoised
 * per snapshot generation: a thousand streams with the same subscription cost one selection, one
 * version hash and one encode.
 */
export class Selector {
  private memo = new Map<string, Selection>();
  private bodies = new Map<string, Buffer>();
  private generation = -1;

  constructor(private readonly cache: SnapshotCache) {}

  select(group: string, typeUrl: string, sub: Subscription): Selection {
    this.resetIfStale();
    const memoKey = `${group}\0${typeUrl}\0${sub.key()}`;
    let sel = this.memo.get(memoKey);
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
      this.memo.set(memoKey, sel);
    }
    return sel;
  }

  /**
   * The stream-independent bytes of a SotW response (everything but the nonce), encoded once per
   * (type, version): content-derived versions make the version a key for the resource list.
   */
  sotwBody(typeUrl: string, sel: Selection): Buffer {
    this.resetIfStale();
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
      this.memo.clear();
      this.bodies.clear();
      this.generation = this.cache.generation;
    }
  }
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
