import { RE2JS } from 're2js';

/**
 * Envoy matches with RE2, so patterns are checked with RE2's own parser (re2js, a port of RE2/J):
 * what RE2 accepts and JavaScript does not (`(?i)`, `(?P<name>…)`) is valid, and what JavaScript
 * accepts but RE2 refuses (look-around, back-references, `\Z`, repeats over 1000) is an error here,
 * not a NACK from the proxy.
 */
export function regexProblem(source: string): string | undefined {
  try {
    RE2JS.compile(source);
    return undefined;
  } catch (err) {
    return `invalid regex "${source}" (Envoy's RE2): ${(err as Error).message.replace(/^error parsing regexp: /, '')}`;
  }
}
