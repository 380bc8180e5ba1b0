/**
 * Banyan's admission and go-control-plane's generated validators (the oracle, test/oracle/) agree: on
 * every planted PGV violation both reject, at the same field; on every golden output and bootstrap
 * both accept. The oracle's own test proves its verdicts; this one holds admission to them.
 */
import { describe, expect, it } from 'vitest';
import { checkResource } from '../../src/admission/resources.js';
import { plantedBases, plantedCases } from '../oracle/planted.js';

/** The oracle writes `typed_config(HttpConnectionManager).x` for fields inside an Any; admission `typed_config.x`. */
const plain = (path: string) => path.replace(/\([A-Za-z0-9_.]+\)/g, '');

describe('admission agrees with go-control-plane ValidateAll', () => {
  const cases = plantedCases();

  it('on a corpus that covers every plantable rule kind', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { findings } = checkResource(c.typeUrl, c.resource);
    expect(findings.map((f) => plain(f.path)), `rule ${c.rule}: ${JSON.stringify(findings)}`).toContain(plain(c.expectPath));
  });

  it('accepts every unmutated base (golden outputs and bootstraps)', () => {
    for (const base of plantedBases()) {
      const { findings } = checkResource(base.typeUrl, base.resource);
      expect(findings, base.name).toEqual([]);
    }
  });
});
