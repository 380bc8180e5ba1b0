/**
 * Writer detection against real descriptors: this process's own, and another process's, found by the
 * file's device and inode through /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findWriters, identityKey, type FileIdentity } from '../../src/service/writers.js';

const hasProc = fs.existsSync('/proc/self/fdinfo');

describe.skipIf(!hasProc)('findWriters', () => {
  let dir: string;
  let file: string;
  let id: FileIdentity;
  const fds: number[] = [];
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-writers-'));
    file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, 'clusters: []\n');
    id = fs.statSync(file, { bigint: true });
  });

  afterEach(() => {
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    for (const c of children.splice(0)) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const writersOf = async (ids: FileIdentity[] = [id]) => {
    const scan = await findWriters(ids);
    expect(scan).toBeDefined();
    return scan!;
  };

  it('finds this process holding the file open for writing, and not once it is closed', async () => {
    const fd = fs.openSync(file, 'w');
    fds.push(fd);
    const scan = await writersOf();
    expect(scan.writers.get(identityKey(id))).toContain(process.pid);
    expect(scan.examined).toBeGreaterThan(0);
    fs.closeSync(fds.pop()!);
    expect((await writersOf()).writers.size).toBe(0);
  });

  it('counts O_RDWR as writing and O_RDONLY as not', async () => {
    fds.push(fs.openSync(file, 'r'));
    expect((await writersOf()).writers.size).toBe(0);
    fds.push(fs.openSync(file, 'r+'));
    expect((await writersOf()).writers.get(identityKey(id))).toEqual([process.pid]);
  });

  it('matches by inode: a writer that opened the file through a symlink, and not a file that replaced it', async () => {
    const link = path.join(dir, 'link.yaml');
    fs.symlinkSync(file, link);
    fds.push(fs.openSync(link, 'a'));
    expect((await writersOf()).writers.get(identityKey(id))).toEqual([process.pid]);
    // An atomic save puts a new inode at the path; the old one's writer is no writer of the new file.
    const tmp = path.join(dir, '.routes.yaml.tmp');
    fs.writeFileSync(tmp, 'clusters: []\n');
    fs.renameSync(tmp, file);
    const replaced = fs.statSync(file, { bigint: true });
    expect(identityKey(replaced)).not.toBe(identityKey(id));
    expect((await writersOf([replaced])).writers.size).toBe(0);
  });

  it('finds another process holding the file open for writing', async () => {
    // The shell opens fd 3 for appending, says so, and holds it until its stdin closes.
    const child = spawn('sh', ['-c', 'exec 3>>"$1"; echo ready; read _', 'sh', file], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    expect((await writersOf()).writers.get(identityKey(id))).toEqual([child.pid]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    await exited;
    expect((await writersOf()).writers.size).toBe(0);
  });

  it('stops at the descriptor cap and says the scan was incomplete', async () => {
    fds.push(fs.openSync(file, 'w'));
    const scan = await findWriters([id], { maxFds: 1 });
    expect(scan!.complete).toBe(false);
    expect(scan!.examined).toBe(1);
    expect((await writersOf()).examined).toBeGreaterThan(1);
  });

  it('returns undefined when there is no /proc to read', async () => {
    expect(await findWriters([id], { procRoot: path.join(dir, 'no-proc') })).toBeUndefined();
  });
});
