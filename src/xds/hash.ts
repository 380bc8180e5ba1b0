import { createHash } from 'node:crypto';

/** Short content hash used as a resource or type version: same bytes, same version, across restarts. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/**
 * Version of a set of resources: a hash over (name, resource version) pairs in name order, so it is
 * independent of map insertion order and changes exactly when some member changes, appears or goes.
 */
export function setVersion(entries: Iterable<{ name: string; version: string }>): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h = createHash('sha256');
  for (const e of sorted) h.update(e.name).update('\0').update(e.version).update('\n');
  return h.digest('base64url').slice(0, 16);
}
