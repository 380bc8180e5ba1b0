import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { toEnvoyJson } from '../../src/compile/envoy-json.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';

/**
 * A compiled snapshot as reviewable JSON: every group's resources by type URL and name, in Envoy's
 * own JSON form (what `config_dump` shows and Envoy's docs use), with object keys sorted.
 */
export function snapshotToJson(snapshot: CompiledSnapshot, extra: Record<string, unknown> = {}): string {
  const groups: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [group, set] of snapshot.groups) {
    groups[group] = {};
    for (const [typeUrl, resources] of set) {
      groups[group][typeUrl] = Object.fromEntries([...resources].map(([name, r]) => [name, toEnvoyJson(typeUrl, r)]));
    }
  }
  const doc = {
    warnings: snapshot.warnings.map(formatDiagnostic),
    apiListenerNames: [...(snapshot.apiListenerNames ?? [])].sort(),
    groups,
    ...extra,
  };
  return `${JSON.stringify(sortKeys(doc), null, 2)}\n`;
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
