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

describe('interned subscriptions', () => {
  it('share one name set between streams asking for the same names, in any order', () => {
    const a = new Subscription();
    const b = new Subscription();
    a.replace(['x', 'y', 'z']);
    b.replace(['z', 'x', 'y', 'x']);
    expect(b.set).toBe(a.set);
    const held = a.set;
    expect(a.replace(['y', 'z', 'x'])).toBe(false); // an ACK repeating the names keeps the set
    expect(a.set).toBe(held);
    b.apply([], ['y'], false);
    expect(b.set).not.toBe(a.set);
    expect(b.toJSON()).toEqual(['x', 'z']);
    expect(a.toJSON()).toEqual(['x', 'y', 'z']); // sharing never lets one stream change another's
  });

  it('tell a wildcard subscription from the same names without it', () => {
    const a = new Subscription();
    const b = new Subscription();
    a.replace(['*', 'x']);
    b.replace(['x']);
    expect(a.set).not.toBe(b.set);
    expect(b.replace(['x', '*'])).toBe(true);
    expect(b.set).toBe(a.set);
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
