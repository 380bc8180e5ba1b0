import type { Diagnostic } from './diagnostics.js';
import type { AuthProvider, Cluster, ClusterTls, Listener, MeshCa, ProxyGroup, RolloutSpec, SourcePos } from './model.js';
import type { Node } from 'yaml';
import type { SourceDoc } from './yaml.js';
import type { TlsSink } from './tls.js';

/** A name used somewhere that must be defined somewhere (possibly in another file). */
export interface Reference {
  kind: 'cluster' | 'provider' | 'listener' | 'domain';
  name: string;
  /** Who refers, for the message: `route "login"`, `group "edge"`. */
  from: string;
  pos: SourcePos;
  path: string;
}

export interface ServiceSetting {
  address: string;
  port: number;
  tls?: ClusterTls;
  pos: SourcePos;
}

/** A `rollouts:` entry and where its keys are written. */
export interface RolloutSite {
  spec: RolloutSpec;
  name: SourcePos;
  route: SourcePos;
  to: SourcePos;
}

/** What one YAML document contributes; fragments are concatenated into one Config. */
export interface Fragment extends TlsSink {
  listeners: Listener[];
  clusters: Cluster[];
  groups: ProxyGroup[];
  providers: AuthProvider[];
  rollouts: RolloutSpec[];
  /** Where each rollout's keys are, for the checks that need every file (rollouts.ts). Same order as `rollouts`. */
  rolloutSites: RolloutSite[];
  services: { ratelimit?: ServiceSetting; authz?: ServiceSetting };
  /** The `ratelimit:` items, left as YAML for the rate limit config parser. */
  rateLimitNodes: { source: SourceDoc; node: Node; domain?: string }[];
  references: Reference[];
  diagnostics: Diagnostic[];
  /** The document's `ca:` section. */
  ca?: MeshCa;
}

/** A fragment with nothing in it. */
export function emptyFragment(): Fragment {
  return { listeners: [], clusters: [], groups: [], providers: [], rollouts: [], rolloutSites: [], services: {}, rateLimitNodes: [], references: [], diagnostics: [], secrets: [], secretRefs: [] };
}

/**
 * The fragments of one document's pieces (load-cache.ts) as the one fragment the whole document
 * makes: each list concatenated in the order given, which must be buildFragment's order of sections.
 */
export function concatFragments(parts: readonly Fragment[]): Fragment {
  const out = emptyFragment();
  for (const p of parts) {
    out.listeners.push(...p.listeners);
    out.clusters.push(...p.clusters);
    out.groups.push(...p.groups);
    out.providers.push(...p.providers);
    out.rollouts.push(...p.rollouts);
    out.rolloutSites.push(...p.rolloutSites);
    out.rateLimitNodes.push(...p.rateLimitNodes);
    out.references.push(...p.references);
    out.diagnostics.push(...p.diagnostics);
    out.secrets.push(...p.secrets);
    out.secretRefs.push(...p.secretRefs);
    if (p.services.ratelimit) out.services.ratelimit = p.services.ratelimit;
    if (p.services.authz) out.services.authz = p.services.authz;
    if (p.ca) out.ca = p.ca;
  }
  return out;
}
