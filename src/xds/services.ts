import type * as grpc from '@grpc/grpc-js';
import { messageType, TO_OBJECT_OPTIONS, TypeUrl } from '../proto/envoy.js';
import { methodDefinition } from '../proto/grpc.js';
import { DEFAULT_LIMITS, readDeltaRequest, readSotwRequest, type XdsLimits } from './requests.js';
import type { XdsResponse } from './wire.js';

const DISCOVERY = 'envoy.service.discovery.v3';
const REQ = `${DISCOVERY}.DiscoveryRequest`;
const RES = `${DISCOVERY}.DiscoveryResponse`;
const DREQ = `${DISCOVERY}.DeltaDiscoveryRequest`;
const DRES = `${DISCOVERY}.DeltaDiscoveryResponse`;
const BIDI = { request: true, response: true };

export interface XdsServiceSpec {
  service: string;
  sotw: string;
  delta: string;
  /** Undefined for the aggregated service, which serves every type. */
  typeUrl?: string;
}

/** The aggregated service and the per-type services, as Envoy and gRPC clients address them. */
export const XDS_SERVICES: readonly XdsServiceSpec[] = [
  { service: `${DISCOVERY}.AggregatedDiscoveryService`, sotw: 'StreamAggregatedResources', delta: 'DeltaAggregatedResources' },
  { service: 'envoy.service.listener.v3.ListenerDiscoveryService', sotw: 'StreamListeners', delta: 'DeltaListeners', typeUrl: TypeUrl.Listener },
  { service: 'envoy.service.route.v3.RouteDiscoveryService', sotw: 'StreamRoutes', delta: 'DeltaRoutes', typeUrl: TypeUrl.RouteConfiguration },
  { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', sotw: 'StreamClusters', delta: 'DeltaClusters', typeUrl: TypeUrl.Cluster },
  {
    service: 'envoy.service.endpoint.v3.EndpointDiscoveryService',
    sotw: 'StreamEndpoints',
    delta: 'DeltaEndpoints',
    typeUrl: TypeUrl.ClusterLoadAssignment,
  },
  { service: 'envoy.service.secret.v3.SecretDiscoveryService', sotw: 'StreamSecrets', delta: 'DeltaSecrets', typeUrl: TypeUrl.Secret },
];

/** Responses are assembled from pre-encoded parts when grpc-js serializes them (see XdsResponse). */
const assemble = (response: XdsResponse) => response.encode();
const passThrough = (bytes: Buffer) => bytes;

/**
 * The grpc-js service definition for one xDS service. The server side assembles responses from
 * pre-encoded parts and reads requests within `limits` (requests.ts: a SotW request's resource names
 * are decoded only when they differ from the previous request's; a request beyond the limits arrives
 * as a refusal); clients (tests, benchmarks) decode responses into objects unless `rawResponses` is set.
 */
export function xdsServiceDefinition(spec: XdsServiceSpec, opts: { rawResponses?: boolean; limits?: XdsLimits } = {}): grpc.ServiceDefinition {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const dreqT = messageType(DREQ);
  const decodeDelta = (bytes: Buffer) => dreqT.toObject(dreqT.decode(bytes), TO_OBJECT_OPTIONS);
  const sotw = methodDefinition(spec.service, spec.sotw, REQ, RES, BIDI, {
    responseSerialize: assemble,
    requestDeserialize: (bytes: Buffer) => readSotwRequest(bytes, limits),
  });
  const delta = methodDefinition(spec.service, spec.delta, DREQ, DRES, BIDI, {
    responseSerialize: assemble,
    requestDeserialize: (bytes: Buffer) => readDeltaRequest(bytes, limits, decodeDelta),
  });
  if (!opts.rawResponses) return { [spec.sotw]: sotw, [spec.delta]: delta };
  return { [spec.sotw]: { ...sotw, responseDeserialize: passThrough }, [spec.delta]: { ...delta, responseDeserialize: passThrough } };
}
