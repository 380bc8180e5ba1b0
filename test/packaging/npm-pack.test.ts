/**
 * The npm package as a user gets it: `npm pack` → `npm install ./banyan-x.y.z.tgz` in an empty project →
 * `npx banyan --help` and `npx banyan validate` on the shipped example.
 *
 * The pack runs with --ignore-scripts: `prepack` is `npm run build`, which the README's test command has
 * just done (`npm test` compiles before vitest), and rebuilding dist/ here would rewrite files other test
 * workers are running from. The test checks that `prepack` builds, and that what is packed is that build.
 * The install resolves Banyan's dependencies from npm's cache first (--prefer-offline), the registry
 * otherwise.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

// npm's own progress and lifecycle output would only slow it down; no audit, no funding lines.
const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' };

interface PackedFile {
  path: string;
}

describe('npm package', () => {
  let tmp = '';
  let files: string[] = [];
  let project = '';

  beforeAll(async () => {
    expect(fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')), 'dist/ is built (npm run build) before packing').toBe(true);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-pack-'));
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, env: npmEnv, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 });
    const [info] = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[];
    files = info.files.map((f) => f.path);
    project = path.join(tmp, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'banyan-pack-check', private: true, version: '0.0.0' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, info.filename)], { cwd: project, env: npmEnv, timeout: 300_000, maxBuffer: 32 * 1024 * 1024 });
  }, 420_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('builds before packing (prepack) and ships the build, the bin, the runtime protos and the examples — no tests, benchmarks or source maps', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    for (const bin of Object.values(pkg.bin)) expect(files).toContain(bin);
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    expect(files).toContain('examples/banyan.yaml');
    // Banyan's own protos, read at run time next to dist/ (src/proto/paths.ts).
    const protos = fs.readdirSync(path.join(ROOT, 'protos'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.proto'));
    expect(protos.length).toBeGreaterThan(0);
    for (const proto of protos) expect(files).toContain(`protos/${proto.split(path.sep).join('/')}`);
    const stray = files.filter((f) => /^(test|bench|src|scripts|dist\/test|dist\/bench|node_modules|manifests|charts)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
    expect(stray).toEqual([]);
  });

  it('`npx banyan --help` runs from the installed tarball', async () => {
    const { stdout } = await run('npx', ['--no', '--', 'banyan', '--help'], { cwd: project, env: npmEnv, timeout: 60_000 });
    expect(stdout).toMatch(/^Usage: banyan/m);
    for (const command of ['serve', 'validate', 'bootstrap']) expect(stdout).toContain(command);
  }, 90_000);

  it('`npx banyan validate` accepts the shipped example (the Envoy protos come from the installed dependencies)', async () => {
    const example = path.join('node_modules', pkg.name, 'examples', 'banyan.yaml');
    const { stdout } = await run('npx', ['--no', '--', 'banyan', 'validate', example], { cwd: project, env: npmEnv, timeout: 60_000 });
    expect(stdout).toMatch(/valid \(.*0 errors/);
  }, 90_000);
});
