import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { StoreCorruptError, StoreLockedError } from '../../src/store/errors.js';
import { hashConfigContent } from '../../src/store/hash.js';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** Runs the writer until it has committed at least `atLeast` rounds, then SIGKILLs it; resolves the last round it reported. */
function runAndKill(dir: string, atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = 0;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      const lines = d.toString().trim().split('\n');
      last = Number(lines.at(-1));
      if (last >= atLeast) child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(last) : reject(new Error(`writer exited early: ${stderr}`))));
  });
}

describe('embedded store crash safety', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('after kill -9 mid-write, reopens to a consistent prefix of the writes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-crash-'));
    dirs.push(dir);
    let reported = 0;
    for (const extra of [3, 7, 11]) {
      reported = await runAndKill(dir, reported + extra);
      const store = await EmbeddedStore.open({ dir }); // the dead writer's lock is taken over
      try {
        const versions = await store.listConfigVersions();
        const n = versions.length;
        // everything the writer reported is there (the kill may land a few writes later than the report)
        expect(n).toBeGreaterThanOrEqual(reported);
        expect(versions.map((v) => v.version)).toEqual(Array.from({ length: n }, (_, i) => n - i));
        for (const v of versions) {
          expect(v.hash).toBe(hashConfigContent(v.content));
          expect(v.content[0].text.startsWith(`# ${v.version}\n`)).toBe(true);
        }
        const override = await store.getOverride('auth');
        expect([n, n - 1]).toContain(override?.backends[0].weight);
        // the audit log and the state were written together: no entry without its change and vice versa
        const audit = await store.listAudit();
        expect(audit.filter((e) => e.action === 'config.apply')).toHaveLength(n);
        expect(audit.find((e) => e.action === 'override.set')?.details.reason).toBe(override!.reason);
      } finally {
        await store.close();
      }
      expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    }
  });

  it('refuses a directory that a live process holds, naming that process', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-crash-'));
    dirs.push(dir);
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const err = await EmbeddedStore.open({ dir }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreLockedError);
      expect(err.message).toContain(`in use by process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('ignores leftover temp files and reports a damaged state file clearly', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-crash-'));
    dirs.push(dir);
    const s = await EmbeddedStore.open({ dir });
    await s.appendConfigVersion({ content: [], author: 'a', message: 'm' });
    await s.close();
    await writeFile(path.join(dir, 'state.json.tmp-1-deadbeef'), '{"format":1,"versions":[{"vers');
    const s2 = await EmbeddedStore.open({ dir });
    expect((await s2.latestConfigVersion())?.version).toBe(1);
    await s2.close();
    await writeFile(path.join(dir, 'state.json'), '{"format":1,"versions":[');
    const err = await EmbeddedStore.open({ dir }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreCorruptError);
    expect(err.message).toContain(path.join(dir, 'state.json'));
  });
});
