import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StoreLockedError } from './errors.js';

/** Directories locked by this process, so a PID reused after a container restart is not mistaken for a live owner. */
const heldHere = new Set<string>();

/**
 * Takes DIR/LOCK for this process. A lock whose owner has died (crash, kill -9) is taken over; a live
 * owner — another process, or another store in this one — gets a StoreLockedError. Returns release().
 */
export function acquireDirLock(dir: string): () => void {
  const abs = path.resolve(dir);
  const lockPath = path.join(abs, 'LOCK');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldHere.add(abs);
      return () => {
        heldHere.delete(abs);
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    if (Number.isInteger(owner) && isAlive(owner, abs)) {
      throw new StoreLockedError(
        `data directory ${abs} is in use by ${owner === process.pid ? 'another store in this process' : `process ${owner}`} ` +
          `(lock file ${lockPath}); stop that server or point this one at another --data-dir`,
      );
    }
    unlinkSync(lockPath);
  }
}

function isAlive(pid: number, dir: string): boolean {
  if (pid === process.pid) return heldHere.has(dir);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
