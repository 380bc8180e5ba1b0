import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locate, MissingToolsError, provision, SYSTEM_TOOLS } from '../support/provision.js';

const run = promisify(execFile);
const globalSetup = fileURLToPath(new URL('../../dist/test/setup/global.js', import.meta.url));

describe('a fresh machine: the suite provisions its servers or says in one line what is missing', () => {
  let emptyBin: string;

  beforeAll(async () => {
    // A PATH with node and nothing else: no redis-server, no initdb, no apt-get.
    emptyBin = await mkdtemp(path.join(os.tmpdir(), 'banyan-freshpath-'));
    await symlink(process.execPath, path.join(emptyBin, 'node'));
  });
  afterAll(async () => {
    await rm(emptyBin, { recursive: true, force: true });
  });

  it('the global setup exits 2 at once with one line naming redis-server and the apt-get command', async () => {
    const child = run(process.execPath, ['-e', `import(${JSON.stringify(globalSetup)}).then((m) => m.default())`], {
      env: { PATH: emptyBin, BANYAN_TEST_NO_INSTALL: '1', HOME: os.tmpdir() },
    });
    const err = (await child.then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code?: number; stderr?: string }) | undefined;
    expect(err?.code).toBe(2);
    const lines = (err?.stderr ?? '').split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^banyan tests need redis-server.*apt-get install -y redis-server/);
  });

  it('provision() names every missing tool and why it did not install them', async () => {
    const error = await provision({ searchPath: emptyBin, install: false, tools: [SYSTEM_TOOLS[0]] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingToolsError);
    expect((error as MissingToolsError).missing.map((t) => t.command)).toEqual(['redis-server']);
    expect((error as Error).message).toContain('BANYAN_TEST_NO_INSTALL=1');
    expect((error as Error).message).not.toContain('\n');
  });

  it('on this machine every tool is found (the global setup provisioned them)', async () => {
    const found = await provision({ install: false });
    for (const tool of SYSTEM_TOOLS) expect(found.get(tool.command)).toBe(locate(tool));
  });
});
