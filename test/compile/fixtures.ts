import type { Cluster, Config, Listener, Route, VirtualHost } from '../../src/config/model.js';
import { encodeMessage } from '../../src/proto/envoy.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';

export const pos = { file: 'test.yaml', line: 1, col: 1 };

/** Small builders for fully-defaulted model objects, so each test states only what it is about. */
export function route(over: Partial<Route> & { to?: string | { cluster: string; weight: number }[] } = {}): Route {
  const { to = 'app', ...rest } = over;
  const backends = typeof to === 'string' ? [{ cluster: to, weight: 1, pos }] : to.map((b) => ({ ...b, pos }));
  return {
    name: 'r',
    match: { prefix: '/', caseSensitive: true, headers: [], query: [], grpc: false },
    action: { kind: 'forward', backends, mirrors: [] },
    requestHeaders: { add: [], remove: [] },
    responseHeaders: { add: [], remove: [] },
    ratelimit: [],
    pos,
    ...rest,
  };
}

export function host(routes: Route[], over: Partial<VirtualHost> = {}): VirtualHost {
  return { name: 'h', domains: ['*'], routes, pos, ...over };
}

export function listener(over: Partial<Listener> = {}): Listener {
  return { name: 'edge', kind: 'socket', address: '0.0.0.0', port: 10000, hosts: [host([route()])], accessLog: false, pos, ...over };
}

export function cluster(over: Partial<Cluster> = {}): Cluster {
  return {
    name: 'app',
    endpoints: [{ host: '10.0.0.1', port: 8080 }],
    discovery: 'eds',
    protocol: 'http1',
    lbPolicy: 'round_robin',
    connectTimeoutMs: 5000,
    pos,
    ...over,
  };
}

export function config(over: Partial<Config> = {}): Config {
  return {
    listeners: [listener()],
    clusters: [cluster()],
    groups: [],
    ratelimit: [],
    auth: { providers: [] },
    services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } },
    rollouts: [],
    ...over,
  };
}

/** Encodes every resource of every group: proves each is a valid proto with no unknown fields. */
export function encodeAll(snapshot: CompiledSnapshot): number {
  let n = 0;
  for (const set of snapshot.groups.values()) {
    for (const [typeUrl, resources] of set) {
      for (const r of resources.values()) {
        encodeMessage(typeUrl, r);
        n++;
      }
    }
  }
  return n;
}
