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
