import { describe, expect, it } from 'vitest';
import { renderConfig } from '../../src/cli/commands/diff.js';
import { loadConfigFromString } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { diffConfigs, type ConfigDiff } from '../../src/diff/config.js';

process.env.NO_COLOR = '1';

const BASE = `listeners:
  - name: edge
    port: 10000
    routes:
      - { name: checkout, match: { prefix: /checkout }, to: [{ cluster: monolith, weight: 90 }, { cluster: checkout-v2, weight: 10 }] }
      - { name: search, match: { prefix: /search }, to: monolith }
      - { name: cart, match: { prefix: / }, to: monolith }
clusters:
  - { name: monolith, endpoints: [10.0.0.1:80] }
  - { name: checkout-v2, endpoints: [10.0.0.2:80] }
  - { name: search-v2, endpoints: [10.0.0.3:80] }
  - { name: cart-v2, endpoints: [10.0.0.4:80] }
`;

/** The base config with these `rollouts:` entries (YAML flow mappings), loaded as serve would. */
function withRollouts(...entries: string[]): Config {
  const text = entries.length ? `${BASE}rollouts:\n${entries.map((e) => `  - ${e}\n`).join('')}` : BASE;
  const { config, diagnostics } = loadConfigFromString(text, 'routes.yaml');
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return config!;
}

const checkout = (steps: string, interval = '10m') => `{ name: checkout-v2, route: checkout, to: checkout-v2, steps: [${steps}], interval: ${interval} }`;
const search = '{ name: search-v2, route: search, to: search-v2, steps: [50, 100], interval: 1m }';
const cart = '{ name: cart-v2, route: cart, to: cart-v2, steps: [10, 100], interval: 1m }';

describe('banyan diff: the rollouts: section', () => {
  it('lists added, removed and changed rollouts with the fields that changed', () => {
    const out = renderConfig(diffConfigs(withRollouts(checkout('5,10'), search), withRollouts(checkout('5,10,100', '5m'), cart)));
    const lines = out.trimEnd().split('\n');
    const at = lines.indexOf('rollouts:');
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines.slice(at + 1, at + 4)).toEqual(['  + cart-v2', '  - search-v2', expect.stringMatching(/^ {2}~ checkout-v2 \((.+)\)$/)]);
    const fields = /\((.+)\)$/.exec(lines[at + 3])![1].split(', ');
    expect(fields).toEqual(expect.arrayContaining(['steps', 'intervalMs']));
    expect(lines.at(-1)).toMatch(/^summary: /);
  });

  it('a change to rollouts alone is a change, shown as one', () => {
    const out = renderConfig(diffConfigs(withRollouts(), withRollouts(search)));
    expect(out).not.toBe('no changes\n');
    expect(out).toMatch(/^rollouts:\n {2}\+ search-v2\nsummary: .*rollout/);
    expect(out).not.toMatch(/^routes:/m);
  });

  it('no section when the rollouts are the same, and none from a server that sends no rollouts', () => {
    const same = diffConfigs(withRollouts(search), withRollouts(search));
    expect(renderConfig(same)).toBe('no changes\n');
    const clusterOnly = diffConfigs(withRollouts(search), { ...withRollouts(search), clusters: withRollouts().clusters.slice(0, 3) });
    const old = { ...clusterOnly, rollouts: undefined } as unknown as ConfigDiff;
    expect(renderConfig(old)).toMatch(/^clusters:\n {2}- cart-v2\n/);
    expect(renderConfig(old)).not.toContain('rollouts:');
  });
});
