/**
 * The benches' one reader of /proc (Linux): CPU time and memory of one process, or of a process and
 * all its descendants, so that a server made of several processes (workers, helpers) is charged in full.
 *
 * CPU: utime + stime + cutime + cstime of every process in the tree. A live descendant counts its
 * own time; one that has exited and been reaped has had its time added to its parent's cutime/cstime,
 * so it is counted once either way. RSS: VmRSS summed (now); peak: VmHWM summed (each process's own
 * high-water mark, so an upper bound of the tree's true peak).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on every Linux ABI Node runs on. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime: the process's own threads, in clock ticks. */
  ownTicks: number;
  /** ownTicks + cutime + cstime (its reaped children), in clock ticks. */
  ticks: number;
}

/** One /proc/<pid>/stat line. The command name is in parentheses and may contain spaces and ')'. */
export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // After "pid (comm) ": state is field 3 of proc(5); ppid 4; utime 14, stime 15, cutime 16, cstime 17.
  const f = text.slice(close + 2).trim().split(' ');
  const n = (field: number) => Number(f[field - 3]);
  const ownTicks = n(14) + n(15);
  return { pid, ppid: n(4), ownTicks, ticks: ownTicks + n(16) + n(17) };
}

/** VmRSS and VmHWM of one /proc/<pid>/status, in kB (0 when absent, e.g. a zombie). */
export function parseStatusKb(text: string): { rssKb: number; hwmKb: number } {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** CPU seconds of one process's own threads (utime + stime; not its children's). */
export function processCpuSeconds(pid: number, proc = '/proc'): number {
  return parseStat(fs.readFileSync(path.join(proc, String(pid), 'stat'), 'utf8')).ownTicks / CLK_TCK;
}

/** VmRSS and VmHWM of one process, in MiB. */
export function processMemoryMb(pid: number, proc = '/proc'): { rss: number; hwm: number } {
  const { rssKb, hwmKb } = parseStatusKb(fs.readFileSync(path.join(proc, String(pid), 'status'), 'utf8'));
  return { rss: rssKb / 1024, hwm: hwmKb / 1024 };
}

export interface TreeUsage {
  /** The root and every descendant alive now. */
  pids: number[];
  cpuSeconds: number;
  rssMb: number;
  hwmMb: number;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // exited between the listing and the read
  }
}

/** Usage of `root` and its descendants; `proc` is the procfs mount (a fake one in tests). */
export function treeUsage(root: number, proc = '/proc'): TreeUsage {
  const stats = new Map<number, ProcStat>();
  for (const name of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const text = read(path.join(proc, name, 'stat'));
    if (text) stats.set(Number(name), parseStat(text));
  }
  if (!stats.has(root)) throw new Error(`process ${root} is gone`);
  const children = new Map<number, number[]>();
  for (const s of stats.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const pids: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    pids.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  let ticks = 0;
  let rssKb = 0;
  let hwmKb = 0;
  for (const pid of pids) {
    ticks += stats.get(pid)!.ticks;
    const status = read(path.join(proc, String(pid), 'status'));
    if (!status) continue;
    const m = parseStatusKb(status);
    rssKb += m.rssKb;
    hwmKb += m.hwmKb;
  }
  return { pids, cpuSeconds: ticks / CLK_TCK, rssMb: rssKb / 1024, hwmMb: hwmKb / 1024 };
}
