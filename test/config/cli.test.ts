import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs the BUILT CLI (dist/ is produced by `npm test`'s tsc step). */
const root = join(import.meta.dirname, '../..');

function banyan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/banyan.js'), ...args], { cwd: root, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('banyan validate', () => {
  it('accepts the example config', async () => {
    const r = await banyan('validate', 'examples/banyan.yaml');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^examples\/banyan\.yaml: valid \(\d+ listeners?, \d+ routes?, \d+ clusters?; 0 errors, 0 warnings\)$/m);
    expect(r.code).toBe(0);
  });

  it.each([
    ['unknown-key-rotues.yaml', '7:9: error: unknown key "rotues"; did you mean "routes"?'],
    ['dangling-cluster.yaml', '10:17: error: route "home" refers to unknown cluster "monolit"'],
    ['syntax-unclosed-flow.yaml', '9:13: error: YAML syntax error'],
  ])('rejects %s with file:line:col and exit 1', async (name, expected) => {
    const file = `test/fixtures/broken/${name}`;
    const r = await banyan('validate', file);
    expect(r.stdout).toContain(`${file}:${expected}`);
    expect(r.stdout).toMatch(new RegExp(`^${file.replace(/\./g, '\\.')}: invalid \\(\\d+ errors?, \\d+ warnings?\\)$`, 'm'));
    expect(r.code).toBe(1);
  });

  it('prints warnings but exits 0 for a valid config with unreachable routes', async () => {
    const r = await banyan('validate', 'test/fixtures/valid/shadowed.yaml');
    expect(r.stdout).toContain('test/fixtures/valid/shadowed.yaml:11:13: warning: route "api-v2" is unreachable');
    expect(r.stdout).toContain('0 errors, 4 warnings');
    expect(r.code).toBe(0);
  });

  it('speaks JSON with --output json, for a directory too', async () => {
    const bad = await banyan('validate', 'test/fixtures/broken/duplicate-cluster.yaml', '--output', 'json');
    const report = JSON.parse(bad.stdout);
    expect(report.valid).toBe(false);
    expect(report.diagnostics[0]).toMatchObject({ severity: 'error', line: 5, col: 5, file: 'test/fixtures/broken/duplicate-cluster.yaml' });
    expect(bad.code).toBe(1);
    const good = await banyan('validate', 'test/fixtures/valid/split', '--output', 'json');
    expect(JSON.parse(good.stdout)).toMatchObject({ valid: true, summary: { errors: 0, listeners: 2, clusters: 2 } });
    expect(good.code).toBe(0);
  });

  it('refuses an unknown output format as a usage error', async () => {
    const r = await banyan('validate', 'examples/banyan.yaml', '--output', 'xml');
    expect(r.stderr).toContain('Allowed: json, yaml');
    expect(r.code).toBe(2);
  });
});

describe('banyan schema', () => {
  it('prints a JSON Schema', async () => {
    const r = await banyan('schema');
    const schema = JSON.parse(r.stdout);
    expect(schema.$schema).toContain('json-schema.org');
    expect(schema.properties.listeners.type).toBe('array');
    expect(r.code).toBe(0);
  });
});
