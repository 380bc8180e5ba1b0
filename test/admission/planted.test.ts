import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../../src/admission/index.js';
import { expectErrorAt, readExpectFixtures } from '../support/expect-fixtures.js';

/**
 * The planted-violation corpus: configs that look plausible, are refused by Envoy's own rules, would
 * reach proxies as other values than written, or ask proxyless gRPC clients for what they cannot do.
 * Each file's first line says where validate must point and what it must say:
 * `# expect: LINE:COL message substring`. These go through validate's own code path (load + admission).
 */
const dir = join(import.meta.dirname, '../fixtures/planted');
const cases = readExpectFixtures(dir);

describe('planted violations', () => {
  it('has at least 40 of them, gRPC capability rules among them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(cases.filter((c) => c.name.startsWith('grpc-')).length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('$name is refused at its position', (fixture) => {
    const result = validateFiles([{ file: fixture.name, text: fixture.text }]);
    expect(result.config).toBeUndefined();
    expectErrorAt(result.diagnostics, fixture);
  });
});

describe('banyan validate (the built binary) runs the same admission', () => {
  const root = join(import.meta.dirname, '../..');
  const validate = (file: string) =>
    new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [join(root, 'bin/banyan.js'), 'validate', file], { cwd: root, timeout: 20_000 }, (err, stdout) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
      ),
    );

  it.each(['ratelimit-too-deep.yaml', 'grpc-lb-least-request.yaml', 'uint32-max-requests.yaml'])('%s: exit 1 at file:line:col', async (name) => {
    const c = cases.find((x) => x.name === name)!;
    const file = `test/fixtures/planted/${name}`;
    const r = await validate(file);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${file}:${c.line}:${c.col}: error: `);
    expect(r.stdout).toContain(c.message);
  });
});
