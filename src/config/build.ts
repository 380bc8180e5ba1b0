import nodePath from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { isIpLiteral, parseHostPort } from './address.js';
import { defined, RouteBuilder } from './build-route.js';
import { buildRollout } from './build-rollout.js';
import type { Fragment, Reference, ServiceSetting } from './fragment.js';
import type { AuthProvider, Cluster, ClusterTls, Endpoint, Listener, ListenerTracing, ProxyGroup, TokenSource, TracingCustomTag } from './model.js';
import type { ClusterInput, ConfigInput, GroupInput, ListenerInput, ProviderInput } from './schema.js';
import type { ClusterTlsInput } from './schema-tls.js';
import { buildCa, buildClusterTlsSecrets, buildListenerTls, buildSecret } from './tls.js';
import { formatPath, type Locator, type PathSegment } from './yaml.js';

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'PS256'];
const JWKS_CACHE_MS = 600_000;
const JWKS_COOLDOWN_MS = 30_000;

/** Turns one validated document into model elements with positions, plus the names it refers to. */
export function buildFragment(input: ConfigInput, locator: Locator): Fragment {
  const references: Reference[] = [];
  const fragment: Fragment = {
    listeners: [],
    clusters: [],
    groups: [],
    providers: [],
    rollouts: [],
    rolloutSites: [],
    services: {},
    rateLimitNodes: rateLimitItems(locator),
    references,
    diagnostics: [],
    secrets: [],
    secretRefs: [],
  };
  const routes = new RouteBuilder(locator, references);
  input.listeners?.forEach((l, i) => fragment.listeners.push(listener(l, ['listeners', i], locator, routes, references, fragment)));
  input.secrets?.forEach((s, i) => fragment.secrets.push(buildSecret(s, ['secrets', i], locator)));
  if (input.ca) fragment.ca = buildCa(input.ca, locator);
  input.clusters?.forEach((c, i) => fragment.clusters.push(cluster(c, ['clusters', i], locator, fragment)));
  input.groups?.forEach((g, i) => fragment.groups.push(group(g, ['groups', i], locator, references)));
  input.auth?.providers?.forEach((p, i) => fragment.providers.push(provider(p, ['auth', 'providers', i], locator)));
  input.rollouts?.forEach((r, i) => {
    const site = buildRollout(r, ['rollouts', i], locator, references);
    fragment.rollouts.push(site.spec);
    fragment.rolloutSites.push(site);
  });
  for (const key of ['ratelimit', 'authz'] as const) {
    const setting = input.services?.[key];
    if (setting === undefined) continue;
    const text = typeof setting === 'string' ? setting : setting.address;
    const hp = parseHostPort(text);
    const path: PathSegment[] = ['services', key];
    const tls = typeof setting === 'string' || !setting.tls ? undefined : clusterTls(setting.tls, `service "${key}"`, [...path, 'tls'], locator, fragment);
    // The schema already rejected malformed addresses, so this parse succeeds.
    if (!('error' in hp)) fragment.services[key] = { address: hp.host, port: hp.port, ...(tls ? { tls } : {}), pos: locator.pos(path) } satisfies ServiceSetting;
  }
  return fragment;
}

function listener(input: ListenerInput, path: PathSegment[], locator: Locator, routes: RouteBuilder, references: Reference[], fragment: Fragment): Listener {
  const kind = input.kind ?? 'socket';
  const hosts = input.routes
    ? [{ name: '*', domains: ['*'], routes: input.routes.map((r, i) => routes.route(r, [...path, 'routes', i], `*/${i}`)), pos: locator.pos([...path, 'routes']) }]
    : (input.hosts ?? []).map((h, i) => routes.virtualHost(h, [...path, 'hosts', i]));
  if (input.ratelimit) {
    const where = [...path, 'ratelimit', 'domain'];
    references.push({ kind: 'domain', name: input.ratelimit.domain, from: `listener "${input.name}"`, pos: locator.pos(where), path: formatPath(where) });
  }
  return {
    name: input.name,
    kind,
    address: input.address ?? '0.0.0.0',
    port: kind === 'api' ? 0 : input.port!,
    hosts,
    ...(input.authz ? { authz: { failureMode: input.authz.failureMode ?? 'deny', timeoutMs: input.authz.timeout ?? 250 } } : {}),
    ...(input.ratelimit
      ? {
          ratelimit: {
            domain: input.ratelimit.domain,
            failureMode: input.ratelimit.failureMode ?? 'allow',
            timeoutMs: input.ratelimit.timeout ?? 50,
            headers: input.ratelimit.headers ?? false,
          },
        }
      : {}),
    ...observability(input, path, locator),
    ...(input.tls ? { tls: buildListenerTls(input.tls, input.name, [...path, 'tls'], locator, fragment) } : {}),
    pos: locator.pos(path),
  };
}

function cluster(input: ClusterInput, path: PathSegment[], locator: Locator, fragment: Fragment): Cluster {
  const endpoints = input.endpoints.map((e): Endpoint => {
    if (typeof e !== 'string') return { host: e.address, port: e.port, ...defined({ weight: e.weight, zone: e.zone }) };
    const hp = parseHostPort(e) as { host: string; port: number };
    return { host: hp.host, port: hp.port };
  });
  const dnsIndex = endpoints.findIndex((e) => !isIpLiteral(e.host));
  if (input.discovery === 'eds' && dnsIndex >= 0) {
    const pos = locator.pos([...path, 'endpoints', dnsIndex]);
    fragment.diagnostics.push({
      severity: 'error',
      ...pos,
      message: `cluster "${input.name}" uses discovery eds but endpoint "${endpoints[dnsIndex].host}" is a DNS name; use IP addresses or discovery strict_dns`,
      path: formatPath([...path, 'endpoints', dnsIndex]),
    });
  }
  const hc = input.healthCheck;
  const od = input.outlierDetection;
  return {
    name: input.name,
    endpoints,
    discovery: input.discovery ?? (dnsIndex >= 0 ? 'strict_dns' : 'eds'),
    protocol: input.protocol ?? 'http1',
    lbPolicy: input.lb ?? 'round_robin',
    connectTimeoutMs: input.connectTimeout ?? 5000,
    ...(input.circuitBreaker ? { circuitBreaker: { ...input.circuitBreaker } } : {}),
    ...(od ? { outlierDetection: defined({ consecutive5xx: od.consecutive5xx, intervalMs: od.interval, baseEjectionTimeMs: od.baseEjectionTime, maxEjectionPercent: od.maxEjectionPercent }) } : {}),
    ...(hc
      ? {
          healthCheck: {
            httpPath: hc.http,
            intervalMs: hc.interval ?? 10_000,
            timeoutMs: hc.timeout ?? 1000,
            healthyThreshold: hc.healthyThreshold ?? 2,
            unhealthyThreshold: hc.unhealthyThreshold ?? 3,
            expectedStatuses: hc.expectedStatuses ?? [200],
          },
        }
      : {}),
    ...(input.tls ? { tls: clusterTls(input.tls, `cluster "${input.name}"`, [...path, 'tls'], locator, fragment) } : {}),
    pos: locator.pos(path),
  };
}

/** A cluster's (or a service's) `tls:` in the model; `from` names the owner in messages. */
function clusterTls(input: ClusterTlsInput, from: string, path: PathSegment[], locator: Locator, fragment: Fragment): ClusterTls {
  return {
    ...defined({ sni: input.sni, peerIdentities: input.peerIdentities, ...buildClusterTlsSecrets(input, from, path, locator, fragment) }),
    insecureSkipVerify: input.insecureSkipVerify ?? false,
    alpn: input.alpn ?? [],
  };
}

function group(input: GroupInput, path: PathSegment[], locator: Locator, references: Reference[]): ProxyGroup {
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  (input.listeners ?? []).forEach((name, i) => {
    const where = [...path, 'listeners', i];
    references.push({ kind: 'listener', name, from: `group "${input.name}"`, pos: locator.pos(where), path: formatPath(where) });
  });
  return {
    name: input.name,
    match: { cluster: list(input.match?.cluster), id: list(input.match?.id), metadata: input.match?.metadata ?? {} },
    listeners: input.listeners ?? [],
    ...(input.identities && { identities: input.identities.map((e) => (typeof e === 'string' ? { identity: e } : { identity: e.identity, nodes: e.nodes })) }),
    pos: locator.pos(path),
  };
}

function provider(input: ProviderInput, path: PathSegment[], locator: Locator): AuthProvider {
  const j = input.jwks;
  const jwks: AuthProvider['jwks'] =
    j.uri !== undefined
      ? { kind: 'uri', uri: j.uri, cacheMs: j.cache ?? JWKS_CACHE_MS, cooldownMs: j.cooldown ?? JWKS_COOLDOWN_MS }
      : j.oidc
        ? { kind: 'oidc', cacheMs: j.cache ?? JWKS_CACHE_MS, cooldownMs: j.cooldown ?? JWKS_COOLDOWN_MS }
        : // Relative to the YAML file that names it, as an operator reads it — not to wherever serve was started.
          { kind: 'file', path: nodePath.resolve(nodePath.dirname(locator.pos(path).file), j.file!) };
  return {
    name: input.name,
    issuer: input.issuer,
    audiences: input.audiences ?? [],
    jwks,
    algorithms: input.algorithms ?? DEFAULT_ALGORITHMS,
    clockSkewMs: input.clockSkew ?? 60_000,
    requireExp: input.requireExp ?? true,
    ...defined({ maxLifetimeMs: input.maxLifetime, payloadHeader: input.payloadHeader }),
    from: (input.from ?? [{ header: 'authorization' }]).map(tokenSource),
    claimsToHeaders: Object.entries(input.claimsToHeaders ?? {}).map(([claim, header]) => ({ claim, header })),
    removeAuthorization: input.removeAuthorization ?? false,
    pos: locator.pos(path),
  };
}

function tokenSource(s: { header?: string; prefix?: string; cookie?: string; query?: string }): TokenSource {
  if (s.cookie !== undefined) return { kind: 'cookie', name: s.cookie };
  if (s.query !== undefined) return { kind: 'query', name: s.query };
  // The Authorization header carries a scheme; any other header carries the bare token unless told.
  const bearer = s.header!.toLowerCase() === 'authorization' ? 'Bearer ' : '';
  return { kind: 'header', name: s.header!, prefix: s.prefix ?? bearer };
}

/** The `ratelimit:` list items as YAML nodes, with their `domain` when it is a plain string. */
export function rateLimitItems(locator: Locator): Fragment['rateLimitNodes'] {
  const { node, found } = locator.nodeAt(['ratelimit']);
  if (!found || !isSeq(node)) return [];
  return (node.items as Node[]).map((item) => {
    const d = isMap(item) ? item.get('domain', true) : undefined;
    return { source: locator.source, node: item, ...(isScalar(d) && typeof d.value === 'string' ? { domain: d.value } : {}) };
  });
}

/** `accessLog:`, `tracing:`, `requestId:` → the listener's observability fields, defaults applied. */
function observability(input: ListenerInput, path: PathSegment[], locator: Locator): Pick<Listener, 'accessLog' | 'accessLogOptions' | 'tracing' | 'requestId'> {
  const out: Pick<Listener, 'accessLog' | 'accessLogOptions' | 'tracing' | 'requestId'> = { accessLog: Boolean(input.accessLog) };
  const al = input.accessLog;
  if (al && typeof al === 'object') {
    out.accessLogOptions = { format: al.format ?? 'json', path: al.path ?? '/dev/stdout', ...defined({ fields: al.fields, text: al.text }) };
  }
  const t = input.tracing;
  if (t) {
    // The schema already rejected a malformed collector, so this parse succeeds.
    const hp = parseHostPort(t.collector) as { host: string; port: number };
    const customTags = Object.entries(t.customTags ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([tag, v]): TracingCustomTag => {
        if ('literal' in v) return { kind: 'literal', tag, value: v.literal };
        if ('header' in v) return { kind: 'header', tag, name: v.header, ...defined({ default: v.default }) };
        return { kind: 'environment', tag, name: v.environment, ...defined({ default: v.default }) };
      });
    const tracing: ListenerTracing = {
      collectorHost: hp.host,
      collectorPort: hp.port,
      serviceName: t.serviceName ?? input.name,
      sampling: { random: t.sampling?.random ?? 100, client: t.sampling?.client ?? 100, overall: t.sampling?.overall ?? 100 },
      customTags,
      pos: locator.pos([...path, 'tracing']),
    };
    out.tracing = tracing;
  }
  const r = input.requestId;
  if (r) {
    out.requestId = {
      generate: r.generate ?? true,
      preserveExternal: r.preserveExternal ?? false,
      inResponse: r.inResponse ?? false,
      forTraceSampling: r.forTraceSampling ?? true,
      pos: locator.pos([...path, 'requestId']),
    };
  }
  return out;
}
