import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy } from '../config/model.js';

/** One configured limit as the limiter sees it: envoyproxy/ratelimit's config.RateLimit plus Banyan's extensions. */
export interface Rule {
  /** Stats key, "domain.key_value.subkey" as the reference names it (per request when detailed_metric). */
  fullKey: string;
  /** Empty only when unlimited. The first is the reference's single limit; the rest are Banyan extras. */
  policies: RateLimitPolicy[];
  unlimited: boolean;
  name?: string;
  replaces: string[];
  shadowMode: boolean;
  detailedMetric: boolean;
  quotaMode: boolean;
  failOpen?: boolean;
}

export interface DescriptorEntry {
  key: string;
  value: string;
}

interface Level {
  children: Map<string, Level>;
  /** Keys containing `*`, in declaration order: tried after the exact key_value and before the bare key. */
  wildcards: { key: string; parts: string[] }[];
  rule?: Rule;
}

const emptyLevel = (): Level => ({ children: new Map(), wildcards: [] });

/**
 * The loaded descriptor tree of every domain, answering "which limit applies to this request
 * descriptor" exactly as envoyproxy/ratelimit's GetLimit does (see `lookup`).
 */
export class RuleTable {
  private readonly domains = new Map<string, Level>();

  constructor(domains: readonly RateLimitDomain[]) {
    for (const d of domains) {
      const root = emptyLevel();
      load(root, d.descriptors, `${d.domain}.`);
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
  lookup(domain: string, entries: readonly DescriptorEntry[]): Rule | undefined {
    const root = this.domains.get(domain);
    if (!root) return undefined;
    let level = root;
    let found: Rule | undefined;
    for (let i = 0; i < entries.length; i++) {
      const { key, value } = entries[i];
      const keyValue = `${key}_${value}`;
      let next = level.children.get(keyValue);
      if (!next) {
        const wildcard = level.wildcards.find((w) => globMatch(w.parts, keyValue));
        if (wildcard) next = level.children.get(wildcard.key);
      }
      next ??= level.children.get(key);
      if (next?.rule && i === entries.length - 1) found = next.rule;
      if (!next || next.children.size === 0) break;
      level = next;
    }
    if (found?.detailedMetric) return { ...found, fullKey: `${domain}.${entries.map((e) => `${e.key}_${e.value}`).join('.')}` };
    return found;
  }
}

function load(level: Level, descriptors: readonly RateLimitDescriptor[], parentKey: string): void {
  for (const d of descriptors) {
    const finalKey = d.value === undefined ? d.key : `${d.key}_${d.value}`;
    const child = emptyLevel();
    if (d.rateLimit) {
      const policies = [d.rateLimit, ...d.extraLimits];
      child.rule = {
        fullKey: parentKey + finalKey,
        policies: d.rateLimit.unlimited ? [] : policies,
        unlimited: d.rateLimit.unlimited,
        name: d.rateLimit.name,
        replaces: d.rateLimit.replaces,
        shadowMode: d.shadowMode,
        detailedMetric: d.detailedMetric,
        quotaMode: d.quotaMode,
        failOpen: d.failOpen,
      };
    }
    load(child, d.descriptors, `${parentKey}${finalKey}.`);
    level.children.set(finalKey, child);
    if (finalKey.includes('*')) level.wildcards.push({ key: finalKey, parts: finalKey.split('*') });
  }
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
