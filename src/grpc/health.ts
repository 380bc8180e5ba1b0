import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/** grpc.health.v1's statuses (SERVICE_UNKNOWN is only sent by Watch). */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const require = createRequire(import.meta.url);

let codecs: { request: protobuf.Type; response: protobuf.Type; listResponse: protobuf.Type } | undefined;

/** grpc.health.v1's messages, from the health.proto grpc-health-check ships (read once). */
function healthCodecs(): NonNullable<typeof codecs> {
  if (codecs) return codecs;
  const file = path.join(path.dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
  const root = protobuf.loadSync(file);
  codecs = {
    request: root.lookupType('grpc.health.v1.HealthCheckRequest'),
    response: root.lookupType('grpc.health.v1.HealthCheckResponse'),
    listResponse: root.lookupType('grpc.health.v1.HealthListResponse'),
  };
  return codecs;
}

/**
 * The serving status of a server and its services, as grpc.health.v1 reports it: "" is the server
 * as a whole. Watchers hear each change of the service they watch.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();

  constructor(services: readonly string[]) {
    healthCodecs();
    this.statuses.set('', 'SERVING');
    for (const s of services) this.statuses.set(s, 'SERVING');
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Sets one service's status; '' with `all` sets every service (a server going down). */
  set(service: string, status: ServingStatus, all = false): void {
    const names = all ? [...this.statuses.keys()] : [service];
    for (const name of names) {
      if (this.statuses.get(name) === status) continue;
      this.statuses.set(name, status);
      for (const w of this.watchers.get(name) ?? []) w(status);
    }
  }

  watch(service: string, listener: (s: ServingStatus) => void): () => void {
    let set = this.watchers.get(service);
    if (!set) this.watchers.set(service, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.watchers.delete(service);
    };
  }

  list(): Array<[string, ServingStatus]> {
    return [...this.statuses];
  }
}

export const HEALTH_PATHS = {
  check: '/grpc.health.v1.Health/Check',
  watch: '/grpc.health.v1.Health/Watch',
  list: '/grpc.health.v1.Health/List',
} as const;

export function decodeHealthRequest(bytes: Uint8Array): string {
  const { request } = healthCodecs();
  return (request.toObject(request.decode(bytes)) as { service?: string }).service ?? '';
}

export function encodeHealthResponse(status: ServingStatus): Uint8Array {
  const { response } = healthCodecs();
  return response.encode(response.fromObject({ status })).finish();
}

export function encodeHealthList(statuses: Array<[string, ServingStatus]>): Uint8Array {
  const { listResponse } = healthCodecs();
  return listResponse.encode(listResponse.fromObject({ statuses: Object.fromEntries(statuses.map(([k, status]) => [k, { status }])) })).finish();
}
