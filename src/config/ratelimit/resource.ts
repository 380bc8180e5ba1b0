import { Document, LineCounter, type Node } from 'yaml';
import type { RateLimitConfig } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitConfig.js';
import type { RateLimitDescriptor as DescriptorResource } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitDescriptor.js';
import type { RateLimitPolicy as PolicyResource } from '../../proto/generated/ratelimit/config/ratelimit/v3/RateLimitPolicy.js';
import { ConfigError, hasErrors } from '../diagnostics.js';
import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy, RateLimitUnit, SourcePos } from '../model.js';
import { plainToStruct, structToPlain } from '../../proto/struct.js';
import './model-ext.js';
import { parseRateLimitDomains } from './parse.js';
import { UNIT_SECONDS } from './units.js';

/**
 * The RateLimitConfig resource (ratelimit.config.ratelimit.v3, envoyproxy/ratelimit's xDS form of its
 * YAML) both ways, in one module so the two directions cannot drift: Banyan's compiler builds it
 * (toRateLimitConfig), standalone rate limit replicas read it (fromRateLimitConfigResources).
 */

/** One domain as a RateLimitConfig resource, named after the domain. */
export function toRateLimitConfig(d: RateLimitDomain): RateLimitConfig {
  return { name: d.domain, domain: d.domain, descriptors: d.descriptors.map(descriptorResource) };
}

declare module '../model.js' {
  interface RateLimitDomain {
    /**
     * `compat: reference`: the operator accepts that a RateLimitConfig consumer which is not Banyan
     * (envoyproxy/ratelimit) enforces this domain in the reference's fields only: rounded to a
     * stricter-or-equal limit where they cannot say it exactly, and without what they cannot say at
     * all (rateLimitConfigLosses). Unset: such a domain is an error in validate.
     */
    compat?: 'reference';
  }
}

/** The user agent Banyan's own rate limit replicas send in their xDS node (`banyan ratelimit --xds`). */
export const BANYAN_RATELIMIT_USER_AGENT = 'banyan-ratelimit';

/** Whether an xDS node that subscribes to RateLimitConfig reads Banyan's extension fields. */
export function isBanyanRateLimitConsumer(userAgentName: string | undefined): boolean {
  return userAgentName === BANYAN_RATELIMIT_USER_AGENT;
}

/**
 * What a consumer that is not Banyan (envoyproxy/ratelimit, which reads only the reference's fields)
 * gets different from what the domain says, one entry per descriptor and feature:
 * - `stricter`: the reference fields carry a stricter-or-equal rendering (a 5m window of 3 as 3/HOUR,
 *   sliding or GCRA as a fixed window of half the limit, several limits as one): never more permissive,
 *   but it refuses requests Banyan would let through;
 * - `weaker`: nothing in the reference's fields can say it, and without it the reference is more
 *   permissive (share_threshold: one counter per value instead of one shared);
 * - `failure-mode`: fail_open has no reference field; the reference fails the call and Envoy's
 *   failure_mode_deny decides;
 * - `stats`: only the stats differ (value_to_metric).
 * Empty when the reference fields say everything. The one home for "what is lost": validate
 * (src/admission/ratelimit.ts) and `banyan proxies` (rateLimitConsumerFindings) read it.
 */
export interface RateLimitConfigLoss {
  /** The descriptor's full key, `domain.key_value.key`. */
  key: string;
  feature: 'window' | 'algorithm' | 'limits' | 'share_threshold' | 'fail_open' | 'value_to_metric';
  effect: 'stricter' | 'weaker' | 'failure-mode' | 'stats';
  detail: string;
  pos: SourcePos;
}

export function rateLimitConfigLosses(d: RateLimitDomain): RateLimitConfigLoss[] {
  const out: RateLimitConfigLoss[] = [];
  const walk = (descriptors: readonly RateLimitDescriptor[], parent: string) => {
    for (const x of descriptors) {
      const key = `${parent}${x.value === undefined ? x.key : `${x.key}_${x.value}`}`;
      const loss = (feature: RateLimitConfigLoss['feature'], effect: RateLimitConfigLoss['effect'], detail: string) => out.push({ key, feature, effect, detail, pos: x.pos });
      const limits = [x.rateLimit, ...x.extraLimits].filter((p): p is RateLimitPolicy => p !== undefined && !p.unlimited);
      const r = referenceRendering(x);
      if (r) {
        const said = limits.map(describePolicy).join(' and ');
        const feature = x.extraLimits.length ? 'limits' : limits.some((p) => p.algorithm !== 'fixed') ? 'algorithm' : 'window';
        if (r.weaker) loss(feature, 'weaker', `${said}: no rendering in the reference's fields is stricter or equal (${r.weaker})`);
        else loss(feature, 'stricter', `${said}: the reference enforces ${r.requestsPerUnit}/${r.unit.toUpperCase()} (stricter or equal)`);
      }
      if (x.shareThreshold) loss('share_threshold', 'weaker', 'the reference counts every value matched by the wildcard separately (share_threshold has no field in its proto), each up to the limit');
      if (x.failOpen !== undefined) loss('fail_open', 'failure-mode', `fail_open: ${x.failOpen} has no reference field: the reference fails the call and Envoy's failure_mode_deny decides`);
      if (x.valueToMetric) loss('value_to_metric', 'stats', 'value_to_metric has no field in the reference proto: its stats use the configured key');
      walk(x.descriptors, `${key}.`);
    }
  };
  walk(d.descriptors, `${d.domain}.`);
  return out;
}

/** A loss as one line: `key: feature (effect): detail`. */
export function formatRateLimitConfigLoss(l: RateLimitConfigLoss): string {
  return `${l.key}: ${l.feature} (${l.effect}): ${l.detail}`;
}

/**
 * For `banyan proxies` / status: what a connected RateLimitConfig consumer is served weaker or
 * otherwise than configured, when it is not Banyan (by its node's user agent). Empty for Banyan's own
 * replicas, and for domains that opted in with `compat: reference` (their losses are accepted).
 */
export function rateLimitConsumerFindings(domains: readonly RateLimitDomain[], userAgentName: string | undefined): string[] {
  if (isBanyanRateLimitConsumer(userAgentName)) return [];
  return domains.filter((d) => d.compat !== 'reference').flatMap((d) => rateLimitConfigLosses(d).filter((l) => l.effect !== 'stats').map(formatRateLimitConfigLoss));
}

const REFERENCE_UNITS: readonly RateLimitUnit[] = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'];

function describePolicy(p: RateLimitPolicy): string {
  const window = p.windowSeconds !== undefined ? `window ${p.windowSeconds}s` : p.unit;
  return `${p.requestsPerUnit} per ${window}${p.algorithm !== 'fixed' ? ` (${p.algorithm})` : ''}`;
}

/** A policy the reference's fields say exactly: a fixed window of one of its units. */
function exact(p: RateLimitPolicy): boolean {
  return p.unlimited || (p.algorithm === 'fixed' && (p.windowSeconds === undefined || p.windowSeconds === UNIT_SECONDS[p.unit]));
}

/**
 * The one policy the reference enforces for a descriptor whose limits its fields cannot say exactly,
 * stricter or equal to all of them; undefined when they can (a single fixed limit of a reference unit).
 * - A fixed window W of N: the smallest unit U whose length W divides (U's epoch-aligned buckets hold
 *   whole W buckets), N per U; if none divides, the smallest U ≥ W and ⌊N/2⌋ (a W bucket spans at most
 *   two U buckets).
 * - Sliding or GCRA over W of N: the smallest U ≥ W, ⌊N/2⌋ per U (any W interval spans at most two
 *   U buckets, so at most N pass in it).
 * - Several limits: the largest U of their renderings, the least N (halved for a limit whose U does
 *   not divide it), so every limit holds.
 * `weaker` says why no stricter-or-equal rendering exists (a window longer than a year).
 */
export function referenceRendering(x: Pick<RateLimitDescriptor, 'rateLimit' | 'extraLimits'>): { unit: RateLimitUnit; requestsPerUnit: number; weaker?: string } | undefined {
  const limits = [x.rateLimit, ...x.extraLimits].filter((p): p is RateLimitPolicy => p !== undefined);
  if (limits.length === 0 || (limits.length === 1 && exact(limits[0]))) return undefined;
  if (x.rateLimit?.unlimited) return undefined;
  const finite = limits.filter((p) => !p.unlimited);
  if (!x.rateLimit) return { unit: 'second', requestsPerUnit: 0, weaker: 'limits without rate_limit: the reference reads no limit' };
  const rendered: { unit: RateLimitUnit; n: number }[] = [];
  for (const p of finite) {
    const w = p.windowSeconds ?? UNIT_SECONDS[p.unit];
    const atLeast = REFERENCE_UNITS.filter((u) => UNIT_SECONDS[u] >= w).sort((a, b) => UNIT_SECONDS[a] - UNIT_SECONDS[b]);
    if (atLeast.length === 0) return { unit: 'year', requestsPerUnit: 0, weaker: `a window of ${w}s is longer than the reference's longest unit` };
    const dividing = p.algorithm === 'fixed' ? atLeast.find((u) => UNIT_SECONDS[u] % w === 0) : undefined;
    rendered.push(dividing ? { unit: dividing, n: p.requestsPerUnit } : { unit: atLeast[0], n: Math.floor(p.requestsPerUnit / 2) });
  }
  const unit = rendered.reduce((a, b) => (UNIT_SECONDS[b.unit] > UNIT_SECONDS[a] ? b.unit : a), rendered[0].unit);
  const requestsPerUnit = Math.min(...rendered.map((r) => (UNIT_SECONDS[unit] % UNIT_SECONDS[r.unit] === 0 ? r.n : Math.floor(r.n / 2))));
  return { unit, requestsPerUnit };
}

function descriptorResource(d: RateLimitDescriptor): DescriptorResource {
  const out: DescriptorResource = { key: d.key };
  if (d.value !== undefined) out.value = d.value;
  if (d.rateLimit) {
    out.rate_limit = policyResource(d.rateLimit);
    const r = referenceRendering(d);
    if (r && !r.weaker) {
      // The reference reads unit / requests_per_unit: the stricter-or-equal rendering. Banyan reads the exact policy.
      out.rate_limit.banyan_unit = upper(d.rateLimit.unit);
      out.rate_limit.banyan_requests_per_unit = { value: d.rateLimit.requestsPerUnit };
      out.rate_limit.unit = upper(r.unit);
      out.rate_limit.requests_per_unit = r.requestsPerUnit;
    }
  }
  if (d.descriptors.length) out.descriptors = d.descriptors.map(descriptorResource);
  if (d.shadowMode) out.shadow_mode = true;
  if (d.detailedMetric) out.detailed_metric = true;
  if (d.quotaMode) out.quota_mode = true;
  if (d.metadata) out.metadata = plainToStruct(d.metadata);
  if (d.failOpen !== undefined) out.fail_open = { value: d.failOpen };
  if (d.extraLimits.length) out.extra_limits = d.extraLimits.map(policyResource);
  if (d.shareThreshold) out.share_threshold = true;
  if (d.valueToMetric) out.value_to_metric = true;
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
  if (d.share_threshold) out.share_threshold = true;
  if (d.value_to_metric) out.value_to_metric = true;
  if (d.metadata) out.metadata = structToPlain(d.metadata);
  if (d.fail_open) out.fail_open = Boolean(d.fail_open.value);
  if (d.extra_limits?.length) out.limits = d.extra_limits.map(policyYaml);
  return out;
}

function policyYaml(p: Obj): Obj {
  const out: Obj = {};
  // The exact limit when the reference fields hold a stricter rendering of it.
  const unit = p.banyan_requests_per_unit ? p.banyan_unit : p.unit;
  const requests = p.banyan_requests_per_unit ? (p.banyan_requests_per_unit.value ?? 0) : p.requests_per_unit;
  if (unit !== undefined && unit !== 'UNKNOWN' && unit !== 0) out.unit = String(unit).toLowerCase();
  if (requests !== undefined) out.requests_per_unit = Number(requests);
  if (p.unlimited) out.unlimited = true;
  if (p.name) out.name = p.name;
  if (p.replaces?.length) out.replaces = p.replaces.map((r: Obj) => ({ name: r.name ?? '' }));
  if (p.algorithm && p.algorithm !== 'FIXED') out.algorithm = String(p.algorithm).toLowerCase();
  if (p.window) out.window = `${Number(p.window.seconds ?? 0)}s`;
  return out;
}
