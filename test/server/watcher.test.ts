/**
 * ConfigWatcher on real files: what it hands to onChange, and when. Every call is recorded with the
 * file contents it carried, so a test can say "the next call is exactly this, with nothing before it".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SourceFile } from '../../src/config/source.js';
import { ConfigWatcher, type WatcherOptions } from '../../src/service/watcher.js';
import { eventually } from '../support/eventually.js';

interface Call {
  at: number;
  files: Record<string, string>;
}

describe('ConfigWatcher', () => {
  let dir: string;
  let watcher: ConfigWatcher | undefined;
  let calls: Call[];
  let logs: { level: number; msg: string }[];
  const fds: number[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-watcher-'));
    calls = [];
    logs = [];
  });

  afterEach(async () => {
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    await watcher?.stop();
    watcher = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const logger = () => pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });

  async function watch(target: string, opts: WatcherOptions = {}, onChange?: (files: SourceFile[]) => Promise<void>): Promise<ConfigWatcher> {
    const record = async (files: SourceFile[]) => {
      calls.push({ at: Date.now(), files: Object.fromEntries(files.map((f) => [path.basename(f.file), f.text])) });
    };
    watcher = new ConfigWatcher(target, onChange ?? record, { debounceMs: 100, logger: logger(), ...opts });
    await watcher.start();
    return watcher;
  }

  it('coalesces a burst of whole writes into one call with the last one', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file);
    for (let i = 1; i <= 10; i++) fs.writeFileSync(file, `v: ${i}\n`);
    await eventually(() => expect(calls.length).toBeGreaterThan(0));
    expect(calls.map((c) => c.files)).toEqual([{ 'routes.yaml': 'v: 10\n' }]);
  });

  it('waits for a writer to close, however long it pauses between writes', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file);
    const fd = fs.openSync(file, 'w');
    fds.push(fd);
    fs.writeSync(fd, 'v: 1\n');
    // Three debounce periods with the first half on disk, stable, and the descriptor still open.
    await new Promise((r) => setTimeout(r, 300));
    fs.writeSync(fd, 'w: 1\n');
    fs.closeSync(fds.pop()!);
    await eventually(() => expect(calls.length).toBeGreaterThan(0));
    expect(calls.map((c) => c.files)).toEqual([{ 'routes.yaml': 'v: 1\nw: 1\n' }]);
  });

  it('applies after maxWaitMs, with a warning naming the writer, when a writer never closes', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file, { maxWaitMs: 600 });
    const fd = fs.openSync(file, 'w');
    fds.push(fd);
    const written = Date.now();
    fs.writeSync(fd, 'v: 1\n');
    await eventually(() => expect(calls.length).toBe(1), 5_000);
    expect(calls[0].files).toEqual({ 'routes.yaml': 'v: 1\n' });
    expect(calls[0].at - written).toBeGreaterThanOrEqual(600);
    const warning = logs.find((l) => l.level === 40);
    expect(warning?.msg).toBe(`applying config although ${file} is open for writing (pid ${process.pid})`);
  });

  it('holds an empty file back until it has content', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file);
    fs.truncateSync(file, 0);
    await new Promise((r) => setTimeout(r, 250));
    fs.writeFileSync(file, 'v: 1\n');
    await eventually(() => expect(calls.length).toBeGreaterThan(0));
    expect(calls.map((c) => c.files)).toEqual([{ 'routes.yaml': 'v: 1\n' }]);
  });

  it('applies a file left empty after maxWaitMs, so that validation can report it', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file, { maxWaitMs: 400 });
    fs.writeFileSync(file, '');
    await eventually(() => expect(calls.length).toBe(1), 5_000);
    expect(calls[0].files).toEqual({ 'routes.yaml': '' });
    expect(logs.find((l) => l.level === 40)?.msg).toBe(`applying config although ${file} is empty`);
  });

  it('follows atomic saves of a single file (a new inode each time)', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    await watch(file);
    for (let i = 1; i <= 3; i++) {
      const tmp = path.join(dir, `.routes.yaml.${i}`);
      fs.writeFileSync(tmp, `v: ${i}\n`);
      fs.renameSync(tmp, file);
      await eventually(() => expect(calls.at(-1)?.files).toEqual({ 'routes.yaml': `v: ${i}\n` }));
    }
    expect(calls.length).toBe(3);
  });

  it('in a directory, a removal is a change, and a removal undone at once is a burst', async () => {
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'a: 1\n');
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'b: 1\n');
    await watch(dir);
    fs.rmSync(path.join(dir, 'b.yaml'));
    await eventually(() => expect(calls.length).toBe(1));
    expect(calls[0].files).toEqual({ 'a.yaml': 'a: 1\n' });
    fs.rmSync(path.join(dir, 'a.yaml'));
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'a: 2\n');
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'b: 2\n');
    await eventually(() => expect(calls.length).toBe(2));
    expect(calls[1].files).toEqual({ 'a.yaml': 'a: 2\n', 'b.yaml': 'b: 2\n' });
  });

  it('follows a Kubernetes ConfigMap update (the ..data symlink swapped to a new directory)', async () => {
    // The layout the kubelet writes: routes.yaml -> ..data/routes.yaml, ..data -> ..<timestamp>/.
    const volume = (name: string, text: string) => {
      fs.mkdirSync(path.join(dir, name));
      fs.writeFileSync(path.join(dir, name, 'routes.yaml'), text);
    };
    volume('..2024_01', 'v: 1\n');
    fs.symlinkSync('..2024_01', path.join(dir, '..data'));
    fs.symlinkSync('..data/routes.yaml', path.join(dir, 'routes.yaml'));
    await watch(dir);
    volume('..2024_02', 'v: 2\n');
    fs.symlinkSync('..2024_02', path.join(dir, '..data_tmp'));
    fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    fs.rmSync(path.join(dir, '..2024_01'), { recursive: true });
    await eventually(() => expect(calls.length).toBeGreaterThan(0));
    expect(calls.map((c) => c.files)).toEqual([{ 'routes.yaml': 'v: 2\n' }]);
  });

  it('follows a swap of a symlink the path goes through (a runtime root: ln -s v2 new && mv -Tf new current), and edits after it', async () => {
    // envoyproxy/ratelimit's and Envoy's runtime layout: ROOT/current -> vN, served from current/ratelimit/config.
    const version = (name: string, text: string) => {
      fs.mkdirSync(path.join(dir, name, 'ratelimit', 'config'), { recursive: true });
      fs.writeFileSync(path.join(dir, name, 'ratelimit', 'config', 'edge.yaml'), text);
    };
    version('v1', 'v: 1\n');
    fs.symlinkSync(path.join(dir, 'v1'), path.join(dir, 'current'));
    const target = path.join(dir, 'current', 'ratelimit', 'config');
    await watch(target);
    version('v2', 'v: 2\n');
    fs.symlinkSync(path.join(dir, 'v2'), path.join(dir, 'new'));
    fs.renameSync(path.join(dir, 'new'), path.join(dir, 'current'));
    await eventually(() => expect(calls.map((c) => c.files)).toEqual([{ 'edge.yaml': 'v: 2\n' }]));
    // The watch follows the new target: an edit there is seen, an edit in the old one is not config.
    await new Promise((r) => setTimeout(r, 200));
    fs.writeFileSync(path.join(dir, 'v1', 'ratelimit', 'config', 'edge.yaml'), 'v: old\n');
    fs.writeFileSync(path.join(target, 'edge.yaml'), 'v: 3\n');
    await eventually(() => expect(calls.length).toBe(2));
    expect(calls[1].files).toEqual({ 'edge.yaml': 'v: 3\n' });
  });

  it('follows a ConfigMap update when the path is one of its files (routes.yaml -> ..data/routes.yaml)', async () => {
    const volume = (name: string, text: string) => {
      fs.mkdirSync(path.join(dir, name));
      fs.writeFileSync(path.join(dir, name, 'routes.yaml'), text);
    };
    volume('..2024_01', 'v: 1\n');
    fs.symlinkSync('..2024_01', path.join(dir, '..data'));
    fs.symlinkSync('..data/routes.yaml', path.join(dir, 'routes.yaml'));
    await watch(path.join(dir, 'routes.yaml'));
    for (const [i, v] of [[2, 'v: 2\n'], [3, 'v: 3\n']] as const) {
      volume(`..2024_0${i}`, v);
      fs.symlinkSync(`..2024_0${i}`, path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      fs.rmSync(path.join(dir, `..2024_0${i - 1}`), { recursive: true });
      await eventually(() => expect(calls.at(-1)?.files).toEqual({ 'routes.yaml': v }));
    }
    expect(calls.length).toBe(2);
  });

  it('never overlaps reloads, and applies an edit made during one after it', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    let active = 0;
    let maxActive = 0;
    await watch(file, {}, async (files) => {
      maxActive = Math.max(maxActive, ++active);
      calls.push({ at: Date.now(), files: { 'routes.yaml': files[0].text } });
      // A reload slower than the debounce, so that the next edit settles while it runs.
      await new Promise((r) => setTimeout(r, 400));
      active--;
    });
    fs.writeFileSync(file, 'v: 1\n');
    await eventually(() => expect(calls.length).toBe(1));
    fs.writeFileSync(file, 'v: 2\n');
    await eventually(() => expect(calls.length).toBe(2), 5_000);
    expect(calls.map((c) => c.files['routes.yaml'])).toEqual(['v: 1\n', 'v: 2\n']);
    expect(maxActive).toBe(1);
  });

  it('stop() waits for the reload that is running', async () => {
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    const order: string[] = [];
    let entered!: () => void;
    const inReload = new Promise<void>((r) => (entered = r));
    await watch(file, {}, async () => {
      order.push('reload started');
      entered();
      await new Promise((r) => setTimeout(r, 300));
      order.push('reload finished');
    });
    fs.writeFileSync(file, 'v: 1\n');
    await inReload;
    await watcher!.stop();
    order.push('stopped');
    watcher = undefined;
    expect(order).toEqual(['reload started', 'reload finished', 'stopped']);
  });
});
