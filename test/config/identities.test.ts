import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/config/load.js';

const yaml = (identities: string) => `listeners:
  - name: edge
    port: 10000
    hosts: []
groups:
  - name: edge
    match: { cluster: edge }
    identities: ${identities}
  - name: open
    match: { cluster: open }
`;

describe('group identities', () => {
  it('keeps the identities a group allows, and none for a group without the key', () => {
    const r = loadConfigFromString(yaml('[ "spiffe://example.org/ns/edge/*", "dns:edge-*.internal" ]'), 'g.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.groups.map((g) => [g.name, g.identities])).toEqual([
      ['edge', ['spiffe://example.org/ns/edge/*', 'dns:edge-*.internal']],
      ['open', undefined],
    ]);
  });

  it('refuses an identity that is neither a URI nor dns:<name>, at file:line:col', () => {
    const r = loadConfigFromString(yaml('\n      - spiffe://example.org/ok\n      - edge-1.internal'), 'g.yaml');
    expect(r.config).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ severity: 'error', file: 'g.yaml', line: 10, col: 9, message: expect.stringContaining('dns:<name>') })]);
  });

  it('refuses an empty list (which would lock every proxy out)', () => {
    const r = loadConfigFromString(yaml('[]'), 'g.yaml');
    expect(r.config).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ severity: 'error', line: 8, col: 17, message: expect.stringContaining("needs at least 1 item") })]);
  });
});
