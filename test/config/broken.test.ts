import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';

/**
 * Each file under test/fixtures/broken/ states on its first line where the error must be reported
 * and what it must say: `# expect: LINE:COL message substring`.
 */
const dir = join(import.meta.dirname, '../fixtures/broken');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((name) => {
    const text = readFileSync(join(dir, name), 'utf8');
    const m = /^# expect: (\d+):(\d+) (.+)$/.exec(text.split('\n')[0]);
    if (!m) throw new Error(`${name}: first line must be "# expect: LINE:COL message"`);
    return { name, text, line: Number(m[1]), col: Number(m[2]), message: m[3] };
  });

describe('broken fixtures', () => {
  it('has at least 30 of them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('$name', ({ name, text, line, col, message }) => {
    const result = loadConfigFromString(text, name);
    expect(result.config).toBeUndefined();
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    const hit = errors.find((d) => d.line === line && d.col === col && d.message.includes(message));
    expect(hit, `expected ${line}:${col} "${message}", got:\n${result.diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
    expect(hit!.file).toBe(name);
  });
});
