import type { Config, Listener, Route, WeightedBackend } from '../../src/config/model.js';

const pos = (line: number) => ({ file: 'banyan.yaml', line, col: 5 });

function route(name: string, line: number, backends: [string, number][]): Route {
  return {
    name,
    match: { prefix: '/', caseSensitive: true, headers: [], query: [], grpc: false },
    action: {
      kind: 'forward',
      backends: backends.map(([cluster, weight], i): WeightedBackend => ({ cluster, weight, pos: pos(line + 1 + i) })),
      mirrors: [],
    },
    requestHeaders: { add: [], remove: [] },
    responseHeaders: { add: [], remove: [] },
    ratelimit: [],
    pos: pos(line),
  };
}

function listener(name: string, routes: Route[]): Listener {
  return {
    name,
    kind: 'socket',
    address: '0.0.0.0',
    port: 10000,
    hosts: [{ name: 'api', domains: ['api.example.com'], routes, pos: pos(3) }],
    accessLog: false,
    pos: pos(1),
  };
}

/** A small config: routes `auth-login` (auth-v2 90 / monolith 10), `everything-else`, a redirect, and `health` in two listeners. */
export function sampleConfig(authBackends: [string, number][] = [['auth-v2', 90], ['monolith', 10]]): Config {
  const redirect: Route = { ...route('old-site', 40, []), action: { kind: 'redirect', status: 301, stripQuery: false, host: 'new.example.com' } };
  return {
    listeners: [
      listener('edge', [route('auth-login', 10, authBackends), route('everything-else', 20, [['monolith', 1]]), redirect, route('health', 50, [['monolith', 1]])]),
      listener('internal', [route('health', 60, [['auth-v2', 1]])]),
    ],
    clusters: ['auth-v2', 'auth-v3', 'monolith'].map((name, i) => ({
      name,
      endpoints: [{ host: `10.0.0.${i + 1}`, port: 8080 }],
      discovery: 'eds',
      protocol: 'http1',
      lbPolicy: 'round_robin',
      connectTimeoutMs: 5000,
      pos: pos(100 + i),
    })),
    groups: [],
    ratelimit: [],
    auth: { providers: [] },
    services: { ratelimit: { address: '127.0.0.1', port: 8081 }, authz: { address: '127.0.0.1', port: 9191 } },
    rollouts: [],
  };
}
