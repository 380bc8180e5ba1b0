/**
 * The typed, fully-defaulted configuration model. The loader (src/config/load.ts) turns YAML into
 * this; the compiler (src/compile/) turns this into Envoy resources. Durations are milliseconds.
 * Every named element keeps its source position so later stages (compile warnings, status, diff)
 * can still point at the operator's file.
 */

export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface Config {
  listeners: Listener[];
  clusters: Cluster[];
  /** Proxy groups; when empty the implicit default applies (see README "Proxy groups"). */
  groups: ProxyGroup[];
  /** envoyproxy/ratelimit domains from the `ratelimit:` section (format unchanged). */
  ratelimit: RateLimitDomain[];
  auth: { providers: AuthProvider[] };
  /** Where the proxies reach Banyan's own services (become clusters when a listener uses them). */
  services: {
    ratelimit: ServiceAddress;
    authz: ServiceAddress;
  };
  /** Declarative rollouts (`rollouts:`): the desired rollout lives in git, its progress in the store. */
  rollouts: RolloutSpec[];
  /**
   * Certificates and CA bundles served to Envoy over SDS: the `secrets:` section, and one implicit
   * secret per file path written in a `tls:` block (named `file:<path as written>`). Sorted by name.
   * Absent = none (configs built by hand).
   */
  secrets?: Secret[];
  /** Banyan's CA (`ca:`): when set, the secrets `banyan:workload` and `banyan:ca` exist. */
  ca?: MeshCa;
}

/** Banyan's CA as the config asks for it; where the CA itself lives is serve's business (flags, store). */
export interface MeshCa {
  trustDomain: string;
  workloadTtlMs: number;
  pos: SourcePos;
}

/** Where the proxies reach one of Banyan's services; `tls` = over TLS, as a cluster's `tls:` says. */
export interface ServiceAddress {
  address: string;
  port: number;
  tls?: ClusterTls;
}

// ---------------------------------------------------------------- secrets (SDS)

export type SecretSource =
  | { kind: 'certificate'; certFile: string; keyFile: string }
  | { kind: 'ca'; caFile: string }
  /** Each proxy's own certificate from Banyan's CA (`banyan:workload`): issued per proxy by serve, not read from files. */
  | { kind: 'workload' }
  /** Banyan's CA certificate as a trust bundle (`banyan:ca`). */
  | { kind: 'trust-bundle' };

/** What a secret's files hold, read when the config is loaded (never stored: the store keeps YAML only). */
export type SecretMaterial = { kind: 'certificate'; certificateChain: string; privateKey: string } | { kind: 'ca'; trustedCa: string };

export interface Secret {
  name: string;
  /** File paths are absolute: a relative path in YAML is resolved beside its file. */
  source: SecretSource;
  /** Made from a file path in a `tls:` block rather than declared under `secrets:`. */
  implicit: boolean;
  /** The files' contents; absent when the loader was given no way to read files. */
  material?: SecretMaterial;
  pos: SourcePos;
}

/** Listener `tls:`: Envoy terminates TLS, one filter chain per certificate, chosen by SNI. */
export interface ListenerTls {
  certificates: { secret: string; serverNames: string[]; pos: SourcePos }[];
  minVersion: 'TLSv1_2' | 'TLSv1_3';
  alpn: string[];
  clientCertificate: 'required' | 'optional' | 'none';
  /** Secret (kind ca) client certificates must chain to; set when clientCertificate is not none. */
  clientCa?: string;
  pos: SourcePos;
}

// ---------------------------------------------------------------- rollouts

/** A `rollouts:` entry: the same rollout `banyan rollout start` makes, owned by the file. */
export interface RolloutSpec {
  /** Unique among rollouts; how CLI verbs and the audit name it. */
  name: string;
  /** Route reference as resolveRoute() accepts it. */
  route: string;
  /** The backend that receives more and more of the route's traffic. */
  to: string;
  /** Increasing whole percentages in 1..100. */
  steps: number[];
  intervalMs: number;
  /** The first step may lower the target's current share only when this is set. */
  allowDecrease: boolean;
  ackTimeoutMs: number;
  analysis?: RolloutAnalysis;
  webhooks: WebhookSpec[];
  pos: SourcePos;
}

export interface RolloutAnalysis {
  checks: AnalysisCheck[];
  /** How often checks run while a step bakes; each run looks back this far. Default: the step interval. */
  intervalMs: number;
  /** Failed runs in one step before `onFailure`. */
  failureLimit: number;
  /** `rollback`: back to the starting weights; `pause`: freeze the weights where they are. */
  onFailure: 'rollback' | 'pause';
}

export type AnalysisMetric = 'success-rate' | 'latency' | 'requests' | 'promql';

export interface AnalysisCheck {
  /** Shown in status and audit; default derived from the metric. */
  name: string;
  metric: AnalysisMetric;
  /** success-rate: percent; latency: milliseconds; requests: count; promql: the query's value. */
  min?: number;
  max?: number;
  /** latency: which percentile (default 99). */
  percentile?: number;
  /** Compare with the other backends of the route over the same window: the threshold applies to the difference. */
  vsBaseline?: boolean;
  /** promql: the query, with {{cluster}}, {{baseline}}, {{route}} and {{window}} filled in. */
  query?: string;
  /** Where the numbers come from: Banyan's own (LRS, metrics service) or Prometheus. */
  source: 'banyan' | 'prometheus';
}

export type WebhookEvent = 'pre-step' | 'post-step' | 'promotion' | 'rollback';

export interface WebhookSpec {
  name: string;
  url: string;
  events: WebhookEvent[];
  /** A gate holds the step (pre-step) until it answers 2xx; a notification is only told. */
  gate: boolean;
  /** Environment variable holding the HMAC secret: secrets never go into the store. */
  secretEnv?: string;
  timeoutMs: number;
  retries: number;
}

// ---------------------------------------------------------------- proxy groups

export interface ProxyGroup {
  name: string;
  /** A proxy joins the first group whose matcher accepts its node (exact strings or `*` globs). */
  match: { cluster: string[]; id: string[]; metadata: Record<string, string> };
  /** Listener names this group serves. Empty = all listeners. */
  listeners: string[];
  /**
   * Client-certificate identities allowed to join (URI SANs as given, DNS SANs as `dns:<name>`; `*`
   * globs), each with the node ids it may claim. Absent = any proxy may join (mTLS then only authenticates).
   */
  identities?: GroupIdentity[];
  pos: SourcePos;
}

/** One `identities:` entry of a group (README "Proxy identity"). */
export interface GroupIdentity {
  /** A URI SAN glob, or `dns:<glob>` for a DNS SAN. */
  identity: string;
  /** `node.id` globs this identity may claim; absent = any node id that lands in the group. */
  nodes?: string[];
}

// ---------------------------------------------------------------- listeners

export interface Listener {
  name: string;
  /**
   * `socket`: an Envoy listener bound to address:port (sidecars, edge proxies).
   * `api`: a proxyless gRPC listener (api_listener) named after the client's target authority.
   */
  kind: 'socket' | 'api';
  address: string; // default 0.0.0.0
  port: number; // 0 for api listeners
  hosts: VirtualHost[];
  authz?: ListenerAuthz;
  ratelimit?: ListenerRateLimit;
  /** Per-request access log (to stdout in Envoy's default format unless accessLogOptions says otherwise). */
  accessLog: boolean;
  /** `accessLog: {format, path, fields, text}`: where and how; absent = Envoy's default text line on stdout. */
  accessLogOptions?: AccessLogOptions;
  /** OpenTelemetry tracing of this listener's requests (`tracing:`). */
  tracing?: ListenerTracing;
  /** Request id generation (`requestId:`), with the UUID request id extension. */
  requestId?: ListenerRequestId;
  tls?: ListenerTls;
  pos: SourcePos;
}

export interface AccessLogOptions {
  /** text: Envoy's format string (`text`, or its default line); json: one JSON object per request. */
  format: 'text' | 'json';
  /** /dev/stdout and /dev/stderr are Envoy's stream loggers; any other path is a file. */
  path: string;
  /** json: fields added to (or replacing) the default ones; null drops a default field. */
  fields?: Record<string, string | null>;
  /** text: the format string (a newline is added when it has none). */
  text?: string;
}

export interface ListenerTracing {
  /** The OpenTelemetry collector (OTLP/gRPC), host:port. */
  collectorHost: string;
  collectorPort: number;
  /** OpenTelemetry resource service.name (default: the listener's name). */
  serviceName: string;
  /** Percentages 0-100: random (default 100), client (x-client-trace-id forced, default 100), overall (default 100). */
  sampling: { random: number; client: number; overall: number };
  customTags: TracingCustomTag[];
  pos: SourcePos;
}

export type TracingCustomTag =
  | { kind: 'literal'; tag: string; value: string }
  | { kind: 'header'; tag: string; name: string; default?: string }
  | { kind: 'environment'; tag: string; name: string; default?: string };

export interface ListenerRequestId {
  /** generate_request_id: set x-request-id when the request has none (default true). */
  generate: boolean;
  /** preserve_external_request_id: keep a client's x-request-id on an edge (use_remote_address) listener. */
  preserveExternal: boolean;
  /** always_set_request_id_in_response. */
  inResponse: boolean;
  /** UuidRequestIdConfig.use_request_id_for_trace_sampling (default true). */
  forTraceSampling: boolean;
  pos: SourcePos;
}

export interface ListenerAuthz {
  failureMode: 'allow' | 'deny';
  timeoutMs: number; // default 250
}

export interface ListenerRateLimit {
  domain: string;
  failureMode: 'allow' | 'deny';
  timeoutMs: number; // default 50
  /** Emit X-RateLimit-* draft headers (enable_x_ratelimit_headers: DRAFT_VERSION_03). */
  headers: boolean;
}

export interface VirtualHost {
  /** Unique within its listener; derived from the first domain when not given. */
  name: string;
  domains: string[];
  routes: Route[];
  cors?: Cors;
  pos: SourcePos;
}

// ---------------------------------------------------------------- routes

export interface Route {
  name: string;
  match: RouteMatch;
  action: ForwardAction | RedirectAction | DirectResponseAction;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  cors?: Cors;
  /** Fault injection (envoy.filters.http.fault), for testing a backend's callers before traffic moves. */
  fault?: Fault;
  /** Descriptor action lists for the global rate limit filter; each list makes one descriptor. */
  ratelimit: RouteRateLimit[];
  /** Per-proxy token bucket (local_ratelimit filter). */
  localRateLimit?: LocalRateLimit;
  /** Undefined = inherit listener default (authz on when the listener has authz). */
  auth?: AuthRequirement;
  pos: SourcePos;
}

/** Percents are 0-100 and exact in millionths (config validation refuses others). */
export interface Fault {
  abort?: { httpStatus?: number; grpcStatus?: number; fromHeaders: boolean; percent: number };
  delay?: { fixedMs?: number; fromHeaders: boolean; percent: number };
  /** Only requests matching all of these get the fault. */
  headers: HeaderMatch[];
  maxActive?: number;
}

export interface RouteMatch {
  /** Exactly one of prefix / path / regex is set. */
  prefix?: string;
  path?: string;
  regex?: string;
  caseSensitive: boolean; // default true
  headers: HeaderMatch[];
  query: QueryMatch[];
  /** gRPC-only routes (content-type application/grpc). */
  grpc: boolean;
}

export interface HeaderMatch {
  name: string;
  /** Exactly one matcher; `present` alone means "header exists". */
  exact?: string;
  prefix?: string;
  suffix?: string;
  regex?: string;
  present?: boolean;
  invert: boolean;
}

export interface QueryMatch {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
  present?: boolean;
}

export interface WeightedBackend {
  cluster: string;
  weight: number;
  pos: SourcePos;
}

export interface ForwardAction {
  kind: 'forward';
  /** One entry = plain `cluster`; several = weighted_clusters. Weights are as written (relative). */
  backends: WeightedBackend[];
  timeoutMs?: number; // undefined = Envoy default (15s); 0 = disabled
  idleTimeoutMs?: number;
  retry?: RetryPolicy;
  mirrors: Mirror[];
  prefixRewrite?: string;
  hostRewrite?: string;
}

export interface RetryPolicy {
  attempts: number;
  /** Envoy retry_on tokens: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, ... */
  on: string[];
  perTryTimeoutMs?: number;
  retriableStatusCodes: number[];
  backoff?: { baseMs: number; maxMs: number };
}

export interface Mirror {
  cluster: string;
  /** 0–100, may be fractional. */
  percent: number;
  pos: SourcePos;
}

export interface RedirectAction {
  kind: 'redirect';
  scheme?: 'http' | 'https';
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  /** 301, 302, 303, 307, 308 */
  status: number;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body?: string;
}

export interface HeaderMutation {
  add: { name: string; value: string; append: boolean }[];
  remove: string[];
}

export interface Cors {
  allowOrigins: string[]; // exact origins, or "*"; `~regex` for regex matches
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials: boolean;
}

// ---------------------------------------------------------------- rate limit (Envoy side)

export type RateLimitAction =
  | { type: 'remote_address' }
  | { type: 'masked_remote_address'; v4PrefixLen: number; v6PrefixLen: number }
  | { type: 'request_headers'; header: string; key: string; skipIfAbsent: boolean }
  | { type: 'generic_key'; value: string; key?: string }
  | { type: 'header_value_match'; value: string; key?: string; expectMatch: boolean; headers: HeaderMatch[] }
  | { type: 'destination_cluster' }
  | { type: 'query_parameters'; param: string; key: string; skipIfAbsent: boolean };

export interface RouteRateLimit {
  actions: RateLimitAction[];
  stage: number; // default 0
  pos: SourcePos;
}

export interface LocalRateLimit {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
  statusCode: number; // default 429
}

// ---------------------------------------------------------------- rate limit (service side: envoyproxy/ratelimit format)

export type RateLimitUnit = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

export interface RateLimitPolicy {
  unit: RateLimitUnit;
  requestsPerUnit: number;
  unlimited: boolean;
  name?: string;
  replaces: string[];
  /** Banyan extensions (opt-in): algorithm and custom window length. */
  algorithm: 'fixed' | 'sliding' | 'gcra';
  windowSeconds?: number;
}

export interface RateLimitDescriptor {
  key: string;
  value?: string;
  rateLimit?: RateLimitPolicy;
  /** Banyan extension: several limits on one descriptor. */
  extraLimits: RateLimitPolicy[];
  descriptors: RateLimitDescriptor[];
  shadowMode: boolean;
  detailedMetric: boolean;
  quotaMode: boolean;
  /** Banyan extension: answer OK when the backend is unavailable. */
  failOpen?: boolean;
  pos: SourcePos;
}

export interface RateLimitDomain {
  domain: string;
  descriptors: RateLimitDescriptor[];
  pos: SourcePos;
}

// ---------------------------------------------------------------- authz

export interface AuthProvider {
  name: string;
  issuer: string;
  audiences: string[];
  jwks:
    | { kind: 'uri'; uri: string; cacheMs: number; cooldownMs: number }
    | { kind: 'oidc'; cacheMs: number; cooldownMs: number } // issuer + /.well-known/openid-configuration
    | { kind: 'file'; path: string }; // absolute: a relative path in YAML is resolved beside its file
  algorithms: string[]; // default RS256, ES256, EdDSA, PS256
  clockSkewMs: number; // default 60000
  requireExp: boolean; // default true
  maxLifetimeMs?: number;
  from: TokenSource[]; // default [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }]
  claimsToHeaders: { claim: string; header: string }[];
  /** Header that receives the verified payload as base64url JSON. */
  payloadHeader?: string;
  /** Strip the Authorization header before forwarding upstream. */
  removeAuthorization: boolean;
  pos: SourcePos;
}

export type TokenSource =
  | { kind: 'header'; name: string; prefix: string }
  | { kind: 'cookie'; name: string }
  | { kind: 'query'; name: string };

export type ClaimRule =
  | { claim: string; op: 'eq'; value: string }
  | { claim: string; op: 'in'; values: string[] }
  | { claim: string; op: 'eqHeader'; header: string };

export type AuthRequirement =
  | { kind: 'none' }
  | {
      kind: 'jwt';
      providers: string[];
      /** any: one provider's token suffices; all: every provider must validate. */
      mode: 'any' | 'all';
      scopes: string[];
      claims: ClaimRule[];
      /** Let requests without a token through (a present but invalid token is still denied). */
      allowMissing: boolean;
    };

// ---------------------------------------------------------------- clusters

export interface Endpoint {
  host: string;
  port: number;
  weight?: number;
  /** Optional locality zone for load_balancing_weight grouping. */
  zone?: string;
}

export interface Cluster {
  name: string;
  endpoints: Endpoint[];
  /**
   * `eds`: all endpoints are IP literals, served over EDS.
   * `strict_dns`: at least one endpoint is a DNS name.
   * Derived by the loader unless given.
   */
  discovery: 'eds' | 'strict_dns';
  protocol: 'http1' | 'http2';
  lbPolicy: 'round_robin' | 'least_request' | 'random' | 'ring_hash' | 'maglev';
  connectTimeoutMs: number; // default 5000
  circuitBreaker?: {
    maxConnections?: number;
    maxPendingRequests?: number;
    maxRequests?: number;
    maxRetries?: number;
  };
  outlierDetection?: {
    consecutive5xx?: number;
    intervalMs?: number;
    baseEjectionTimeMs?: number;
    maxEjectionPercent?: number;
  };
  healthCheck?: {
    httpPath: string;
    intervalMs: number;
    timeoutMs: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    expectedStatuses: number[];
  };
  tls?: ClusterTls;
  pos: SourcePos;
}

/** A cluster's `tls:` (also a service's): Envoy connects to the endpoints over TLS. */
export interface ClusterTls {
  sni?: string;
  /** A CA bundle Envoy reads from its own disk (`ca: path`). */
  caFile?: string;
  /** A CA secret served over SDS (`ca: {secret} | {caFile}`). */
  caSecret?: string;
  /** A certificate secret for mTLS to the endpoints (`clientCertificate:`). */
  clientCertificate?: string;
  /** What the endpoints' certificates must carry (URI globs, `dns:<glob>`), checked instead of the SNI as a DNS name. */
  peerIdentities?: string[];
  insecureSkipVerify: boolean;
  alpn: string[];
}
