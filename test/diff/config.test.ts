import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../src/diff/config.js';
import { cluster, config, route } from './builders.js';

describe('diffConfigs', () => {
  const base = config(
    [route('checkout', { monolith: 90, 'checkout-v2': 10 }), route('search', { monolith: 1 })],
    [cluster('monolith'), cluster('checkout-v2')],
  );

  it('reports no changes for equal configs, even when only source positions moved', () => {
    const moved = structuredClone(base);
    moved.listeners[0].hosts[0].routes[0].pos = { file: 'routes.yaml', line: 40, col: 3 };
    const d = diffConfigs(base, moved);
    expect(d.empty).toBe(true);
    expect(d.summary).toBe('no changes');
  });

  it('reports weight shifts per backend in percent, in the summary too', () => {
    const after = config(
      [route('checkout', { monolith: 50, 'checkout-v2': 50 }), route('search', { monolith: 1 })],
      [cluster('monolith'), cluster('checkout-v2'), cluster('search-v2')],
    );
    const d = diffConfigs(base, after);
    expect(d.routes.changed).toEqual([
      {
        ref: 'checkout',
        fields: ['to'],
        weights: [
          { cluster: 'monolith', before: 90, after: 50 },
          { cluster: 'checkout-v2', before: 10, after: 50 },
        ],
      },
    ]);
    expect(d.clusters.added).toEqual(['search-v2']);
    expect(d.summary).toBe('1 route changed, 1 cluster added; checkout: monolith 90→50, checkout-v2 10→50');
  });

  it('normalises relative weights to shares and shows a new backend as 0→N', () => {
    const before = config([route('search', { monolith: 3 })], [cluster('monolith'), cluster('search-v2')]);
    const after = config([route('search', { monolith: 3, 'search-v2': 1 })], [cluster('monolith'), cluster('search-v2')]);
    const d = diffConfigs(before, after);
    expect(d.routes.changed[0].weights).toEqual([
      { cluster: 'monolith', before: 100, after: 75 },
      { cluster: 'search-v2', before: 0, after: 25 },
    ]);
  });

  it('names non-weight route fields and cluster fields that changed', () => {
    const after = structuredClone(base);
    const checkout = after.listeners[0].hosts[0].routes[0];
    if (checkout.action.kind !== 'forward') throw new Error('fixture');
    checkout.action.timeoutMs = 2000;
    checkout.match.prefix = '/buy';
    after.clusters[0].connectTimeoutMs = 1000;
    const d = diffConfigs(base, after);
    expect(d.routes.changed).toEqual([{ ref: 'checkout', fields: ['match', 'timeoutMs'], weights: [] }]);
    expect(d.clusters.changed).toEqual([{ name: 'monolith', fields: ['connectTimeoutMs'] }]);
    expect(d.summary).toBe('1 route changed, 1 cluster changed');
  });

  it('reports routes and listeners added and removed; no "before" means everything is new', () => {
    const after = config([route('checkout', { monolith: 90, 'checkout-v2': 10 }), route('orders', { monolith: 1 })], base.clusters);
    const d = diffConfigs(base, after);
    expect(d.routes.added).toEqual(['orders']);
    expect(d.routes.removed).toEqual(['search']);
    expect(d.summary).toBe('1 route added, 1 route removed');

    const first = diffConfigs(undefined, base);
    expect(first.routes.added).toEqual(['checkout', 'search']);
    expect(first.listeners.added).toEqual(['edge']);
    expect(first.summary).toBe('2 routes added, 2 clusters added, 1 listener added');
  });
});
