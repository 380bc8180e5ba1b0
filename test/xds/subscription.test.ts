import { describe, expect, it } from 'vitest';
import { contentVersion, setVersion } from '../../src/xds/hash.js';
import { Subscription } from '../../src/xds/subscription.js';

describe('Subscription (xDS "how the client specifies what resources to return")', () => {
  it('follows the SotW legacy-wildcard sequence from the spec', () => {
    const s = new Subscription();
    s.replace([]);
    expect(s.toJSON()).toEqual(['*']); // never named anything: wildcard
    s.replace(['*', 'A']);
    expect(s.toJSON()).toEqual(['*', 'A']);
    s.replace(['A']);
    expect(s.toJSON()).toEqual(['A']);
    s.replace([]);
    expect(s.toJSON()).toEqual([]); // once explicit, empty means nothing, not wildcard
  });

  it('follows the delta sequence from the spec', () => {
    const s = new Subscription();
    s.apply([], [], true);
    expect(s.toJSON()).toEqual(['*']);
    s.apply(['A'], [], false);
    expect(s.toJSON()).toEqual(['*', 'A']);
    s.apply([], ['*'], false);
    expect(s.toJSON()).toEqual(['A']);
    s.apply([], ['A'], false);
    expect(s.toJSON()).toEqual([]);
  });

  it('reports whether a SotW request changed the subscription, ignoring name order', () => {
    const s = new Subscription();
    expect(s.replace(['b', 'a'])).toBe(true);
    expect(s.replace(['a', 'b'])).toBe(false);
    expect(s.replace(['a', 'b', 'c'])).toBe(true);
  });

  it('keeps api listeners out of the wildcard but not out of names', () => {
    const s = new Subscription();
    s.replace(['*']);
    expect(s.covers('orders', true)).toBe(false);
    expect(s.covers('edge', false)).toBe(true);
    s.replace(['*', 'orders']);
    expect(s.covers('orders', true)).toBe(true);
  });
});

describe('versions', () => {
  it('are content hashes: independent of order, sensitive to any member', () => {
    const a = { name: 'a', version: contentVersion(Buffer.from('1')) };
    const b = { name: 'b', version: contentVersion(Buffer.from('2')) };
    expect(setVersion([a, b])).toBe(setVersion([b, a]));
    expect(setVersion([a, b])).not.toBe(setVersion([a, { ...b, version: contentVersion(Buffer.from('3')) }]));
    expect(setVersion([a])).not.toBe(setVersion([a, b]));
    expect(contentVersion(Buffer.from('x'))).toBe(contentVersion(Buffer.from('x')));
  });
});
