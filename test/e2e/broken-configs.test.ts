/**
 * Every broken fixture (test/fixtures/broken/, each stating its expected `LINE:COL message` on its
 * first line) fails `banyan validate` with that position and exit 1, and — loaded into a running
 * server — changes nothing it serves or stores.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const brokenDir = path.join(repo, 'test/fixtures/broken');
const cases = fs
  .readdirSync(brokenDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((name) => {
    const text = fs.readFileSync(path.join(brokenDir, name), 'utf8');
    const m = /^# expect: (\d+):(\d+) (.+)$/.exec(text.split('\n')[0])!;
    return { name, text, line: Number(m[1]), col: Number(m[2]), message: m[3] };
  });

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

describe('broken configs', () => {
  it('there are at least 30', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it('each fails `banyan validate` with exit 1 and its file:line:col', async () => {
    const results = await mapLimit(cases, 4, async (c) => {
      const file = path.join(brokenDir, c.name);
      try {
        await run(process.execPath, [path.join(repo, 'bin/banyan.js'), 'validate', file]);
        return { c, code: 0, out: '' };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { c, code: e.code, out: e.stdout + e.stderr };
      }
    });
    for (const { c, code, out } of results) {
      expect(code, c.name).toBe(1);
      expect(out, c.name).toContain(`${path.join(brokenDir, c.name)}:${c.line}:${c.col}: error: `);
      expect(out, c.name).toContain(c.message);
    }
  }, 120_000);

  describe('loaded into a running server', () => {
    let t: TestBanyan;
    let file: string;
    let banyan: RunningBanyan;
    const served = () =>
      [...banyan.pipeline.current!.snapshot.groups].flatMap(([g, set]) => [...set.keys()].map((t) => `${g} ${t} ${banyan.cache.get(g, t).version}`));

    beforeAll(async () => {
      t = await startTestBanyan(fs.readFileSync(path.join(repo, 'examples/banyan.yaml'), 'utf8'), { watch: false });
      ({ file, banyan } = t);
    });

    afterAll(() => t?.stop());

    it('none changes what it serves or stores; each is reported with its position', async () => {
      const before = served();
      const storedBefore = (await banyan.store.latestConfigVersion())!.version;
      for (const c of cases) {
        fs.writeFileSync(file, c.text);
        await banyan.reload();
        const rejected = banyan.pipeline.lastRejected;
        expect(rejected, c.name).toBeDefined();
        expect(
          rejected!.diagnostics.some((d) => d.line === c.line && d.col === c.col && d.message.includes(c.message)),
          c.name,
        ).toBe(true);
        expect(served(), c.name).toEqual(before);
        expect((await banyan.store.latestConfigVersion())!.version, c.name).toBe(storedBefore);
      }
      const status = await (await fetch(`http://127.0.0.1:${banyan.ports.admin}/api/v1/status`)).json();
      expect(status.lastRejected.errors.length).toBeGreaterThan(0);
      expect(status.config.hash).toBe(banyan.pipeline.current!.hash);
    });
  });
});
