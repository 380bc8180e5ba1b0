import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { RateLimitDomain } from '../config/model.js';
import { BANYAN_RATELIMIT_USER_AGENT, fromRateLimitConfigResources } from '../config/ratelimit/resource.js';
import { decodeMessage, TypeUrl } from '../proto/envoy.js';
import { methodDefinition } from '../proto/grpc.js';
import type { Logger } from '../telemetry/logger.js';
import { banyanVersion } from '../version.js';

interface DiscoveryResponse {
  version_info?: string;
  nonce?: string;
  type_url?: string;
  resources?: Record<string, any>[];
}

export interface RateLimitXdsClientOptions {
  /** host:port of Banyan's xDS server. */
  address: string;
  nodeId: string;
  /** Node cluster the server may use to pick a group. */
  nodeCluster?: string;
  /** Applies a config; throwing makes the client NACK it (and the caller keeps its last good one). */
  onConfig(domains: RateLimitDomain[], version: string): void;
  log?: Logger;
  /** Reconnect delay cap; doubles from 100 ms. */
  maxBackoffMs?: number;
  /**
   * TLS to the xDS server (serve --tls-cert): the CA to verify it with (PEM file; absent = the system
   * roots), and a client certificate and key for mTLS (serve --tls-client-ca). Absent = plaintext.
   */
  tls?: XdsClientTls;
  /** Channel credentials in place of `tls` (a rotating client certificate: grpc/grpc-js-tls.ts grpcChannelCredentials). */
  credentials?: grpc.ChannelCredentials;
}

export interface XdsClientTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** gRPC channel credentials for the xDS server; the files are read now, so a missing one fails start(). */
export function xdsCredentials(tls: XdsClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if (!tls.certFile !== !tls.keyFile) throw new Error('xDS client TLS: a client certificate and its key go together');
  const read = (file: string | undefined) => (file === undefined ? null : fs.readFileSync(file));
  return grpc.credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
}

/** Banyan's version, sent as the node's user_agent_version. */
const BANYAN_VERSION = banyanVersion();

const ADS_METHOD = methodDefinition(
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
  'StreamAggregatedResources',
  'envoy.service.discovery.v3.DiscoveryRequest',
  'envoy.service.discovery.v3.DiscoveryResponse',
  { request: true, response: true },
);

/**
 * A state-of-the-world ADS subscriber for RateLimitConfig (wildcard: every domain). Each response is
 * applied whole; success ACKs its version and nonce, failure NACKs with the last good version and the
 * reason. Reconnects with backoff and re-subscribes with the last applied version.
 */
export class RateLimitXdsClient {
  private client?: grpc.Client;
  private call?: grpc.ClientDuplexStream<object, DiscoveryResponse>;
  private stopped = false;
  private lastVersion = '';
  private backoffMs = 100;
  private retry?: NodeJS.Timeout;

  constructor(private readonly opts: RateLimitXdsClientOptions) {}

  start(): void {
    this.client = new grpc.Client(this.opts.address, this.opts.credentials ?? xdsCredentials(this.opts.tls));
    this.connect();
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const call = this.client.makeBidiStreamRequest(ADS_METHOD.path, ADS_METHOD.requestSerialize, ADS_METHOD.responseDeserialize) as grpc.ClientDuplexStream<object, DiscoveryResponse>;
    this.call = call;
    call.on('data', (res: DiscoveryResponse) => {
      this.backoffMs = 100;
      this.onResponse(call, res);
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (!this.stopped) this.opts.log?.warn({ err: err.message }, 'rate limit xDS stream failed; reconnecting');
    });
    call.on('close', () => this.scheduleReconnect(call));
    call.on('end', () => this.scheduleReconnect(call));
    call.write(this.request({ version_info: this.lastVersion }));
  }

  private scheduleReconnect(call: grpc.ClientDuplexStream<object, DiscoveryResponse>): void {
    if (this.stopped || this.call !== call) return;
    this.call = undefined;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5000);
    this.retry = setTimeout(() => this.connect(), delay);
  }

  private request(extra: Record<string, unknown>): object {
    // The user agent tells Banyan's xDS server this consumer reads Banyan's extension fields
    // (isBanyanRateLimitConsumer): any other is a reference consumer that reads only the reference's.
    const node = { id: this.opts.nodeId, cluster: this.opts.nodeCluster ?? 'banyan-ratelimit', user_agent_name: BANYAN_RATELIMIT_USER_AGENT, user_agent_version: BANYAN_VERSION };
    return { node, type_url: TypeUrl.RateLimitConfig, resource_names: [], ...extra };
  }

  private onResponse(call: grpc.ClientDuplexStream<object, DiscoveryResponse>, res: DiscoveryResponse): void {
    if (res.type_url !== TypeUrl.RateLimitConfig) return;
    const version = res.version_info ?? '';
    try {
      const domains = fromRateLimitConfigResources((res.resources ?? []).map(resourceFields));
      this.opts.onConfig(domains, version);
      this.lastVersion = version;
      call.write(this.request({ version_info: version, response_nonce: res.nonce ?? '' }));
    } catch (err) {
      const message = (err as Error).message;
      this.opts.log?.error({ version, err: message }, 'rate limit config from xDS rejected (NACK)');
      call.write(this.request({ version_info: this.lastVersion, response_nonce: res.nonce ?? '', error_detail: { code: grpc.status.INVALID_ARGUMENT, message } }));
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.call?.cancel();
    this.client?.close();
  }
}

/** An Any in object form: expanded ({'@type', ...fields}) when protobufjs knew the type, else raw bytes. */
function resourceFields(any: Record<string, any>): Record<string, any> {
  if (any['@type']) {
    const { ['@type']: _url, ...fields } = any;
    return fields;
  }
  const bytes = typeof any.value === 'string' ? Buffer.from(any.value, 'base64') : any.value;
  return decodeMessage(TypeUrl.RateLimitConfig, bytes);
}
