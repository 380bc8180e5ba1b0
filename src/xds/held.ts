import type { Selection } from './subscription.js';

const NOTHING: ReadonlyMap<string, string> = new Map();
const versionMaps = new WeakMap<Selection, ReadonlyMap<string, string>>();

/** name → resource version of a selection, built once and shared by every stream sent that selection. */
export function versionsOf(sel: Selection): ReadonlyMap<string, string> {
  let map = versionMaps.get(sel);
  if (!map) versionMaps.set(sel, (map = new Map(sel.resources.map((r) => [r.name, r.version]))));
  return map;
}

/**
 * What a delta client holds of one type, as far as the server knows: name → resource version. Kept as
 * a reference to the shared, immutable versions of the selection last sent plus this stream's own
 * differences from it (NACKed versions it kept the old one for, removals held back, rollbacks), so a
 * thousand streams in sync cost one map, not a thousand copies.
 */
export class HeldVersions {
  private base = NOTHING;
  /** Differences from base: a version, or undefined for "in base but not held". */
  private diff = new Map<string, string | undefined>();

  /** Entries this stream keeps of its own, beyond the shared base (0 when in sync with what it was sent). */
  get ownEntries(): number {
    return this.diff.size;
  }

  get(name: string): string | undefined {
    return this.diff.has(name) ? this.diff.get(name) : this.base.get(name);
  }

  set(name: string, version: string): void {
    if (this.base.get(name) === version) this.diff.delete(name);
    else this.diff.set(name, version);
  }

  delete(name: string): void {
    if (this.base.has(name)) this.diff.set(name, undefined);
    else this.diff.delete(name);
  }

  *names(): IterableIterator<string> {
    for (const name of this.base.keys()) if (this.get(name) !== undefined) yield name;
    for (const [name, version] of this.diff) if (version !== undefined && !this.base.has(name)) yield name;
  }

  /** A copy that later changes to this one do not affect (the base is immutable and shared). */
  clone(): HeldVersions {
    const copy = new HeldVersions();
    copy.base = this.base;
    copy.diff = new Map(this.diff);
    return copy;
  }

  /** Re-expresses the same content relative to `base`, which should be close to it (what was just sent). */
  rebase(base: ReadonlyMap<string, string>): void {
    if (base === this.base) return;
    const diff = new Map<string, string | undefined>();
    for (const name of this.names()) {
      const version = this.get(name)!;
      if (base.get(name) !== version) diff.set(name, version);
    }
    for (const name of base.keys()) if (this.get(name) === undefined) diff.set(name, undefined);
    this.base = base;
    this.diff = diff;
  }
}
