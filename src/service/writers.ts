import fsSync from 'node:fs';
import fs from 'node:fs/promises';

/** A file as the kernel knows it: what an open descriptor points at, whatever path it was opened by. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export const identityKey = (id: FileIdentity): string => `${id.dev}:${id.ino}`;

export interface WriterScan {
  /** identityKey → pids holding that file open for writing (O_WRONLY or O_RDWR). */
  writers: Map<string, number[]>;
  /** False when the scan hit its cap or could not read some processes: "no writer" is then a best effort. */
  complete: boolean;
  /** Descriptors examined, for logs and tests. */
  examined: number;
}

export interface WriterScanOptions {
  procRoot?: string;
  /** Stop after this many descriptors: the scan must stay cheap on a host with huge fd tables. */
  maxFds?: number;
}

const O_ACCMODE = 0o3;
const YIELD_EVERY = 256;

/**
 * Which of `files` some process (this one included) has open for writing, from Linux's /proc:
 * every /proc/PID/fd link that resolves to a file's device and inode, then the access mode in the
 * octal `flags` of /proc/PID/fdinfo/FD. Matching by device+inode, not by path, finds a writer however
 * it opened the file (symlink, bind mount, relative path) and follows atomic saves to the new inode.
 * Returns undefined when /proc cannot be listed (not Linux, or mounted with hidepid): the caller then
 * relies on the stability rule alone.
 */
export async function findWriters(files: readonly FileIdentity[], opts: WriterScanOptions = {}): Promise<WriterScan | undefined> {
  const procRoot = opts.procRoot ?? '/proc';
  const maxFds = opts.maxFds ?? 10_000;
  const wanted = new Set(files.map(identityKey));
  let pids: number[];
  try {
    pids = (await fs.readdir(procRoot)).filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return undefined;
  }
  const scan: WriterScan = { writers: new Map(), complete: true, examined: 0 };
  if (!wanted.size) return scan;

  // Synchronous calls, one process at a time with a yield in between: /proc answers from memory, so a
  // libuv round trip per call would cost several times the call itself (measured: ~10 ms vs ~45 ms for
  // 90 processes and 550 descriptors); yielding every YIELD_EVERY descriptors keeps the event loop free.
  for (const pid of pids) {
    if (scan.examined >= maxFds) {
      scan.complete = false;
      break;
    }
    await scanProcess(procRoot, pid, wanted, maxFds, scan);
  }
  return scan;
}

async function scanProcess(procRoot: string, pid: number, wanted: ReadonlySet<string>, maxFds: number, scan: WriterScan): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  const fdDir = `${procRoot}/${pid}/fd`;
  let fds: string[];
  try {
    fds = fsSync.readdirSync(fdDir);
  } catch (err) {
    // ENOENT: the process exited meanwhile. Anything else (EACCES): we cannot see its files.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') scan.complete = false;
    return;
  }
  for (const fd of fds) {
    if (scan.examined >= maxFds) {
      scan.complete = false;
      return;
    }
    if (++scan.examined % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const link = `${fdDir}/${fd}`;
    try {
      // Sockets, pipes and anon inodes read as "socket:[123]" etc.: only paths can be our files.
      if (!fsSync.readlinkSync(link).startsWith('/')) continue;
      const key = identityKey(fsSync.statSync(link, { bigint: true }));
      if (!wanted.has(key)) continue;
      const flags = /^flags:\s*([0-7]+)/m.exec(fsSync.readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8'));
      if (!flags || (parseInt(flags[1], 8) & O_ACCMODE) === 0) continue;
      const pids = scan.writers.get(key) ?? [];
      pids.push(pid);
      scan.writers.set(key, pids);
    } catch {
      // The descriptor closed while we looked at it: it is not a writer any more.
    }
  }
}
