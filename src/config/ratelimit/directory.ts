import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, hasErrors } from '../diagnostics.js';
import type { RateLimitDomain } from '../model.js';
import { parseRateLimitFiles, type RateLimitParseOptions } from './parse.js';

const CONFIG_FILE = /\.ya?ml$/i;

/**
 * Loads a directory of envoyproxy/ratelimit domain files (every *.yaml / *.yml directly inside it, in
 * name order), or a single file; `mergeDomains` as the reference's MERGE_DOMAIN_CONFIG. Throws
 * ConfigError with every diagnostic when anything is invalid.
 */
export function loadRateLimitDirectory(dirOrFile: string, opts: RateLimitParseOptions = {}): RateLimitDomain[] {
  const stat = fs.statSync(dirOrFile);
  const files = stat.isDirectory()
    ? fs
        .readdirSync(dirOrFile)
        .filter((f) => CONFIG_FILE.test(f))
        .sort()
        .map((f) => path.join(dirOrFile, f))
    : [dirOrFile];
  const { domains, diagnostics } = parseRateLimitFiles(files.map((file) => ({ file, text: fs.readFileSync(file, 'utf8') })), opts);
  if (hasErrors(diagnostics)) throw new ConfigError(diagnostics);
  return domains;
}
