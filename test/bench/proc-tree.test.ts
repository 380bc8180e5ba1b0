import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLK_TCK, parseStat, parseStatusKb, processCpuSeconds, processMemoryMb, treeUsage } from '../../bench/support/proc-tree.js';

/** A stat line with the given ppid and utime/stime/cutime/cstime (clock ticks). */
function statLine(pid: number, comm: string, ppid: number, [u, s, cu, cs]: number[]): string {
  // fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  return `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194304 98 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 2992605 3133440 382\n`;
}

describe('bench proc-tree', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('parses a command name with spaces and parentheses', () => {
    expect(parseStat(statLine(42, 'node (worker) x', 7, [10, 5, 3, 2]))).toEqual({ pid: 42, ppid: 7, ownTicks: 15, ticks: 20 });
    expect(parseStatusKb('Name:\tnode\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n')).toEqual({ rssKb: 1024, hwmKb: 2048 });
    expect(parseStatusKb('Name:\tzombie\nState:\tZ\n')).toEqual({ rssKb: 0, hwmKb: 0 });
  });

  it('sums the root and all its descendants, not its parent or siblings', () => {
    const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-proc-'));
    dirs.push(proc);
    const add = (pid: number, ppid: number, ticks: number[], rssKb: number, hwmKb: number) => {
      fs.mkdirSync(path.join(proc, String(pid)));
      fs.writeFileSync(path.join(proc, String(pid), 'stat'), statLine(pid, 'p', ppid, ticks));
      fs.writeFileSync(path.join(proc, String(pid), 'status'), `VmHWM:\t${hwmKb} kB\nVmRSS:\t${rssKb} kB\n`);
    };
    add(1, 0, [1000, 0, 0, 0], 999_999, 999_999); // the parent of the root: not charged
    add(10, 1, [100, 50, 30, 20], 1024, 2048); // root, with a reaped child's 50 ticks in cutime+cstime
    add(11, 10, [40, 10, 0, 0], 512, 1024); // worker
    add(12, 11, [5, 5, 0, 0], 512, 1024); // worker's helper
    add(13, 1, [500, 0, 0, 0], 4096, 4096); // a sibling of the root: not charged
    fs.mkdirSync(path.join(proc, 'self')); // not a pid
    const u = treeUsage(10, proc);
    expect(u.pids.sort()).toEqual([10, 11, 12]);
    expect(u.cpuSeconds).toBeCloseTo((200 + 50 + 10) / CLK_TCK, 10);
    expect(u.rssMb).toBe(2);
    expect(u.hwmMb).toBe(4);
    expect(() => treeUsage(99, proc)).toThrow(/gone/);
    // One process alone: its own threads' time (not its reaped children's), its own memory.
    expect(processCpuSeconds(10, proc)).toBeCloseTo(150 / CLK_TCK, 10);
    expect(processMemoryMb(10, proc)).toEqual({ rss: 1, hwm: 2 });
  });
});
