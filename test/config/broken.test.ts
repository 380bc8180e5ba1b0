import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/config/load.js';
import { expectErrorAt, readExpectFixtures } from '../support/expect-fixtures.js';

/**
 * Each file under test/fixtures/broken/ states on its first line where the error must be reported
 * and what it must say: `# expect: LINE:COL message substring`.
 */
const dir = join(import.meta.dirname, '../fixtures/broken');
const cases = readExpectFixtures(dir);

describe('broken fixtures', () => {
  it('has at least 30 of them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('$name', (fixture) => {
    const result = loadConfigFromString(fixture.text, fixture.name);
    expect(result.config).toBeUndefined();
    expectErrorAt(result.diagnostics, fixture);
  });
});
