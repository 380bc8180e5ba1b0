import fs from 'node:fs/promises';
import path from 'node:path';

/** As the kernel's limit on links followed in one lookup (ELOOP). */
const MAX_LINKS = 40;

/**
 * Every symlink the resolution of `target` goes through, in order: a component of the path, or of a
 * link's target, that is itself a link. Swapping one of them (`ln -s v2 new && mv -Tf new current`,
 * the kubelet's `..data`) changes what the path means without any event on the path itself.
 * Resolution stops at the first component that does not exist.
 */
export async function symlinksOnPath(target: string): Promise<string[]> {
  const links: string[] = [];
  let pending = path.resolve(target).split(path.sep).filter(Boolean);
  let dir = path.parse(path.resolve(target)).root;
  while (pending.length) {
    const next = path.join(dir, pending[0]);
    let isLink: boolean;
    try {
      isLink = (await fs.lstat(next)).isSymbolicLink();
    } catch {
      break;
    }
    if (!isLink) {
      dir = next;
      pending = pending.slice(1);
      continue;
    }
    if (links.length >= MAX_LINKS) break;
    links.push(next);
    // Go on from the link's target, then what was left of the path.
    let to: string;
    try {
      to = path.resolve(dir, await fs.readlink(next));
    } catch {
      break;
    }
    pending = [...to.split(path.sep).filter(Boolean), ...pending.slice(1)];
    dir = path.parse(to).root;
  }
  return links;
}
