import type { RateLimitDescriptor, RateLimitDomain } from '../model.js';
import './model-ext.js';

/**
 * Structural checks on already-typed domains (from the config loader, xDS or the API), with the
 * reference's wording. YAML input gets the same checks with positions in parse.ts; this guards
 * setConfig against configs built in code.
 */
export function validateDomains(domains: readonly RateLimitDomain[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const d of domains) {
    if (d.domain === '') problems.push('config file cannot have empty domain');
    else if (seen.has(d.domain)) problems.push(`duplicate domain '${d.domain}' in config file`);
    seen.add(d.domain);
    checkDescriptors(d.descriptors, `${d.domain}.`, problems);
  }
  return problems;
}

function checkDescriptors(descriptors: readonly RateLimitDescriptor[], parentKey: string, problems: string[]): void {
  const composite = new Set<string>();
  for (const d of descriptors) {
    if (d.key === '') {
      problems.push('descriptor has empty key');
      continue;
    }
    const finalKey = d.value ? `${d.key}_${d.value}` : d.key;
    if (composite.has(finalKey)) problems.push(`duplicate descriptor composite key '${parentKey}${finalKey}'`);
    composite.add(finalKey);
    if (d.shareThreshold && !finalKey.endsWith('*')) problems.push(`share_threshold can only be used with wildcard values (ending with '*'), but found key '${finalKey}'`);
    if (d.metadata !== undefined && (d.metadata === null || typeof d.metadata !== 'object' || Array.isArray(d.metadata))) problems.push(`metadata of '${parentKey}${finalKey}' must be a map`);
    for (const p of [d.rateLimit, ...d.extraLimits]) {
      if (!p) continue;
      for (const r of p.replaces) {
        if (r === '') problems.push('should not have an empty replaces entry');
        else if (r === p.name) problems.push('replaces should not contain name of same descriptor');
      }
      if (!Number.isInteger(p.requestsPerUnit) || p.requestsPerUnit < 0) problems.push(`invalid requests_per_unit ${p.requestsPerUnit} at '${parentKey}${finalKey}'`);
    }
    checkDescriptors(d.descriptors, `${parentKey}${finalKey}.`, problems);
  }
}
