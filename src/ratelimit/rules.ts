import type { RateLimitDomain, RateLimitPolicy } from '../config/model.js';
import { DescriptorMatcher, type DescriptorEntry, type LimitedDescriptor } from '../config/ratelimit/match.js';

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
}

/**
 * Which limit applies to a request descriptor: the config's matching rule (DescriptorMatcher, as
 * envoyproxy/ratelimit's GetLimit) yielding the limiter's Rule, with the reference's per-request
 * stats key for detailed_metric.
 */
export class RuleTable {
  private readonly matcher: DescriptorMatcher<Rule>;

  constructor(domains: readonly RateLimitDomain[]) {
    this.matcher = new DescriptorMatcher(domains, ruleOf);
  }

  hasDomain(domain: string): boolean {
    return this.matcher.hasDomain(domain);
  }

  lookup(domain: string, entries: readonly DescriptorEntry[]): Rule | undefined {
    const found = this.matcher.lookup(domain, entries);
    if (found?.detailedMetric) return { ...found, fullKey: `${domain}.${entries.map((e) => `${e.key}_${e.value}`).join('.')}` };
    return found;
  }
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
  };
}
