/**
 * Domain errors are BanyanErrors with a code (src/errors.ts); what kind of failure an error is,
 * and so its HTTP status or exit code, is read from that code. This scan fails when src/ throws a
 * RangeError as a domain error again, or decides something by matching an error's message text.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Messages Banyan does not write, so no code can be read instead. */
const FOREIGN: Record<string, string> = {
  // node-postgres gives some connection failures no code, only a message.
  'store/pg-errors.ts': 'pg driver messages',
  // zod's issue message: its default text is how a union without its own message is told apart.
  'config/issues.ts': "zod's default issue message",
  // A Redis error reply is text whose first word is Redis's own error code (READONLY after a failover).
  'ratelimit/backend/redis.ts': 'Redis error replies',
};

const RULES: [string, RegExp][] = [
  ['RangeError as a domain error', /\b(new|extends)\s+RangeError\b/],
  ['a message matched with a string method', /\.message\)?\s*\.\s*(includes|startsWith|endsWith|match|matchAll|search|indexOf)\s*\(/],
  ['a message matched with a regex', /\.(test|exec)\s*\([^;]*\.message\b/],
  ['a message compared', /\.message\)?\s*[!=]==?\s*['"`]/],
];

export function findings(file: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const [what, re] of RULES) if (re.test(line)) out.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
  });
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('error kinds come from codes, not message text', () => {
  it('src/ throws no RangeError and matches no error message', () => {
    const found = sources(SRC).flatMap((f) => {
      const rel = path.relative(SRC, f).split(path.sep).join('/');
      return FOREIGN[rel] ? [] : findings(rel, readFileSync(f, 'utf8'));
    });
    expect(found).toEqual([]);
  });

  it('catches what main had before the codes', () => {
    const planted = [
      "if (!old) throw new RangeError(`no config version ${target}`);",
      'if (err instanceof OverrideError) return new HttpError(/^unknown route/.test(err.message) ? 404 : 400, err.message);',
      "throw new RolloutError(/^unknown route/.test((err as Error).message) ? 'not-found' : 'bad-input', (err as Error).message);",
      "const ambiguous = (err as Error).message.includes('ambiguous');",
      "if (err.message === 'no config applied yet') return 503;",
    ].join('\n');
    expect(findings('planted.ts', planted)).toHaveLength(5);
    expect(findings('clean.ts', "throw new BanyanError('not-found', `no config version ${target}`);\nif (err.code === 'unknown-route') return 404;")).toEqual([]);
  });
});
