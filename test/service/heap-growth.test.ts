/** --gc-heap-growth: checked as a flag, and it really changes how often V8 runs full collections. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseHeapGrowth } from '../../src/service/heap-growth.js';
import { banyan } from '../cli/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The compiled child (tsc builds test/ into dist/test before vitest runs).
const child = path.resolve(here, '..', '..', 'dist', 'test', 'service', 'heap-growth-child.js');

async function fullGcs(percent: number): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [child, String(percent)], { timeout: 60_000 });
  return (JSON.parse(stdout) as { kinds: Record<string, number> }).kinds.MarkSweepCompact ?? 0;
}

describe('--gc-heap-growth', () => {
  it('takes 0 or a whole percent from 5 to 400', () => {
    expect(parseHeapGrowth('0')).toBe(0);
    expect(parseHeapGrowth('20')).toBe(20);
    for (const bad of ['4', '401', '12.5', 'lots', '-20']) expect(() => parseHeapGrowth(bad)).toThrow(`"${bad}" is not a heap growth`);
  });

  it('banyan ratelimit refuses a bad value as a usage error before serving', async () => {
    const r = await banyan(['ratelimit', '--config', here, '--gc-heap-growth', '1000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"1000" is not a heap growth');
  });

  it('20% runs several times the full collections of V8 own growth on the same allocations', async () => {
    const [own, small] = await Promise.all([fullGcs(0), fullGcs(20)]);
    expect(own).toBeGreaterThan(0);
    expect(small).toBeGreaterThanOrEqual(2 * own);
  });
});
