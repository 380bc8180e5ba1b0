import { Document, LineCounter, type Node } from 'yaml';
import { ConfigError, hasErrors } from '../config/diagnostics.js';
import type { RateLimitDomain } from '../config/model.js';
import { parseRateLimitDomains } from './config.js';

type Obj = Record<string, any>;

/**
 * RateLimitConfig resources (decoded, protobufjs object form) back to domains. They are rewritten in
 * the YAML format and validated by the same parser as files, so a config arriving over xDS meets
 * exactly the checks of one read from disk; diagnostics name the resource as `xds:<name>`.
 */
export function fromRateLimitConfigResources(resources: Obj[]): RateLimitDomain[] {
  const sources = resources.map((r) => {
    const doc = new Document({ domain: r.domain ?? '', descriptors: (r.descriptors ?? []).map(descriptorYaml) });
    return { file: `xds:${r.name || r.domain || '?'}`, lineCounter: new LineCounter(), node: doc.contents as Node };
  });
  const { domains, diagnostics } = parseRateLimitDomains(sources);
  if (hasErrors(diagnostics)) throw new ConfigError(diagnostics);
  return domains;
}

export function fromRateLimitConfigResource(resource: Obj): RateLimitDomain {
  return fromRateLimitConfigResources([resource])[0];
}

function descriptorYaml(d: Obj): Obj {
  const out: Obj = { key: d.key ?? '' };
  if (d.value) out.value = d.value;
  if (d.rate_limit) out.rate_limit = policyYaml(d.rate_limit);
  if (d.descriptors?.length) out.descriptors = d.descriptors.map(descriptorYaml);
  if (d.shadow_mode) out.shadow_mode = true;
  if (d.detailed_metric) out.detailed_metric = true;
  if (d.quota_mode) out.quota_mode = true;
  if (d.fail_open) out.fail_open = Boolean(d.fail_open.value);
  if (d.extra_limits?.length) out.limits = d.extra_limits.map(policyYaml);
  return out;
}

function policyYaml(p: Obj): Obj {
  const out: Obj = {};
  if (p.unit !== undefined && p.unit !== 'UNKNOWN' && p.unit !== 0) out.unit = String(p.unit).toLowerCase();
  if (p.requests_per_unit !== undefined) out.requests_per_unit = Number(p.requests_per_unit);
  if (p.unlimited) out.unlimited = true;
  if (p.name) out.name = p.name;
  if (p.replaces?.length) out.replaces = p.replaces.map((r: Obj) => ({ name: r.name ?? '' }));
  if (p.algorithm && p.algorithm !== 'FIXED') out.algorithm = String(p.algorithm).toLowerCase();
  if (p.window) out.window = `${Number(p.window.seconds ?? 0)}s`;
  return out;
}
