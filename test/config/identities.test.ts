import { describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/config/load.js';
import { exportJsonSchema } from '../../src/config/schema.js';

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
      ['edge', [{ identity: 'spiffe://example.org/ns/edge/*' }, { identity: 'dns:edge-*.internal' }]],
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

  it('keeps an identity limited to the node ids it may claim, beside identities that may claim any', () => {
    const r = loadConfigFromString(yaml('\n      - { identity: "spiffe://example.org/ns/edge/*", nodes: [ "edge-*", "gw-1" ] }\n      - dns:edge-*.internal'), 'g.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.groups[0]!.identities).toEqual([{ identity: 'spiffe://example.org/ns/edge/*', nodes: ['edge-*', 'gw-1'] }, { identity: 'dns:edge-*.internal' }]);
  });

  it('refuses an entry with an empty nodes list, a bad node glob, a bad identity or an unknown key, each at file:line:col', () => {
    const at = (entry: string) => loadConfigFromString(yaml(`\n      - ${entry}`), 'g.yaml');
    const empty = at('{ identity: "spiffe://example.org/ns/edge/*", nodes: [] }');
    expect(empty.config).toBeUndefined();
    expect(empty.diagnostics).toEqual([expect.objectContaining({ severity: 'error', file: 'g.yaml', line: 9, col: 62, path: 'groups[0].identities[0].nodes', message: expect.stringContaining('needs at least 1 item') })]);
    const glob = at('{ identity: "spiffe://example.org/ns/edge/*", nodes: [ "edge-*", "edge 1" ] }');
    expect(glob.diagnostics).toEqual([expect.objectContaining({ severity: 'error', line: 9, col: 74, path: 'groups[0].identities[0].nodes[1]', message: expect.stringContaining('no whitespace') })]);
    const blank = at('{ identity: "spiffe://example.org/ns/edge/*", nodes: [ "" ] }');
    expect(blank.diagnostics).toEqual([expect.objectContaining({ severity: 'error', line: 9, col: 64, path: 'groups[0].identities[0].nodes[0]' })]);
    const identity = at('{ identity: "edge-1.internal", nodes: [ "edge-*" ] }');
    expect(identity.diagnostics).toEqual([expect.objectContaining({ severity: 'error', line: 9, col: 21, path: 'groups[0].identities[0].identity', message: expect.stringContaining('dns:<name>') })]);
    const typo = at('{ identity: "dns:edge-*", node: [ "edge-*" ] }');
    expect(typo.diagnostics).toEqual([expect.objectContaining({ severity: 'error', line: 9, col: 35, message: expect.stringMatching(/unknown key "node".*did you mean "nodes"/) })]);
  });

  it('are described in the JSON Schema (banyan schema): a string, or {identity, nodes}', () => {
    type Branch = { type: string; properties?: Record<string, { description?: string }>; required?: string[] };
    type Identities = { description: string; items: { anyOf: Branch[] } };
    const schema = exportJsonSchema() as { properties: { groups: { items: { properties: { identities: Identities } } } } };
    const identities = schema.properties.groups.items.properties.identities;
    expect(identities.description).toContain('{identity, nodes');
    expect(identities.items.anyOf.map((o) => o.type)).toEqual(['string', 'object']);
    const entry = identities.items.anyOf[1]!;
    expect(entry.required?.sort()).toEqual(['identity', 'nodes']);
    expect(entry.properties!.nodes!.description).toContain('node.id globs');
  });
});
