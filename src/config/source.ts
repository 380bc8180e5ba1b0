import fs from 'node:fs/promises';
import path from 'node:path';

export interface SourceFile {
  file: string;
  text: string;
}

/** What a file is on disk right now, symlinks resolved: changes whenever its content may have. */
export interface SourceFileStat {
  file: string;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  /** Unlike mtime, no writer can set it back: catches edits that restore the old mtime. */
  ctimeNs: bigint;
}

const YAML_EXT = /\.ya?ml$/i;

/**
 * The files that make up the operator's config: one file, or every *.yaml/*.yml directly in a
 * directory (dot-files, e.g. editors' temp files, skipped), sorted so that the same tree always
 * produces the same config and so the same xDS versions. Throws with a message that names the path.
 */
export async function listConfigFiles(configPath: string): Promise<string[]> {
  const stat = await fs.stat(configPath).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `config path ${configPath} does not exist` : `cannot read config path ${configPath}: ${err.message}`);
  });
  if (!stat.isDirectory()) return [configPath];
  return (await fs.readdir(configPath))
    .filter((f) => YAML_EXT.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(configPath, f));
}

/** Reads the files listConfigFiles names. */
export async function readConfigFiles(configPath: string): Promise<SourceFile[]> {
  return Promise.all(
    (await listConfigFiles(configPath)).map(async (file) => ({
      file,
      text: await fs.readFile(file, 'utf8').catch((err: Error) => {
        throw new Error(`cannot read config file ${file}: ${err.message}`);
      }),
    })),
  );
}

/**
 * Stats the files listConfigFiles names, so that a reader can tell whether they changed while it
 * read them (same list and same stats before and after). A file removed between listing and stat
 * is left out, as the next listing would.
 */
export async function statConfigFiles(configPath: string): Promise<SourceFileStat[]> {
  const stats = await Promise.all(
    (await listConfigFiles(configPath)).map(async (file): Promise<SourceFileStat | undefined> => {
      try {
        const s = await fs.stat(file, { bigint: true });
        return { file, dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new Error(`cannot read config file ${file}: ${(err as Error).message}`);
      }
    }),
  );
  return stats.filter((s): s is SourceFileStat => s !== undefined);
}
