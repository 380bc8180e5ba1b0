import client from 'prom-client';
import { banyanVersion } from '../version.js';

/**
 * A registry per server instance (not the global default) so that several servers, or several
 * test instances, can live in one process without "metric already registered" clashes.
 */
export function createRegistry(): client.Registry {
  const registry = new client.Registry();
  return registry;
}

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function enableProcessMetrics(registry: client.Registry): void {
  client.collectDefaultMetrics({ register: registry });
  // prom-client names these three gauges `_total`, which Prometheus reserves for counters (promtool
  // rejects them); their labelled twins (`nodejs_active_handles{type}`, ...) carry the same numbers.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  // The Prometheus convention for what is running: a constant 1 whose labels say which build.
  const info = new client.Gauge({ name: 'banyan_build_info', help: 'Banyan build: version and Node.js version (always 1)', labelNames: ['version', 'nodejs_version'] as const, registers: [registry], aggregator: 'first' });
  info.set({ version: banyanVersion(), nodejs_version: process.versions.node }, 1);
}

export { client as prom };
