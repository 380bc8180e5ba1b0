import { createHash } from 'node:crypto';
import type { ConfigFile } from './types.js';

/** sha256 over each file's name and text, length-prefixed so that no two contents collide by concatenation. */
export function hashConfigContent(content: readonly ConfigFile[]): string {
  const h = createHash('sha256');
  for (const { file, text } of content) {
    for (const part of [file, text]) {
      const bytes = Buffer.from(part, 'utf8');
      h.update(`${bytes.length}:`);
      h.update(bytes);
    }
  }
  return h.digest('hex');
}
