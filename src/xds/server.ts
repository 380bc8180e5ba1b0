import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { ProxyGroup } from '../config/model.js';
import { createLogger } from '../telemetry/logger.js';
import type { SnapshotCache, SnapshotChange } from './cache.js';
import { Answers } from './answers.js';
import { Convergence } from './convergence.js';
import { DeltaStream, type DeltaDiscoveryRequest } from './delta-stream.js';
import { FlushScheduler } from './flush.js';
import { IdentityAdmission } from './identity.js';
import { registerSyncGauges, XdsMetrics } from './metrics.js';
import { xdsServiceDefinition, XDS_SERVICES } from './services.js';
import { SotwStream, type DiscoveryRequest } from './sotw-stream.js';
import type { PersonalResources } from './personal.js';
import { DEFAULT_LIMITS, type XdsLimits } from './requests.js';
import type { ProxyStatus, RefusalRecord } from './status.js';
import type { ServedStream, StreamContext, XdsEvents } from './stream.js';
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
  /** Per-proxy resources (workload certificates from Banyan's CA) in place of the snapshot's placeholders. */
  personal?: PersonalResources;
  /** What a client may send; each limit not given keeps its default (DEFAULT_LIMITS). */
  limits?: Partial<XdsLimits>;
  /** How long one slice of push fan-out may hold the event loop (flush.ts; default FLUSH_SLICE_MS; Infinity: no slicing). */
  flushSliceMs?: number;
}

export { certificateIdentities, MAX_REFUSALS } from './identity.js';
export { DEFAULT_LIMITS, type XdsLimits } from './requests.js';

/**
 * Serves the cache over ADS (SotW and delta) and the per-type LDS/RDS/CDS/EDS services. Mount it on a
 * grpc.Server with addToServer(); status() reports what every connected proxy has been sent and has
 * accepted; 'ack' and 'nack' events report proxies' answers as they arrive.
 */
export class XdsServer extends EventEmitter<XdsEvents> {
  private readonly streams = new Set<ServedStream>();
  private readonly ctx: StreamContext;
  private readonly admission: IdentityAdmission;
  private readonly convergence: Convergence;
  private readonly onChange = (change: SnapshotChange) => {
    this.admission.refresh();
    this.convergence.begin(change);
    for (const s of this.streams) {
      s.onSnapshot(change);
      this.convergence.join(s, change);
    }
    this.convergence.settle(change);
  };
  private readonly closed = (s: ServedStream) => {
    this.streams.delete(s);
    this.convergence.released(s);
  };

  constructor(opts: XdsServerOptions) {
    super();
    const log = (opts.logger ?? createLogger()).child({ component: 'xds' });
    const metrics = new XdsMetrics(opts.registry);
    this.convergence = new Convergence(opts.registry);
    this.admission = new IdentityAdmission(opts.groups ?? (() => undefined), log, opts.clientCertsVerified);
    const limits: XdsLimits = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) };
    this.ctx = {
      cache: opts.cache,
      selector: new Selector(opts.cache),
      metrics,
      log,
      events: this,
      answers: new Answers(this, metrics, this.convergence),
      convergence: this.convergence,
      admission: this.admission,
      personal: opts.personal,
      limits,
      flushes: new FlushScheduler(opts.flushSliceMs),
    };
    opts.cache.on('change', this.onChange);
    if (opts.registry) registerSyncGauges(opts.registry, () => this.status());
  }

  addToServer(server: grpc.Server): void {
    for (const spec of XDS_SERVICES) {
      const kinds = spec.typeUrl ? (['sotw', 'delta'] as const) : (['ads-sotw', 'ads-delta'] as const);
      server.addService(xdsServiceDefinition(spec, { limits: this.ctx.limits }), {
        [spec.sotw]: (call: grpc.ServerDuplexStream<DiscoveryRequest, XdsResponse>) =>
          this.track(new SotwStream(this.ctx, call, kinds[0], spec.service, spec.typeUrl, this.closed)),
        [spec.delta]: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, XdsResponse>) =>
          this.track(new DeltaStream(this.ctx, call, kinds[1], spec.service, spec.typeUrl, this.closed)),
      });
    }
  }

  /** The limits on what clients may send, as in force. */
  get limits(): Readonly<XdsLimits> {
    return this.ctx.limits;
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

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
