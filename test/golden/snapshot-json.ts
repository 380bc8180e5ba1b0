import { formatDiagnostic } from '../../src/config/diagnostics.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { canonicalJsonOf } from '../../src/proto/json.js';

/**
 * A compiled snapshot as reviewable JSON: every group's resources by type URL and name, each as the
 * canonical JSON of its wire bytes (what Go's protojson and Envoy's config_dump print; src/proto/json.ts).
 * Everything around the resources has its keys sorted; inside a resource the order is protojson's own.
 */
export function snapshotToJson(snapshot: CompiledSnapshot, extra: Record<string, unknown> = {}): string {
  const groups: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const group of [...snapshot.groups.keys()].sort()) {
    const set = snapshot.groups.get(group)!;
    groups[group] = {};
    for (const typeUrl of [...set.keys()].sort()) {
      const resources = set.get(typeUrl)!;
      groups[group][typeUrl] = Object.fromEntries(
        [...resources.keys()].sort().map((name) => [name, canonicalJsonOf(typeUrl, resources.get(name)!)]),
      );
    }
  }
  const doc = sortKeys({
    warnings: snapshot.warnings.map(formatDiagnostic),
    apiListenerNames: [...(snapshot.apiListenerNames ?? [])].sort(),
    groups: null,
    ...extra,
  }) as Record<string, unknown>;
  doc.groups = groups; // in the place sorting gave it, and not sorted inside
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
