import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';

export interface ExpectFixture {
  name: string;
  text: string;
  line: number;
  col: number;
  message: string;
}

/**
 * The YAML files of a fixture directory whose first line says where the error must be reported and
 * what it must say: `# expect: LINE:COL message substring`.
 */
export function readExpectFixtures(dir: string): ExpectFixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), 'utf8');
      const m = /^# expect: (\d+):(\d+) (.+)$/.exec(text.split('\n')[0]);
      if (!m) throw new Error(`${name}: first line must be "# expect: LINE:COL message"`);
      return { name, text, line: Number(m[1]), col: Number(m[2]), message: m[3] };
    });
}

/** Asserts that `diagnostics` hold the error the fixture's first line promises, in the fixture's file. */
export function expectErrorAt(diagnostics: readonly Diagnostic[], f: ExpectFixture): void {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const hit = errors.find((d) => d.line === f.line && d.col === f.col && d.message.includes(f.message));
  expect(hit, `expected ${f.line}:${f.col} "${f.message}", got:\n${diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
  expect(hit!.file).toBe(f.name);
}
