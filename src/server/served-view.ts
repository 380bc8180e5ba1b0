import type { FleetProxy, ServedStatus, ServedView, XdsView } from '../admin/operations.js';
import type { Config } from '../config/model.js';
import { BanyanError } from '../errors.js';
import { canonicalJsonOf } from '../proto/json.js';
import type { ReplicaStatus } from '../store/types.js';
import type { ProxyStatus, RefusalRecord } from '../xds/status.js';
import type { ConfigPipeline } from './pipeline.js';

/** Where the fleet's status is read from: the FleetPublisher (server/fleet.ts). */
export interface FleetSource {
  readonly replica: string;
  fleet(): Promise<ReplicaStatus[]>;
}

/** Without a FleetSource (tests that serve one pipeline), the fleet is this process's proxies under this name. */
export const LOCAL_REPLICA = 'local';

/** What the pipeline serves and which proxies take it, as the admin API reads it. */
export class PipelineView implements ServedView {
  constructor(
    private readonly pipeline: ConfigPipeline,
    private readonly connected: () => ProxyStatus[],
    private readonly replicas?: FleetSource,
    /** The proxies this replica refused for their certificate identity (XdsServer.refused). */
    private readonly refusals?: () => RefusalRecord[],
  ) {}

  /** The latest proxies refused for their identity (README "Proxy identity"), oldest first. */
  refused(): RefusalRecord[] {
    return this.refusals?.() ?? [];
  }

  status(): ServedStatus {
    const { current: cur, lastRejected: rej, lastHeld: held } = this.pipeline;
    return {
      config: cur ? { hash: cur.hash, files: cur.files.map((f) => f.file), appliedAt: cur.appliedAt, warnings: cur.warnings } : null,
      lastRejected: rej ? { hash: rej.hash, at: rej.at, diagnostics: rej.diagnostics } : null,
      lastHeld: held ? { hash: held.hash, at: held.at, diagnostics: held.diagnostics } : null,
      groups: cur ? [...cur.snapshot.groups.keys()] : [],
    };
  }

  config(which: 'base' | 'effective'): Config {
    return this.pipeline.served()[which];
  }

  xds(wanted?: string): XdsView {
    const cur = this.pipeline.served();
    const out: XdsView = {};
    for (const [group, resources] of cur.snapshot.groups) {
      if (wanted && group !== wanted) continue;
      const byType: Record<string, Record<string, unknown>> = {};
      for (const [typeUrl, named] of resources) {
        byType[typeUrl] = Object.fromEntries([...named].map(([name, r]) => [name, canonicalJsonOf(typeUrl, r)]));
      }
      out[group] = byType;
    }
    if (wanted && !out[wanted]) throw new BanyanError('not-found', `no proxy group "${wanted}"; have: ${[...cur.snapshot.groups.keys()].join(', ')}`);
    return out;
  }

  proxies(): ProxyStatus[] {
    return this.connected();
  }

  async fleet(): Promise<FleetProxy[]> {
    if (!this.replicas) return this.connected().map((p) => ({ ...p, replica: LOCAL_REPLICA }));
    const replicas = await this.replicas.fleet();
    return replicas.flatMap((r) => r.proxies.map((p) => ({ ...p, replica: r.replica })));
  }
}
