import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/**
 * Banyan's version from its package.json, found walking up from this file, so that it is the same
 * from src/ (tsx), dist/src/ and an installed package.
 */
export function banyanVersion(): string {
  if (version !== undefined) return version;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'banyan' && typeof pkg.version === 'string') return (version = pkg.version);
    } catch {
      // no package.json here: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) return (version = '0.0.0');
    dir = up;
  }
}
