import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** `banyan xds`, run as the BUILT CLI (dist/ is produced by `npm test`'s tsc step), against the golden files. */
const root = join(import.meta.dirname, '../..');

function banyan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/banyan.js'), ...args], { cwd: root, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

type Groups = Record<string, Record<string, Record<string, unknown>>>;
const golden = (name: string): Groups => (JSON.parse(fs.readFileSync(join(root, 'test/golden/out', `${name}.json`), 'utf8')) as { groups: Groups }).groups;

describe('banyan xds', () => {
  it("prints a group's resources exactly as the golden file holds them", async () => {
    const r = await banyan('xds', 'test/golden/in/timeouts.yaml', '--group', 'default');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Text equality: same content, same key order (protojson's), same layout.
    expect(r.stdout).toBe(`${JSON.stringify(golden('timeouts').default, null, 2)}\n`);
    expect(r.stdout).toContain('"connect_timeout": "0.250s"');
  });

  it('picks the group a node would join from --cluster / --node', async () => {
    const groups = golden('groups');
    const edge = await banyan('xds', 'test/golden/in/groups.yaml', '--cluster', 'edge-eu-west', '--node', 'edge-7');
    expect(edge.code).toBe(0);
    expect(JSON.parse(edge.stdout)).toEqual(groups.edge);
    // The sidecars group also wants node metadata, which a bare --node cannot give: this one falls to default.
    const other = await banyan('xds', 'test/golden/in/groups.yaml', '--node', 'sidecar~10.0.0.6~orders-2', '--cluster', 'orders');
    expect(JSON.parse(other.stdout)).toEqual(groups.default);
    expect(groups.default).not.toEqual(groups.edge);
  });

  it('narrows to one --type and speaks YAML', async () => {
    const routeType = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
    const r = await banyan('xds', 'test/golden/in/groups.yaml', '--group', 'edge', '--type', 'route', '-o', 'yaml');
    expect(r.code).toBe(0);
    expect(parse(r.stdout)).toEqual({ [routeType]: golden('groups').edge[routeType] });
  });

  it('prints a bad config’s diagnostics as file:line:col and exits 1, with nothing on stdout', async () => {
    const file = 'test/fixtures/broken/dangling-cluster.yaml';
    const r = await banyan('xds', file, '--group', 'default');
    expect(r.stderr).toContain(`${file}:10:17: error: route "home" refers to unknown cluster "monolit"`);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
  });

  it('is a usage error (exit 2) without a group or node, with both, or with an unknown group', async () => {
    const none = await banyan('xds', 'test/golden/in/groups.yaml');
    expect(none.stderr).toContain('give --group, or --node/--cluster');
    expect(none.code).toBe(2);
    const both = await banyan('xds', 'test/golden/in/groups.yaml', '--group', 'edge', '--node', 'edge-7');
    expect(both.code).toBe(2);
    const unknown = await banyan('xds', 'test/golden/in/groups.yaml', '--group', 'nope');
    expect(unknown.stderr).toContain('no proxy group "nope"; have: edge, sidecars, default');
    expect(unknown.code).toBe(2);
  });
});
