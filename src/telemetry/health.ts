import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);
// grpc-health-check is CommonJS; its HealthImplementation serves grpc.health.v1.Health (Check + Watch).
const { HealthImplementation } = require('grpc-health-check') as {
  HealthImplementation: new (statusMap?: Record<string, string>) => {
    addToServer(server: grpc.Server): void;
    setStatus(service: string, status: 'SERVING' | 'NOT_SERVING' | 'UNKNOWN'): void;
  };
};

export type GrpcHealth = InstanceType<typeof HealthImplementation>;

/** Adds grpc.health.v1.Health to `server`, with "" and each named service SERVING. */
export function addGrpcHealth(server: grpc.Server, services: string[]): GrpcHealth {
  const statusMap: Record<string, string> = { '': 'SERVING' };
  for (const s of services) statusMap[s] = 'SERVING';
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  return health;
}
