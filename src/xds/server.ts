import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import { globToRegExp } from '../compile/groups.js';
import type { NodeInfo } from '../compile/types.js';
import type { ProxyGroup } from '../config/model.js';
import { createLogger } from '../telemetry/logger.js';
import type { SnapshotCache, SnapshotChange } from './cache.js';
import { Answers } from './answers.js';
import { DeltaStream, type DeltaDiscoveryRequest } from './delta-stream.js';
import { XdsMetrics } from './metrics.js';
import { xdsServiceDefinition, XDS_SERVICES } from './services.js';
import { SotwStream, type DiscoveryRequest } from './sotw-stream.js';
import type { ProxyStatus, RefusalRecord } from './status.js';
import type { Admission, PeerCall, ServedStream, StreamContext, XdsEvents } from './stream.js';
import { Selector } from './subscription.js';
import type { XdsResponse } from './wire.js';

export interface XdsServerOptions {
  cache: SnapshotCache;
  logger?: Logger;
  registry?: client.Registry;
  /**
   * The groups of the config served now (README "Proxy identity"): a group with `identities` admits
   * only proxies whose client certificate carries one of them. Absent or no group with identities:
   * every proxy is admitted (mTLS then only authenticates).
   */
  groups?: () => readonly ProxyGroup[] | undefined;
  /**
   * Whether the gRPC server these streams come over verifies client certificates (`--tls-client-ca`).
   * `false`: a config whose groups have `identities` is warned about, as every such proxy is refused.
   */
  clientCertsVerified?: boolean;
}

/** How many refusals `status` keeps (the latest). */
export const MAX_REFUSALS = 100;

/**
 * A certificate's identities as groups name them: URI SANs as given, DNS SANs as `dns:<name>`. Node's
 * `subjectaltname` is `URI:spiffe://..., DNS:edge-1.internal` (values with commas are JSON-quoted).
 */
export function certificateIdentities(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  const re = /(URI|DNS|IP Address|email|DirName|othername):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of subjectaltname.matchAll(re)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    if (m[1] === 'URI') out.push(value);
    else if (m[1] === 'DNS') out.push(`dns:${value}`);
  }
  return out;
}

/** Decides whether a stream's node may join its group, from the peer's certificate. */
class IdentityAdmission implements Admission {
  private compiled?: { groups: readonly ProxyGroup[]; allowed: Map<string, { patterns: string[]; res: RegExp[] }> };
  readonly refusals: RefusalRecord[] = [];

  constructor(
    private readonly groups: () => readonly ProxyGroup[] | undefined,
    private readonly log: Logger,
    private readonly clientCertsVerified: boolean | undefined,
  ) {}

  /** Looks at the groups served now (after a snapshot change): warns once per config when identities cannot be checked. */
  refresh(): void {
    this.rules();
  }

  check(node: NodeInfo, group: string, call: PeerCall, when: RefusalRecord['when']): string | undefined {
    const rule = this.rules().get(group);
    if (!rule) return undefined;
    const auth = call.getAuthContext();
    const identities = certificateIdentities(auth.sslPeerCertificate?.subjectaltname);
    if (identities.some((id) => rule.res.some((re) => re.test(id)))) return undefined;
    const who = identities.length ? `identity ${identities.join(', ')}` : auth.transportSecurityType === 'ssl' ? 'no client certificate identity' : 'no client certificate (xDS is served without TLS, so identities cannot be checked)';
    const reason = `node "${node.id}" with ${who} may not join group "${group}", which allows ${rule.patterns.join(', ')}`;
    this.refusals.push({ nodeId: node.id, nodeCluster: node.cluster, identities, group, allowed: [...rule.patterns], reason, peer: call.getPeer(), when, at: new Date().toISOString() });
    if (this.refusals.length > MAX_REFUSALS) this.refusals.splice(0, this.refusals.length - MAX_REFUSALS);
    this.log.warn({ node: node.id, identities, group, when }, 'xDS stream refused: %s', reason);
    return reason;
  }

  private rules(): Map<string, { patterns: string[]; res: RegExp[] }> {
    const groups = this.groups() ?? [];
    if (this.compiled?.groups !== groups) {
      const allowed = new Map<string, { patterns: string[]; res: RegExp[] }>();
      for (const g of groups) if (g.identities) allowed.set(g.name, { patterns: g.identities, res: g.identities.map(globToRegExp) });
      this.compiled = { groups, allowed };
      if (allowed.size && this.clientCertsVerified === false) {
        this.log.warn({ groups: [...allowed.keys()] }, 'groups require client-certificate identities but xDS does not verify client certificates (no --tls-client-ca): their proxies are all refused');
      }
    }
    return this.compiled.allowed;
  }
}

/**
 * Serves the cache over ADS (SotW and delta) and the per-type LDS/RDS/CDS/EDS services. Mount it on a
 * grpc.Server with addToServer(); status() reports what every connected proxy has been sent and has
 * accepted; 'ack' and 'nack' events report proxies' answers as they arrive.
 */
export class XdsServer extends EventEmitter<XdsEvents> {
  private readonly streams = new Set<ServedStream>();
  private readonly ctx: StreamContext;
  private readonly admission: IdentityAdmission;
  private readonly onChange = (change: SnapshotChange) => {
    this.admission.refresh();
    for (const s of this.streams) s.onSnapshot(change);
  };

  constructor(opts: XdsServerOptions) {
    super();
    const log = (opts.logger ?? createLogger()).child({ component: 'xds' });
    const metrics = new XdsMetrics(opts.registry);
    this.admission = new IdentityAdmission(opts.groups ?? (() => undefined), log, opts.clientCertsVerified);
    this.ctx = { cache: opts.cache, selector: new Selector(opts.cache), metrics, log, events: this, answers: new Answers(this, metrics), admission: this.admission };
    opts.cache.on('change', this.onChange);
  }

  addToServer(server: grpc.Server): void {
    for (const spec of XDS_SERVICES) {
      const kinds = spec.typeUrl ? (['sotw', 'delta'] as const) : (['ads-sotw', 'ads-delta'] as const);
      server.addService(xdsServiceDefinition(spec), {
        [spec.sotw]: (call: grpc.ServerDuplexStream<DiscoveryRequest, XdsResponse>) =>
          this.track(new SotwStream(this.ctx, call, kinds[0], spec.service, spec.typeUrl, (s) => this.streams.delete(s))),
        [spec.delta]: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, XdsResponse>) =>
          this.track(new DeltaStream(this.ctx, call, kinds[1], spec.service, spec.typeUrl, (s) => this.streams.delete(s))),
      });
    }
  }

  /** Every connected stream, JSON-serialisable as the admin API serves it. */
  status(): ProxyStatus[] {
    return [...this.streams].map((s) => s.status());
  }

  /** The latest proxies refused for their identity (at most MAX_REFUSALS), oldest first. */
  refused(): RefusalRecord[] {
    return this.admission.refusals.map((r) => ({ ...r, identities: [...r.identities], allowed: [...r.allowed] }));
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Stops following the cache (streams end when their grpc.Server shuts down). */
  close(): void {
    this.ctx.cache.off('change', this.onChange);
  }

  private track(stream: ServedStream): void {
    if (!stream.isClosed) this.streams.add(stream);
  }
}
