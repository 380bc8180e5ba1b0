/**
 * The xDS-level diff between two compiled snapshots: per proxy group and resource type, which
 * resources (by name) a proxy would see added, removed or changed.
 */
import type { CompiledSnapshot, ResourceSet } from '../compile/types.js';
import { canonicalJson, plural } from './canonical.js';

export interface XdsTypeDiff {
  typeUrl: string;
  /** Short type name: Listener, RouteConfiguration, Cluster, ClusterLoadAssignment, ... */
  type: string;
  added: string[];
  removed: string[];
  changed: string[];
}

export interface XdsGroupDiff {
  group: string;
  /** The group exists only on one side. */
  status: 'added' | 'removed' | 'changed';
  types: XdsTypeDiff[];
}

export interface XdsDiff {
  groups: XdsGroupDiff[];
  empty: boolean;
  /** e.g. "default: RouteConfiguration ~1; Cluster +1". */
  summary: string;
}

export function shortType(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

/** `before` undefined means "nothing before". */
export function diffSnapshots(before: CompiledSnapshot | undefined, after: CompiledSnapshot): XdsDiff {
  const a = before?.groups ?? new Map<string, ResourceSet>();
  const b = after.groups;
  const groups: XdsGroupDiff[] = [];
  for (const group of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const types = diffResourceSets(a.get(group), b.get(group));
    if (types.length === 0) continue;
    groups.push({ group, status: !a.has(group) ? 'added' : !b.has(group) ? 'removed' : 'changed', types });
  }
  return { groups, empty: groups.length === 0, summary: summarize(groups) };
}

function diffResourceSets(a: ResourceSet | undefined, b: ResourceSet | undefined): XdsTypeDiff[] {
  const typeUrls = [...new Set([...(a?.keys() ?? []), ...(b?.keys() ?? [])])].sort();
  const out: XdsTypeDiff[] = [];
  for (const typeUrl of typeUrls) {
    const before = a?.get(typeUrl as never) ?? new Map();
    const after = b?.get(typeUrl as never) ?? new Map();
    const added = [...after.keys()].filter((n) => !before.has(n)).sort();
    const removed = [...before.keys()].filter((n) => !after.has(n)).sort();
    const changed = [...before.keys()]
      .filter((n) => after.has(n) && canonicalJson(before.get(n)) !== canonicalJson(after.get(n)))
      .sort();
    if (added.length + removed.length + changed.length > 0) out.push({ typeUrl, type: shortType(typeUrl), added, removed, changed });
  }
  return out;
}

function summarize(groups: XdsGroupDiff[]): string {
  if (groups.length === 0) return 'no changes';
  return groups
    .map((g) => {
      const parts = g.types.map((t) =>
        [
          t.changed.length ? `${plural(t.changed.length, t.type)} changed` : '',
          t.added.length ? `${plural(t.added.length, t.type)} added` : '',
          t.removed.length ? `${plural(t.removed.length, t.type)} removed` : '',
        ]
          .filter(Boolean)
          .join(', '),
      );
      return `${g.group}${g.status === 'changed' ? '' : ` (group ${g.status})`}: ${parts.join(', ')}`;
    })
    .join('; ');
}
