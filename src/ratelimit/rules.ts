import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy } from '../config/model.js';
import { DescriptorMatcher, type DescriptorEntry, type LimitedDescriptor, type MatchStep } from '../config/ratelimit/match.js';
import type { PlainValue } from '../proto/struct.js';

export type { DescriptorEntry };

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
  /** Sent in the response's dynamic metadata when the descriptor is under its limit (reference `metadata`). */
  metadata?: { [key: string]: PlainValue };
  /**
   * Per request entry, the wildcard value ("files/*") that replaces the request's value in the counter
   * key, where the entry matched a share_threshold wildcard; set per request by RuleTable.lookup.
   */
  sharedValues?: (string | undefined)[];
}

/**
 * Which limit applies to a request descriptor: the config's matching rule (DescriptorMatcher, as
 * envoyproxy/ratelimit's GetLimit) yielding the limiter's Rule, with the reference's per-request
 * parts: the stats key (detailed_metric, value_to_metric) and share_threshold's counter key.
 */
export class RuleTable {
  private readonly matcher: DescriptorMatcher<Rule>;

  /** Domains with a share_threshold or value_to_metric descriptor: only their lookups need the match path. */
  private readonly pathDependent: Set<string>;

  constructor(domains: readonly RateLimitDomain[]) {
    this.matcher = new DescriptorMatcher(domains, ruleOf);
    this.pathDependent = new Set(domains.filter((d) => usesPath(d.descriptors)).map((d) => d.domain));
  }

  hasDomain(domain: string): boolean {
    return this.matcher.hasDomain(domain);
  }

  /**
   * The rule for a request descriptor, with its per-request parts as envoyproxy/ratelimit's GetLimit
   * makes them (config_impl.go): share_threshold wildcard values for the counter key, and the stats
   * key, which is the detailed key (every entry key_value) for detailed_metric, else the configured
   * key with value_to_metric levels spelled with the request's value.
   */
  lookup(domain: string, entries: readonly DescriptorEntry[]): Rule | undefined {
    if (!this.pathDependent.has(domain)) {
      const rule = this.matcher.lookup(domain, entries);
      if (rule?.detailedMetric) return { ...rule, fullKey: `${domain}.${entries.map((e) => `${e.key}_${e.value}`).join('.')}` };
      return rule;
    }
    const { found, steps } = this.matcher.lookupPath(domain, entries);
    if (!found) return undefined;
    const shared = steps.map((st, i) => (st?.wildcard && st.descriptor.shareThreshold ? st.wildcard.slice(entries[i].key.length + 1) : undefined));
    const anyShared = shared.some((v) => v !== undefined);
    let fullKey = found.fullKey;
    if (found.detailedMetric) {
      // Every entry as key_value; with share_threshold, those entries as key_pattern and the others
      // as key alone when their value is empty (both as the reference spells them).
      fullKey = anyShared
        ? `${domain}.${entries.map((e, i) => (shared[i] !== undefined ? `${e.key}_${shared[i]}` : spelled(e))).join('.')}`
        : `${domain}.${entries.map((e) => `${e.key}_${e.value}`).join('.')}`;
    } else {
      fullKey = `${domain}.${entries.map((e, i) => statsPart(e, steps[i], shared[i])).join('.')}`;
    }
    if (fullKey === found.fullKey && !anyShared) return found;
    return { ...found, fullKey, ...(anyShared ? { sharedValues: shared } : {}) };
  }
}

function usesPath(descriptors: readonly RateLimitDescriptor[]): boolean {
  return descriptors.some((d) => d.shareThreshold || d.valueToMetric || usesPath(d.descriptors));
}

function spelled(e: DescriptorEntry): string {
  return e.value ? `${e.key}_${e.value}` : e.key;
}

/** One level of the value_to_metric stats key (reference: GetLimit's valueToMetricFullKey). */
function statsPart(e: DescriptorEntry, step: MatchStep | undefined, shared: string | undefined): string {
  if (!step) return e.key;
  if (shared !== undefined) return `${e.key}_${shared}`;
  if (step.wildcard) return step.descriptor.valueToMetric ? spelled(e) : step.wildcard;
  if (step.byValue) return spelled(e);
  return step.descriptor.valueToMetric ? spelled(e) : e.key;
}

function ruleOf(d: LimitedDescriptor, fullKey: string): Rule {
  const limit = d.rateLimit;
  return {
    fullKey,
    policies: limit.unlimited ? [] : [limit, ...d.extraLimits],
    unlimited: limit.unlimited,
    name: limit.name,
    replaces: limit.replaces,
    shadowMode: d.shadowMode,
    detailedMetric: d.detailedMetric,
    quotaMode: d.quotaMode,
    failOpen: d.failOpen,
    ...(d.metadata ? { metadata: d.metadata } : {}),
  };
}
