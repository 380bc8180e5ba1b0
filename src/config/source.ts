import fs from 'node:fs/promises';
import path from 'node:path';

export interface SourceFile {
  file: string;
  text: string;
}

const YAML_EXT = /\.ya?ml$/i;

/**
 * Reads the operator's config: one file, or every *.yaml/*.yml directly in a directory (dot-files,
 * e.g. editors' temp files, skipped), sorted so that the same tree always produces the same config
 * and so the same xDS versions. Throws with a message that names the path.
 */
export async function readConfigFiles(configPath: string): Promise<SourceFile[]> {
  const stat = await fs.stat(configPath).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `config path ${configPath} does not exist` : `cannot read config path ${configPath}: ${err.message}`);
  });
  const files = stat.isDirectory()
    ? (await fs.readdir(configPath)).filter((f) => YAML_EXT.test(f) && !f.startsWith('.')).sort().map((f) => path.join(configPath, f))
    : [configPath];
  return Promise.all(
    files.map(async (file) => ({
      file,
      text: await fs.readFile(file, 'utf8').catch((err: Error) => {
        throw new Error(`cannot read config file ${file}: ${err.message}`);
      }),
    })),
  );
}
