import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy } from '../model.js';

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
    const root = this.domains.get(domain);
    if (!root) return undefined;
    let level = root;
    let found: T | undefined;
    for (let i = 0; i < entries.length; i++) {
      const { key, value } = entries[i];
      const keyValue = `${key}_${value}`;
      let next = level.children.get(keyValue);
      if (!next) {
        const wildcard = level.wildcards.find((w) => globMatch(w.parts, keyValue));
        if (wildcard) next = level.children.get(wildcard.key);
      }
      next ??= level.children.get(key);
      if (next?.limit !== undefined && i === entries.length - 1) found = next.limit;
      if (!next || next.children.size === 0) break;
      level = next;
    }
    return found;
  }
}

function load<T>(level: Level<T>, descriptors: readonly RateLimitDescriptor[], parentKey: string, limitOf: LimitOf<T>): void {
  for (const d of descriptors) {
    const finalKey = d.value === undefined ? d.key : `${d.key}_${d.value}`;
    const child = emptyLevel<T>();
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
