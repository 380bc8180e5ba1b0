import type { HeaderMatch, QueryMatch } from '../config/model.js';
import type * as envoy from './envoy-types.js';

/** Envoy HeaderMatcher / QueryParameterMatcher, shared by route matches and rate limit actions. */
export function headerMatcher(h: HeaderMatch): envoy.HeaderMatcher {
  const out: envoy.HeaderMatcher = { name: h.name };
  const sm = stringMatch(h);
  if (sm) out.string_match = sm;
  else out.present_match = h.present ?? true;
  if (h.invert) out.invert_match = true;
  return out;
}

export function queryMatcher(q: QueryMatch): envoy.QueryParameterMatcher {
  const sm = stringMatch(q);
  return sm ? { name: q.name, string_match: sm } : { name: q.name, present_match: q.present ?? true };
}

function stringMatch(m: { exact?: string; prefix?: string; suffix?: string; regex?: string }): envoy.StringMatcher | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.suffix !== undefined) return { suffix: m.suffix };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}
