import { describe, expect, it } from 'vitest';
import { HeldVersions, versionsOf } from '../../src/xds/held.js';

/** Small deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('HeldVersions (delta: what a client holds, relative to a shared selection)', () => {
  it('behaves exactly like a plain name → version map under any mix of set, delete and rebase', () => {
    const rand = rng(7);
    const pick = (n: number) => Math.floor(rand() * n);
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
    const held = new HeldVersions();
    const model = new Map<string, string>();
    for (let step = 0; step < 3000; step++) {
      const op = pick(11);
      if (op < 4) {
        const name = names[pick(names.length)];
        const version = `v${pick(3)}`;
        held.set(name, version);
        model.set(name, version);
      } else if (op < 7) {
        const name = names[pick(names.length)];
        held.delete(name);
        model.delete(name);
      } else if (op < 8) {
        // A clone is an independent snapshot: changing the clone leaves the original alone.
        const copy = held.clone();
        copy.set(names[0], 'other');
        copy.delete(names[1]);
      } else {
        const base = new Map(names.filter(() => rand() < 0.5).map((n) => [n, `v${pick(3)}`]));
        held.rebase(base);
      }
      for (const name of names) expect(held.get(name), `step ${step}, ${name}`).toBe(model.get(name));
      expect([...held.names()].sort(), `step ${step}`).toEqual([...model.keys()].sort());
    }
  });

  it('shares one version map per selection, and a rebased stream in sync keeps no differences of its own', () => {
    const sel = { version: 'x', resources: [{ name: 'a', version: '1' }, { name: 'b', version: '2' }] as never[] };
    expect(versionsOf(sel)).toBe(versionsOf(sel));
    const held = new HeldVersions();
    held.set('a', '1');
    held.set('b', '2');
    held.rebase(versionsOf(sel));
    expect(held.ownEntries).toBe(0);
    expect([...held.names()]).toEqual(['a', 'b']);
  });
});
