import { Document, LineCounter, type Node } from 'yaml';
import type { RateLimitConfig } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitConfig.js';
import type { RateLimitDescriptor as DescriptorResource } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitDescriptor.js';
import type { RateLimitPolicy as PolicyResource } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitPolicy.js';
import { ConfigError, hasErrors } from '../diagnostics.js';
import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy } from '../model.js';
import './model-ext.js';
import { parseRateLimitDomains } from './parse.js';

/**
 * The RateLimitConfig resource (ratelimit.config.ratelimit.v3, envoyproxy/ratelimit's xDS form of its
 * YAML) both ways, in one module so the two directions cannot drift: Banyan's compiler builds it
 * (toRateLimitConfig), standalone rate limit replicas read it (fromRateLimitConfigResources).
 */

/** One domain as a RateLimitConfig resource, named after the domain. */
export function toRateLimitConfig(d: RateLimitDomain): RateLimitConfig {
  return { name: d.domain, domain: d.domain, descriptors: d.descriptors.map(descriptorResource) };
}

/**
 * What a domain says that its RateLimitConfig resource cannot carry yet (the proto in protos/ has no
 * field for it), one line per descriptor and key: a replica fed over xDS would enforce less
 * (share_threshold: one counter per value instead of one shared) or report less (value_to_metric,
 * metadata). Empty when the resource says everything. For validate and `banyan proxies` to surface.
 */
export function rateLimitConfigLosses(d: RateLimitDomain): string[] {
  const out: string[] = [];
  const walk = (descriptors: readonly RateLimitDescriptor[], parent: string) => {
    for (const x of descriptors) {
      const key = `${parent}${x.value === undefined ? x.key : `${x.key}_${x.value}`}`;
      if (x.shareThreshold) out.push(`${key}: share_threshold`);
      if (x.valueToMetric) out.push(`${key}: value_to_metric`);
      if (x.metadata) out.push(`${key}: metadata`);
      walk(x.descriptors, `${key}.`);
    }
  };
  walk(d.descriptors, `${d.domain}.`);
  return out;
}

function descriptorResource(d: RateLimitDescriptor): DescriptorResource {
  const out: DescriptorResource = { key: d.key };
  if (d.value !== undefined) out.value = d.value;
  if (d.rateLimit) out.rate_limit = policyResource(d.rateLimit);
  if (d.descriptors.length) out.descriptors = d.descriptors.map(descriptorResource);
  if (d.shadowMode) out.shadow_mode = true;
  if (d.detailedMetric) out.detailed_metric = true;
  if (d.quotaMode) out.quota_mode = true;
  if (d.failOpen !== undefined) out.fail_open = { value: d.failOpen };
  if (d.extraLimits.length) out.extra_limits = d.extraLimits.map(policyResource);
  return out;
}

function policyResource(p: RateLimitPolicy): PolicyResource {
  const out: PolicyResource = p.unlimited ? { unlimited: true } : { unit: upper(p.unit), requests_per_unit: p.requestsPerUnit };
  if (p.name) out.name = p.name;
  if (p.replaces.length) out.replaces = p.replaces.map((name) => ({ name }));
  if (p.algorithm !== 'fixed') out.algorithm = upper(p.algorithm);
  if (p.windowSeconds !== undefined) out.window = { seconds: p.windowSeconds };
  return out;
}

/** The model's enum values are the proto enum names in lower case; toUpperCase is typed only as string. */
function upper<S extends string>(s: S): Uppercase<S> {
  return s.toUpperCase() as Uppercase<S>;
}

/** A decoded resource in protobufjs object form (TO_OBJECT_OPTIONS): untyped until the parser has read it. */
type Obj = Record<string, any>;

/**
 * RateLimitConfig resources back to domains. They are rewritten in the YAML format and validated by
 * the same parser as files, so a config arriving over xDS meets exactly the checks of one read from
 * disk; diagnostics name the resource as `xds:<name>`. Throws ConfigError when any is invalid.
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
