/**
 * Route typos (`banyan shift chekout ...`, resolved by config/routes.ts) and YAML key typos (schema
 * diagnostics) get their "did you mean" from the same function, config/suggest.ts's closest. The
 * typos below are the ones where an answer depends on which function asks: two swapped pairs, or
 * case and separators, which a plain Levenshtein distance would find too far to suggest anything.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/config/load.js';
import { resolveRoute } from '../../src/config/routes.js';
import { closest } from '../../src/config/suggest.js';

/** Routes named like route keys, so the same typo can be made of a route name and of a key. */
const yaml = (extra = '') => `clusters:
  - name: checkout
    endpoints: [10.0.0.1:80]
  - name: checkout-v2
    endpoints: [10.0.0.2:80]
listeners:
  - name: edge
    port: 10000
    routes:
      - name: checkout
        match: { prefix: /checkout }
        to: checkout
      - name: mirror
        match: { prefix: /mirror }
        to: checkout
      - name: timeout
        match: { prefix: /slow }
        to: checkout
      - name: other
        match: { prefix: / }
        to: checkout${extra}
`;

const routeHint = (typo: string): string | undefined => {
  const { config, diagnostics } = loadConfigFromString(yaml(), 'routes.yaml');
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  try {
    resolveRoute(config!, typo);
  } catch (err) {
    return /did you mean '([^']+)'\?$/.exec((err as Error).message)?.[1];
  }
  throw new Error(`route '${typo}' resolved`);
};

const keyHint = (typo: string, value: string): string | undefined => {
  const { diagnostics } = loadConfigFromString(yaml(`\n        ${typo}: ${value}`), 'routes.yaml');
  const unknown = diagnostics.find((d) => d.message.startsWith(`unknown key "${typo}"`));
  expect(unknown, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return /did you mean "([^"]+)"\?$/.exec(unknown!.message)?.[1];
};

describe('one suggestion function for route typos and key typos', () => {
  it('banyan shift chekout: the route hint is suggest.ts closest over the route references', () => {
    expect(routeHint('chekout')).toBe('checkout');
    expect(routeHint('chekout')).toBe(closest('chekout', ['checkout', 'mirror', 'timeout', 'other']));
  });

  it.each([
    ['imrorr', 'mirror', '{ cluster: checkout-v2, percent: 5 }'],
    ['itmeuot', 'timeout', '2s'],
    ['Time_Out', 'timeout', '2s'],
  ])('%s: the same hint (%s) as a route name and as a key', (typo, meant, value) => {
    const asRoute = routeHint(typo);
    const asKey = keyHint(typo, value);
    expect(asRoute).toBe(meant);
    expect(asKey).toBe(asRoute);
  });
});
