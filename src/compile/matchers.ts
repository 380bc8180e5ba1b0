import type { HeaderMatch, QueryMatch } from '../config/model.js';
import type { EnvoyResource } from './types.js';

/** Envoy HeaderMatcher / QueryParameterMatcher, shared by route matches and rate limit actions. */
export function headerMatcher(h: HeaderMatch): EnvoyResource {
  const out: EnvoyResource = { name: h.name };
  const sm = stringMatch(h);
  if (sm) out.string_match = sm;
  else out.present_match = h.present ?? true;
  if (h.invert) out.invert_match = true;
  return out;
}

export function queryMatcher(q: QueryMatch): EnvoyResource {
  const sm = stringMatch(q);
  return sm ? { name: q.name, string_match: sm } : { name: q.name, present_match: q.present ?? true };
}

function stringMatch(m: { exact?: string; prefix?: string; suffix?: string; regex?: string }): Record<string, unknown> | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.suffix !== undefined) return { suffix: m.suffix };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}
