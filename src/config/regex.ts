/**
 * Envoy matches with RE2, which JavaScript cannot run. We compile with RegExp to catch syntax errors
 * and refuse the constructs RE2 lacks (look-around, back-references), so a config that validates
 * here is not NACKed by the proxy.
 */
const RE2_UNSUPPORTED: [RegExp, string][] = [
  [/\(\?<?[=!]/, 'look-around assertions'],
  [/\\[1-9]/, 'back-references'],
  [/\\k</, 'named back-references'],
];

/** Why `source` is not a usable RE2 pattern, or undefined. */
export function regexProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (err) {
    return `invalid regex "${source}": ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/\w*: /, '')}`;
  }
  for (const [pattern, what] of RE2_UNSUPPORTED) {
    if (pattern.test(source)) return `invalid regex "${source}": Envoy's RE2 does not support ${what}`;
  }
  return undefined;
}
