import type { Cluster, Config, Route } from '../../src/config/model.js';
import { cluster as baseCluster } from '../compile/fixtures.js';

const pos = { file: 'routes.yaml', line: 1, col: 1 };

/** Fully-defaulted model objects; each test states only what it is about. */
export function route(name: string, to: Record<string, number>, over: Partial<Route> = {}): Route {
  return {
    name,
    match: { prefix: `/${name}`, caseSensitive: true, headers: [], query: [], grpc: false },
    action: { kind: 'forward', backends: Object.entries(to).map(([cluster, weight]) => ({ cluster, weight, pos })), mirrors: [] },
    requestHeaders: { add: [], remove: [] },
    responseHeaders: { add: [], remove: [] },
    ratelimit: [],
    pos,
    ...over,
  };
}

export function cluster(name: string, over: Partial<Cluster> = {}): Cluster {
  return baseCluster({ name, pos, ...over });
}

export function config(routes: Route[], clusters: Cluster[]): Config {
  return {
    listeners: [
      { name: 'edge', kind: 'socket', address: '0.0.0.0', port: 10000, accessLog: false, pos, hosts: [{ name: 'h', domains: ['*'], routes, pos }] },
    ],
    clusters,
    groups: [],
    ratelimit: [],
    auth: { providers: [] },
    services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } },
    rollouts: [],
  };
}
