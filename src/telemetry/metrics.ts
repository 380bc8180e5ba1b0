import client from 'prom-client';

/**
 * A registry per server instance (not the global default) so that several servers, or several
 * test instances, can live in one process without "metric already registered" clashes.
 */
export function createRegistry(): client.Registry {
  const registry = new client.Registry();
  return registry;
}

export function enableProcessMetrics(registry: client.Registry): void {
  client.collectDefaultMetrics({ register: registry });
}

export { client as prom };
