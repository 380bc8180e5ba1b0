/**
 * Structural comparison helpers shared by the config and xDS diffs. Source positions are dropped
 * before comparing: moving a route down a file is not a change an operator needs to hear about.
 */

/** JSON with object keys sorted, so equal values always produce equal strings. */
export function canonicalJson(value: unknown, dropKeys: ReadonlySet<string> = new Set()): string {
  return JSON.stringify(normalize(value, dropKeys));
}

function normalize(value: unknown, dropKeys: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, dropKeys));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (dropKeys.has(key)) continue;
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalize(v, dropKeys);
    }
    return out;
  }
  return value;
}

/** Top-level keys of two objects whose values differ (after dropping `dropKeys`). */
export function changedKeys(a: object, b: object, dropKeys: ReadonlySet<string> = new Set()): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys]
    .filter((k) => !dropKeys.has(k))
    .filter((k) => canonicalJson((a as Record<string, unknown>)[k], dropKeys) !== canonicalJson((b as Record<string, unknown>)[k], dropKeys))
    .sort();
}

export interface NamedDiff {
  added: string[];
  removed: string[];
  /** Names present on both sides with different content, and which fields differ. */
  changed: { name: string; fields: string[] }[];
}

/** Compares two collections of named items by name. */
export function diffNamed<T extends object>(
  before: ReadonlyMap<string, T>,
  after: ReadonlyMap<string, T>,
  dropKeys: ReadonlySet<string> = new Set(),
): NamedDiff {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed: NamedDiff['changed'] = [];
  for (const [name, a] of before) {
    const b = after.get(name);
    if (!b) continue;
    const fields = changedKeys(a, b, dropKeys);
    if (fields.length > 0) changed.push({ name, fields });
  }
  return { added, removed, changed };
}

export function isEmptyNamedDiff(d: NamedDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0;
}

/** "1 route" / "2 routes". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
