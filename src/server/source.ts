import fs from 'node:fs/promises';
import path from 'node:path';

export interface SourceFile {
  file: string;
  text: string;
}

const YAML_EXT = /\.ya?ml$/i;

/**
 * Reads the operator's config: one file, or every *.yaml/*.yml directly in a directory, sorted so
 * that the same tree always produces the same config (and the same xDS versions).
 */
export async function readConfigFiles(configPath: string): Promise<SourceFile[]> {
  const stat = await fs.stat(configPath);
  const files = stat.isDirectory()
    ? (await fs.readdir(configPath)).filter((f) => YAML_EXT.test(f)).sort().map((f) => path.join(configPath, f))
    : [configPath];
  return Promise.all(files.map(async (file) => ({ file, text: await fs.readFile(file, 'utf8') })));
}
