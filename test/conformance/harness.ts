import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { decodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { SnapshotCache } from '../../src/xds/cache.js';
import { XdsServer, type XdsServerOptions } from '../../src/xds/server.js';
import { xdsServiceDefinition, XDS_SERVICES, type XdsServiceSpec } from '../../src/xds/services.js';
import { eventually } from '../support/eventually.js';

export const CDS = TypeUrl.Cluster;
export const EDS = TypeUrl.ClusterLoadAssignment;
export const LDS = TypeUrl.Listener;
export const RDS = TypeUrl.RouteConfiguration;
/** A type no snapshot has: answered with no resources, and always pushed after every real type. */
export const SENTINEL = 'type.googleapis.com/zz.banyan.test.Sentinel';

export interface Harness {
  cache: SnapshotCache;
  xds: XdsServer;
  registry: ReturnType<typeof createRegistry>;
  address: string;
  stop(): Promise<void>;
}

/** A real grpc.Server on a free port with the xDS server mounted, as `banyan serve` does. */
export async function startHarness(opts: Omit<XdsServerOptions, 'cache' | 'logger' | 'registry'> = {}): Promise<Harness> {
  const registry = createRegistry();
  const logger = pino({ level: process.env.BANYAN_LOG_LEVEL ?? 'silent' });
  const cache = new SnapshotCache({ logger, registry });
  const xds = new XdsServer({ ...opts, cache, logger, registry });
  const server = new grpc.Server();
  xds.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    cache,
    xds,
    registry,
    address: `127.0.0.1:${port}`,
    async stop() {
      xds.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
    },
  };
}

export interface Resp {
  raw: Buffer;
  type_url: string;
  version_info: string;
  nonce: string;
  resources: Record<string, unknown>[];
  names: string[];
}

export interface DeltaResp {
  raw: Buffer;
  type_url: string;
  system_version_info: string;
  nonce: string;
  resources: { name: string; version: string; resource: Record<string, unknown> }[];
  removed_resources: string[];
}

const resourceName = (r: Record<string, unknown>) => (r.name ?? r.cluster_name) as string;

export interface NodeSpec {
  id: string;
  cluster?: string;
}

abstract class ScriptedClient<Req, R extends { type_url: string }> {
  /** Every response in arrival order; `cursor` marks how far `next` has consumed. */
  readonly received: R[] = [];
  private cursor = 0;
  private sentNode = false;
  protected readonly client: grpc.Client;
  protected readonly call: grpc.ClientDuplexStream<Req, Buffer>;
  private failure?: Error;

  constructor(address: string, spec: XdsServiceSpec, method: 'sotw' | 'delta', protected readonly node: NodeSpec) {
    const Ctor = grpc.makeGenericClientConstructor(xdsServiceDefinition(spec, { rawResponses: true }), spec.service);
    this.client = new Ctor(address, grpc.credentials.createInsecure());
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Buffer>>)[spec[method]]();
    this.call.on('data', (raw: Buffer) => this.received.push(this.decode(raw)));
    this.call.on('error', (err) => {
      if ((err as grpc.ServiceError).code !== grpc.status.CANCELLED) this.failure = err;
    });
  }

  /** How the stream ended, if the server ended it with an error (not a cancel). */
  get error(): grpc.ServiceError | undefined {
    return this.failure as grpc.ServiceError | undefined;
  }

  protected abstract decode(raw: Buffer): R;

  protected withNode(req: Record<string, unknown>): Req {
    if (this.sentNode) return req as Req;
    this.sentNode = true;
    return { ...req, node: { id: this.node.id, cluster: this.node.cluster ?? 'default' } } as Req;
  }

  write(req: Record<string, unknown>): void {
    this.call.write(this.withNode(req));
  }

  /** Next unconsumed response (of `typeUrl` if given; others of different types are skipped over). */
  async next(typeUrl?: string, timeoutMs = 5000): Promise<R> {
    return eventually(() => {
      if (this.failure) throw this.failure;
      for (let i = this.cursor; i < this.received.length; i++) {
        if (!typeUrl || this.received[i].type_url === typeUrl) {
          this.cursor = i + 1;
          return this.received[i];
        }
      }
      throw new Error(`no ${typeUrl ?? 'response'} received (have ${this.received.map((r) => r.type_url).join(', ') || 'none'})`);
    }, timeoutMs);
  }

  /** Responses not yet consumed by next(). */
  unread(): R[] {
    return this.received.slice(this.cursor);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export class SotwClient extends ScriptedClient<Record<string, unknown>, Resp> {
  private barriers = 0;

  static ads(address: string, node: NodeSpec): SotwClient {
    return new SotwClient(address, XDS_SERVICES[0], 'sotw', node);
  }

  static perType(address: string, typeUrl: string, node: NodeSpec): SotwClient {
    return new SotwClient(address, XDS_SERVICES.find((s) => s.typeUrl === typeUrl)!, 'sotw', node);
  }

  protected decode(raw: Buffer): Resp {
    const r = decodeMessage<Omit<Resp, 'raw' | 'names'>>('envoy.service.discovery.v3.DiscoveryResponse', raw);
    const resources = (r.resources ?? []) as Record<string, unknown>[];
    return { raw, type_url: r.type_url, version_info: r.version_info ?? '', nonce: r.nonce, resources, names: resources.map(resourceName) };
  }

  request(typeUrl: string, names: string[] = [], ack?: Resp): void {
    this.write({ type_url: typeUrl, resource_names: names, version_info: ack?.version_info ?? '', response_nonce: ack?.nonce ?? '' });
  }

  ack(resp: Resp, names: string[] = []): void {
    this.request(resp.type_url, names, resp);
  }

  nack(resp: Resp, message: string, previousVersion: string, names: string[] = []): void {
    this.write({
      type_url: resp.type_url,
      resource_names: names,
      version_info: previousVersion,
      response_nonce: resp.nonce,
      error_detail: { code: 3, message },
    });
  }

  /**
   * Proves a negative without sleeping: subscribes to a fresh name of a type the server has nothing
   * of, which it must answer, and after every real type. Returns what arrived before that answer.
   */
  async barrier(): Promise<Resp[]> {
    this.request(SENTINEL, [`barrier-${++this.barriers}`]);
    const before: Resp[] = [];
    for (;;) {
      const r = await this.next();
      if (r.type_url === SENTINEL) return before;
      before.push(r);
    }
  }
}

export class DeltaClient extends ScriptedClient<Record<string, unknown>, DeltaResp> {
  static ads(address: string, node: NodeSpec): DeltaClient {
    return new DeltaClient(address, XDS_SERVICES[0], 'delta', node);
  }

  protected decode(raw: Buffer): DeltaResp {
    const r = decodeMessage<Record<string, unknown>>('envoy.service.discovery.v3.DeltaDiscoveryResponse', raw);
    return {
      raw,
      type_url: r.type_url as string,
      system_version_info: (r.system_version_info as string) ?? '',
      nonce: r.nonce as string,
      resources: (r.resources ?? []) as DeltaResp['resources'],
      removed_resources: (r.removed_resources ?? []) as string[],
    };
  }

  request(typeUrl: string, opts: { subscribe?: string[]; unsubscribe?: string[]; initial?: Record<string, string>; ack?: DeltaResp } = {}): void {
    this.write({
      type_url: typeUrl,
      resource_names_subscribe: opts.subscribe ?? [],
      resource_names_unsubscribe: opts.unsubscribe ?? [],
      initial_resource_versions: opts.initial ?? {},
      response_nonce: opts.ack?.nonce ?? '',
    });
  }

  ack(resp: DeltaResp): void {
    this.request(resp.type_url, { ack: resp });
  }

  nack(resp: DeltaResp, message: string): void {
    this.write({ type_url: resp.type_url, response_nonce: resp.nonce, error_detail: { code: 3, message } });
  }

  private barriers = 0;
  /** As SotwClient.barrier; the first request for a type is always answered, so each barrier uses a fresh type. */
  async barrier(): Promise<DeltaResp[]> {
    const typeUrl = `${SENTINEL}${++this.barriers}`;
    this.request(typeUrl, { subscribe: ['barrier'] });
    const before: DeltaResp[] = [];
    for (;;) {
      const r = await this.next();
      if (r.type_url === typeUrl) return before;
      before.push(r);
    }
  }
}

/** Decoded resource names of a response, sorted. */
export function namesOf(r: Resp): string[] {
  return [...r.names].sort();
}
