/**
 * What proxyless gRPC clients (`kind: api` listeners) can honour. gRPC implements a subset of xDS and
 * either NACKs what it doesn't know or — worse — ignores it; both are errors here, at the YAML that
 * asked for it, so "validated" never means "quietly not enforced". Sources are the gRFCs each rule
 * cites, and what grpc-js-xds, grpc-go, grpc-java and gRPC C-core were seen to do.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Cluster, Config, Listener, Route, SourcePos } from '../config/model.js';

/** gRFC A44: the retry_on tokens gRPC understands; HTTP tokens (5xx, reset, ...) are ignored by it. */
export const GRPC_RETRY_ON = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);
/** gRFC A44: gRPC caps attempts (first try included) at 5. */
const GRPC_MAX_ATTEMPTS = 5;
/** gRFC A27 round_robin, A42 ring_hash: the LB policies every gRPC client implements (C-core NACKs least_request). */
const GRPC_LB = new Set(['round_robin', 'ring_hash']);

export function grpcCapabilityDiagnostics(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (pos: SourcePos, listener: Listener, what: string, why: string) =>
    out.push({ severity: 'error', file: pos.file, line: pos.line, col: pos.col, message: `${what}, which proxyless gRPC clients (api listener "${listener.name}") cannot honour: ${why}` });
  const clusters = new Map(config.clusters.map((c) => [c.name, c]));
  const checkedClusters = new Set<string>();

  for (const listener of config.listeners) {
    if (listener.kind !== 'api') continue;
    const filterWhy = 'gRPC runs only the HTTP filters of gRFC A39 (router, fault, RBAC), so this would silently not apply';
    if (listener.authz) error(listener.pos, listener, '`authz:` (ext_authz)', filterWhy);
    if (listener.ratelimit) error(listener.pos, listener, '`ratelimit:` (global rate limit filter)', filterWhy);
    if (listener.accessLog) error(listener.pos, listener, '`accessLog:`', 'gRPC clients write no Envoy access logs');
    if (listener.tracing) error(listener.tracing.pos, listener, '`tracing:` (Envoy\'s OpenTelemetry tracer)', 'gRPC clients run no Envoy tracer; trace proxyless clients with gRPC\'s own OpenTelemetry plugin (gRFC A72)');
    if (listener.requestId) error(listener.requestId.pos, listener, '`requestId:` (x-request-id generation)', 'gRPC clients ignore the connection manager\'s request id settings');
    if (listener.tls) {
      error(
        listener.tls.pos,
        listener,
        '`tls:` (certificates over SDS)',
        'gRFC A29: gRPC takes certificates only from certificate_provider_instance plugins, never over SDS, and an api listener is client-side with no socket to terminate TLS on; Banyan does not compile A29 security yet, so this is refused rather than silently not applied',
      );
    }
    for (const host of listener.hosts) {
      if (host.cors) error(host.pos, listener, `CORS on virtual host "${host.name}"`, 'CORS is a browser filter gRPC does not run');
      for (const d of host.domains.filter((d) => !validGrpcDomain(d))) {
        error(host.pos, listener, `domain "${d}" of virtual host "${host.name}" has a "*" that is not at its start or end`, 'C-core NACKs the RouteConfiguration and grpc-go then fails every RPC (gRFC A28 allows one wildcard, at an end)');
      }
      for (const route of host.routes) {
        routeProblems(route, (what, why) => error(route.pos, listener, `route "${route.name}" ${what}`, why));
        if (route.action.kind !== 'forward') continue;
        for (const target of route.action.backends) {
          const cluster = clusters.get(target.cluster);
          const key = `${listener.name}\0${target.cluster}`;
          if (!cluster || checkedClusters.has(key)) continue;
          checkedClusters.add(key);
          clusterProblems(cluster, (what, why) => error(cluster.pos, listener, `cluster "${cluster.name}" ${what}`, why));
        }
      }
    }
  }
  return out;
}

type Report = (what: string, why: string) => void;

function routeProblems(route: Route, report: Report): void {
  if (route.action.kind === 'redirect') report('is a redirect', 'gRFC A28 routes only forward (grpc-java NACKs the whole RouteConfiguration)');
  if (route.action.kind === 'direct') report('is a direct response', 'gRFC A28 routes only forward (grpc-java NACKs the whole RouteConfiguration)');
  if (route.cors) report('has `cors:`', 'CORS is a browser filter gRPC does not run');
  if (route.ratelimit.length) report('has rate limit descriptors (`ratelimit:`)', 'gRPC runs no rate limit filter (gRFC A39), so they would never be enforced');
  if (route.localRateLimit) report('has `localRateLimit:`', 'gRPC runs no local rate limit filter (gRFC A39)');
  // gRFC A33 gives gRPC clients a fault filter, but Banyan does not yet emit HTTP filters on api listeners.
  if (route.fault) report('has `fault:`', 'Banyan does not yet send the fault filter to proxyless gRPC clients, so no fault would be injected');
  if (route.auth && route.auth.kind !== 'none') report('has `auth:`', 'gRPC runs no ext_authz filter (gRFC A39), so no token would be checked');
  if (route.requestHeaders.add.length || route.requestHeaders.remove.length || route.responseHeaders.add.length || route.responseHeaders.remove.length) {
    report('changes headers', 'gRPC clients ignore header mutations in routes');
  }
  if (route.match.query.length) report('matches on query parameters', 'gRFC A28: gRPC never matches a route with query_parameters (requests have no query)');
  for (const h of route.match.headers) {
    const name = h.name.toLowerCase();
    if (name.startsWith(':')) report(`matches on the pseudo-header ${h.name}`, 'gRFC A28: gRPC clients never match pseudo-headers (seen with grpc-go, grpc-java and C-core)');
    else if (name.endsWith('-bin')) report(`matches on the binary header ${h.name}`, 'gRFC A28: gRPC clients never match -bin headers');
    else if (name === 'content-type') report('matches on content-type', 'gRPC clients disagree on it (grpc-go never matches it, C-core and grpc-java do)');
  }
  if (route.action.kind !== 'forward') return;
  const a = route.action;
  if (a.mirrors.length) report('mirrors traffic', 'gRPC clients do not shadow requests');
  if (a.prefixRewrite !== undefined) report('has `prefixRewrite:`', 'gRPC clients do not rewrite paths');
  if (a.hostRewrite !== undefined) report('has `hostRewrite:`', 'gRPC clients do not rewrite the authority');
  if (a.idleTimeoutMs !== undefined) report('has `idleTimeout:`', 'gRPC clients ignore the route idle timeout');
  if (a.retry) {
    const unknown = a.retry.on.filter((t) => !GRPC_RETRY_ON.has(t));
    if (unknown.length) report(`retries on ${unknown.join(', ')}`, `gRFC A44: gRPC retries only on ${[...GRPC_RETRY_ON].join(', ')}`);
    if (a.retry.attempts < 1) report('retries 0 times', 'grpc-go, C-core and grpc-js NACK num_retries 0; grpc-java fails every RPC');
    if (a.retry.attempts + 1 > GRPC_MAX_ATTEMPTS) report(`retries ${a.retry.attempts} times`, `gRFC A44: gRPC caps attempts at ${GRPC_MAX_ATTEMPTS} (${GRPC_MAX_ATTEMPTS - 1} retries)`);
    if (a.retry.perTryTimeoutMs !== undefined) report('has `retry.perTryTimeout`', 'gRFC A44: gRPC does not support per-try timeouts');
    if (a.retry.retriableStatusCodes.length) report('has `retry.retriableStatusCodes`', 'gRPC retries on gRPC status codes, not HTTP ones');
  }
}

function clusterProblems(c: Cluster, report: Report): void {
  if (c.discovery === 'strict_dns') report('uses DNS endpoints', 'gRFC A27: gRPC takes endpoints from EDS only (give it IP endpoints)');
  if (!GRPC_LB.has(c.lbPolicy)) report(`uses lb ${c.lbPolicy}`, 'gRPC clients support round_robin and ring_hash (gRPC C-core NACKs the cluster)');
  if (c.tls?.clientCertificate || c.tls?.caSecret) report('uses upstream TLS with SDS secrets', 'gRFC A29: gRPC takes certificates only from certificate_provider_instance plugins, never over SDS (Banyan does not compile A29 security yet)');
  else if (c.tls) report('uses upstream TLS from files', 'gRPC needs certificate provider instances (gRFC A29), not file paths');
  const cb = c.circuitBreaker;
  if (cb && (cb.maxConnections !== undefined || cb.maxPendingRequests !== undefined || cb.maxRetries !== undefined)) {
    report('sets circuit breakers other than maxRequests', 'gRFC A32: gRPC enforces only max_requests');
  }
  if (c.outlierDetection?.consecutive5xx !== undefined) report('uses outlierDetection.consecutive5xx', 'gRFC A50: gRPC ejects by success rate and failure percentage only');
  if (c.healthCheck) report('has `healthCheck:`', 'gRPC clients run no active health checks from xDS');
  if (c.lbPolicy === 'round_robin' && c.endpoints.some((e) => e.weight !== undefined && e.weight !== 1)) {
    report('weights endpoints under round_robin', 'gRPC round_robin ignores endpoint weights (ring_hash honours them)');
  }
}

/** gRPC accepts `*`, `*.suffix`, `prefix.*` and exact names: one wildcard, only at an end. */
function validGrpcDomain(domain: string): boolean {
  const stars = domain.split('*').length - 1;
  return stars === 0 || (stars === 1 && (domain.startsWith('*') || domain.endsWith('*')));
}
