import type { LineCounter, Node } from 'yaml';
import type { Diagnostic } from '../config/diagnostics.js';
import type { RateLimitDomain } from '../config/model.js';

export interface RateLimitDomainSource {
  file: string;
  lineCounter: LineCounter;
  /** A YAML map node holding one envoyproxy/ratelimit domain ({ domain, descriptors }). */
  node: Node;
}

/**
 * Validates envoyproxy/ratelimit domain documents (format unchanged) into the typed model.
 * Placeholder signature: the rate limit work replaces the body with the full validation.
 */
export function parseRateLimitDomains(sources: RateLimitDomainSource[]): { domains: RateLimitDomain[]; diagnostics: Diagnostic[] } {
  void sources;
  return { domains: [], diagnostics: [] };
}
