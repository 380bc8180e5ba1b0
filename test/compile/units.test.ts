import { describe, expect, it } from 'vitest';
import { statusRanges } from '../../src/compile/cluster.js';
import { fractionalPercent } from '../../src/compile/util.js';
import { duration } from '../../src/compile/util.js';

describe('compile helpers', () => {
  it('picks the coarsest exact FractionalPercent denominator, rounding only at MILLION', () => {
    expect(fractionalPercent(5)).toEqual({ numerator: 5, denominator: 'HUNDRED' });
    expect(fractionalPercent(0.25)).toEqual({ numerator: 25, denominator: 'TEN_THOUSAND' });
    expect(fractionalPercent(0.001)).toEqual({ numerator: 10, denominator: 'MILLION' });
    expect(fractionalPercent(1 / 3)).toEqual({ numerator: 3333, denominator: 'MILLION' });
    expect(fractionalPercent(100)).toEqual({ numerator: 100, denominator: 'HUNDRED' });
  });

  it('turns expected statuses into half-open ranges, merging neighbours and duplicates', () => {
    expect(statusRanges([204, 200, 201, 201, 202])).toEqual([
      { start: 200, end: 203 },
      { start: 204, end: 205 },
    ]);
  });

  it('writes milliseconds as Duration seconds + nanos', () => {
    expect(duration(1500)).toEqual({ seconds: 1, nanos: 500_000_000 });
    expect(duration(90_000)).toEqual({ seconds: 90 });
    expect(duration(0)).toEqual({ seconds: 0 });
  });
});
