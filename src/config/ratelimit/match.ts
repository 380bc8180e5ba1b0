import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy } from '../model.js';
import './model-ext.js';

/** A descriptor that carries a limit: what `limitOf` is given. */
export type LimitedDescriptor = RateLimitDescriptor & { rateLimit: RateLimitPolicy };

type LimitOf<T> = (descriptor: LimitedDescriptor, fullKey: string) => T;

export interface DescriptorEntry {
  key: string;
  value: string;
}

interface Level<T> {
  children: Map<string, Level<T>>;
  /** Keys containing `*`, in declaration order: tried after the exact key_value and before the bare key. */
  wildcards: { key: string; parts: string[] }[];
  limit?: T;
  /** The configured descriptor this level is (absent at a domain's root). */
  descriptor?: RateLimitDescriptor;
}

/** How one request entry was matched, for keys that depend on the path taken (share_threshold, value_to_metric). */
export interface MatchStep {
  /** The configured descriptor the entry matched. */
  descriptor: RateLimitDescriptor;
  /** The configured wildcard key ("key_prefix*") the entry matched through, if it did. */
  wildcard?: string;
  /** Matched on its value (exactly or through a wildcard); false when it fell back to the bare key. */
  byValue: boolean;
}

const emptyLevel = <T>(): Level<T> => ({ children: new Map(), wildcards: [] });

/**
 * envoyproxy/ratelimit's descriptor matching (GetLimit) over every domain's descriptor tree, in one
 * place: the rate limit service enforces with it, and the config cross-check asks it whether a
 * route's descriptor can ever match. What a match yields is the caller's (`limitOf`, called once per
 * descriptor with a `rate_limit`), so the rule knows nothing of limiters.
 */
export class DescriptorMatcher<T> {
  private readonly domains = new Map<string, Level<T>>();

  constructor(domains: readonly RateLimitDomain[], limitOf: LimitOf<T>) {
    for (const d of domains) {
      const root = emptyLevel<T>();
      load(root, d.descriptors, `${d.domain}.`, limitOf);
      this.domains.set(d.domain, root);
    }
  }

  hasDomain(domain: string): boolean {
    return this.domains.has(domain);
  }

  /**
   * Per level: the exact "key_value", else the first wildcard (declaration order) matching "key_value",
   * else the bare key. A limit counts only at the request's last entry (depth must match); the walk
   * stops where the tree has no children, so a deeper request falls through to no limit.
   */
  lookup(domain: string, entries: readonly DescriptorEntry[]): T | undefined {
    return this.lookupPath(domain, entries).found;
  }

  /** lookup, plus how each entry walked was matched (one step per entry until the walk stopped). */
  lookupPath(domain: string, entries: readonly DescriptorEntry[]): { found?: T; steps: (MatchStep | undefined)[] } {
    const steps: (MatchStep | undefined)[] = [];
    const root = this.domains.get(domain);
    if (!root) return { steps };
    let level = root;
    let found: T | undefined;
    for (let i = 0; i < entries.length; i++) {
      const { key, value } = entries[i];
      const keyValue = `${key}_${value}`;
      let next = level.children.get(keyValue);
      let wildcardKey: string | undefined;
      if (!next) {
        const wildcard = level.wildcards.find((w) => globMatch(w.parts, keyValue));
        if (wildcard) {
          next = level.children.get(wildcard.key);
          wildcardKey = wildcard.key;
        }
      }
      const byValue = next !== undefined;
      next ??= level.children.get(key);
      steps.push(next?.descriptor ? { descriptor: next.descriptor, byValue, ...(wildcardKey ? { wildcard: wildcardKey } : {}) } : undefined);
      if (next?.limit !== undefined && i === entries.length - 1) found = next.limit;
      if (!next || next.children.size === 0) break;
      level = next;
    }
    return { found, steps };
  }
}

function load<T>(level: Level<T>, descriptors: readonly RateLimitDescriptor[], parentKey: string, limitOf: LimitOf<T>): void {
  for (const d of descriptors) {
    const finalKey = d.value === undefined ? d.key : `${d.key}_${d.value}`;
    const child: Level<T> = { ...emptyLevel<T>(), descriptor: d };
    if (hasLimit(d)) child.limit = limitOf(d, parentKey + finalKey);
    load(child, d.descriptors, `${parentKey}${finalKey}.`, limitOf);
    level.children.set(finalKey, child);
    if (finalKey.includes('*')) level.wildcards.push({ key: finalKey, parts: finalKey.split('*') });
  }
}

function hasLimit(d: RateLimitDescriptor): d is LimitedDescriptor {
  return d.rateLimit !== undefined;
}

/**
 * `*` matches any run of characters (including none), anywhere in the pattern. A single trailing `*`
 * is therefore the reference's prefix match.
 */
export function globMatch(parts: readonly string[], text: string): boolean {
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!text.startsWith(first)) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = text.indexOf(parts[i], at);
    if (found < 0) return false;
    at = found + parts[i].length;
  }
  return text.length - at >= last.length && text.endsWith(last);
}
