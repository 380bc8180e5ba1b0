import { z } from 'zod';
import { isIpLiteral } from './address.js';
import { UINT32_MAX } from './bounds.js';
import { AT_KEY, duration, durationAtLeast, exactlyOne, headerName, mutableHeaderName, host, hostPort, httpPath, name, onlyWith, port, refineWith, stringOrList, uint32 } from './schema-common.js';
import { virtualHost, route } from './schema-route.js';
import { rollout } from './schema-rollout.js';
import { observabilityKeys } from './schema-observability.js';
import { caSection, clusterTls, listenerTls, secret } from './schema-tls.js';

/**
 * The operator's YAML, as zod schemas over one file's plain value. Every object is strict so typos
 * are caught; defaults are applied later by the builder, which also attaches source positions.
 */

const listener = z
  .strictObject({
    name: name.meta({ description: 'Unique. For kind api: the gRPC target authority (xds:///orders → orders)' }),
    kind: z.enum(['socket', 'api']).optional().meta({ description: 'socket (Envoy, default) or api (proxyless gRPC)' }),
    address: z.string().superRefine(refineWith((v: string) => (isIpLiteral(v) ? undefined : `listener address "${v}" must be an IP address`))).optional(),
    port: port.optional(),
    hosts: z.array(virtualHost).optional(),
    routes: z.array(route).optional().meta({ description: 'Shorthand for hosts: [{domains: ["*"], routes}]' }),
    authz: z.strictObject({ failureMode: z.enum(['allow', 'deny']).optional(), timeout: duration.optional() }).optional(),
    ratelimit: z
      .strictObject({
        domain: name,
        failureMode: z.enum(['allow', 'deny']).optional(),
        timeout: duration.optional(),
        headers: z.boolean().optional().meta({ description: 'Emit X-RateLimit-* headers' }),
      })
      .optional(),
    ...observabilityKeys,
    tls: listenerTls.optional().meta({ description: 'Terminate TLS: certificates per SNI, served to Envoy over SDS' }),
  })
  .superRefine(exactlyOne(['hosts', 'routes'], false))
  .superRefine((v, ctx) => {
    const uri = /^[a-z]+:\/\/\/?(.*)$/.exec(v.name);
    if (v.kind === 'api' && uri) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `api listener name is the target's authority, not its URI: use "${uri[1]}" for "${v.name}"`, input: v.name });
    }
    if (v.kind === 'api') {
      for (const k of ['port', 'address'] as const) {
        if (v[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], params: AT_KEY, message: `"${k}" is not allowed on an api listener (proxyless gRPC clients have no socket)`, input: v[k] });
      }
    } else if (v.port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: `missing required key "port" (socket listeners bind a port)`, input: undefined });
    }
  });

const endpoint = z.union([
  hostPort,
  z.strictObject({ address: host, port: port, weight: uint32(1).optional(), zone: z.string().min(1).optional() }),
]);

const cluster = z.strictObject({
  name: name,
  endpoints: z
    .array(endpoint)
    .min(1)
    .superRefine((eps, ctx) => {
      // Each zone's load_balancing_weight is its endpoints' sum, and Envoy needs the zones' total at one priority to fit uint32.
      const total = eps.reduce((sum, e) => sum + (typeof e === 'string' ? 1 : (e.weight ?? 1)), 0);
      if (total > UINT32_MAX) ctx.addIssue({ code: 'custom', message: `endpoint weights sum to ${total}, above ${UINT32_MAX}: Envoy refuses locality weights whose total does not fit uint32`, input: eps });
    })
    .meta({ description: '"host:port" strings or {address, port, weight, zone}' }),
  discovery: z.enum(['eds', 'strict_dns']).optional().meta({ description: 'Derived: eds when all endpoints are IPs, else strict_dns' }),
  protocol: z.enum(['http1', 'http2']).optional(),
  lb: z.enum(['round_robin', 'least_request', 'random', 'ring_hash', 'maglev']).optional(),
  connectTimeout: durationAtLeast(1).optional(),
  circuitBreaker: z
    .strictObject({
      maxConnections: uint32(0).optional(),
      maxPendingRequests: uint32(0).optional(),
      maxRequests: uint32(0).optional(),
      maxRetries: uint32(0).optional(),
    })
    .optional(),
  outlierDetection: z
    .strictObject({
      consecutive5xx: uint32(1).optional(),
      // Envoy: both > 0.
      interval: durationAtLeast(1).optional(),
      baseEjectionTime: durationAtLeast(1).optional(),
      maxEjectionPercent: z.number().int().min(0).max(100).optional(),
    })
    .optional(),
  healthCheck: z
    .strictObject({
      http: httpPath.meta({ description: 'Path to GET' }),
      interval: durationAtLeast(1).optional(),
      timeout: durationAtLeast(1).optional(),
      healthyThreshold: uint32(1).optional(),
      unhealthyThreshold: uint32(1).optional(),
      expectedStatuses: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    })
    .optional(),
  tls: clusterTls.optional(),
});

/** A URI SAN (`spiffe://example.org/ns/edge/*`) or a DNS SAN with a `dns:` prefix; `*` globs as the matchers. */
const groupIdentity = z
  .string()
  .refine((v) => /^dns:./.test(v) || /^[a-zA-Z][a-zA-Z0-9+.-]*:./.test(v), {
    message: 'an identity is a URI SAN (spiffe://example.org/ns/edge/*) or dns:<name> (dns:edge-*.internal)',
  });

/** A node id a group identity may claim: `*` globs as the matchers; no whitespace or control characters (node ids have none). */
const nodeIdGlob = z
  .string()
  .min(1)
  .refine((v) => !/[\s\p{Cc}]/u.test(v), { message: 'a node id glob has no whitespace or control characters (edge-*, edge-1)' });

/**
 * An `identities:` entry: an identity alone (it may claim any node id of the group), or an identity
 * with the node ids it may claim.
 */
const groupIdentityEntry = z.union([
  groupIdentity,
  z
    .strictObject({
      identity: groupIdentity.meta({ description: 'URI SAN glob, or dns:<glob> for a DNS SAN' }),
      nodes: z.array(nodeIdGlob).min(1).meta({ description: 'node.id globs this identity may claim (others are refused)' }),
    })
    .meta({ description: 'An identity that may claim only the node ids in nodes' }),
]);

const group = z.strictObject({
  name: name,
  match: z
    .strictObject({
      cluster: stringOrList.optional().meta({ description: 'node.cluster, exact or * glob' }),
      id: stringOrList.optional().meta({ description: 'node.id, exact or * glob' }),
      metadata: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  listeners: z.array(name).optional().meta({ description: 'Listener names (default: all)' }),
  identities: z
    .array(groupIdentityEntry)
    .min(1)
    .optional()
    .meta({
      description:
        'Client-certificate identities (URI SAN globs; dns:<glob> for DNS SANs) allowed to join this group: a string (any node id), or {identity, nodes: [node.id globs]} to limit the node ids it may claim',
    }),
});

// Asymmetric only: keys come from a public JWKS, and an HMAC "key" there would let anyone who can read
// the JWKS mint tokens (the classic RS256→HS256 confusion). `none` is never an option.
const JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const tokenSource = z
  .strictObject({ header: headerName.optional(), prefix: z.string().optional(), cookie: name.optional(), query: name.optional() })
  .superRefine(exactlyOne(['header', 'cookie', 'query']))
  .superRefine(onlyWith(['prefix'], ['header']));

const provider = z
  .strictObject({
    name: name,
    issuer: z.string().min(1),
    audiences: z.array(z.string().min(1)).optional(),
    jwks: z
      .strictObject({
        uri: z.url({ protocol: /^https?$/ }).optional(),
        file: z.string().min(1).optional(),
        oidc: z.literal(true).optional().meta({ description: 'Discover jwks_uri from issuer/.well-known/openid-configuration' }),
        cache: duration.optional(),
        cooldown: duration.optional().meta({ description: 'Minimum time between refetches on an unknown kid' }),
      })
      .superRefine(exactlyOne(['uri', 'file', 'oidc']))
      .superRefine(onlyWith(['cache', 'cooldown'], ['uri', 'oidc'])),
    algorithms: z.array(z.enum(JWS_ALGORITHMS)).min(1).optional(),
    clockSkew: duration.optional(),
    requireExp: z.boolean().optional(),
    maxLifetime: duration.optional(),
    from: z.array(tokenSource).min(1).optional(),
    claimsToHeaders: z.record(z.string(), mutableHeaderName).optional().meta({ description: 'claim: header-name' }),
    payloadHeader: mutableHeaderName.optional(),
    removeAuthorization: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.jwks.oidc && !/^https?:\/\//.test(v.issuer)) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: `issuer "${v.issuer}" must be an http(s) URL for OIDC discovery`, input: v.issuer });
    }
  });

/**
 * Where Envoy reaches one of Banyan's services: `host:port`, or `{address, tls}` when the service
 * takes TLS (the same `tls:` as a cluster's: Envoy's UpstreamTlsContext, certificates over SDS).
 */
const serviceSetting = z.union([hostPort, z.strictObject({ address: hostPort, tls: clusterTls.optional() })]);

export const configSchema = z
  .strictObject({
    listeners: z.array(listener).optional(),
    clusters: z.array(cluster).optional(),
    groups: z.array(group).optional(),
    services: z
      .strictObject({
        ratelimit: serviceSetting.optional().meta({ description: 'Banyan rate limit service (default 127.0.0.1:8081): host:port, or {address, tls}' }),
        authz: serviceSetting.optional().meta({ description: 'Banyan authz service (default 127.0.0.1:9191): host:port, or {address, tls}' }),
      })
      .optional(),
    auth: z.strictObject({ providers: z.array(provider).optional() }).optional(),
    ratelimit: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .meta({ description: 'envoyproxy/ratelimit domain configs ({domain, descriptors}), format unchanged' }),
    ca: caSection.optional(),
    secrets: z.array(secret).optional().meta({ description: 'Certificates and CA bundles from files, served to Envoy over SDS (files are watched)' }),
    rollouts: z.array(rollout).optional().meta({ description: 'Stepped rollouts owned by the config (banyan rollout start makes the same, owned by the CLI)' }),
  })
  .meta({ title: 'Banyan configuration', description: 'One file, or one of several in a config directory (lists are concatenated).' });

export type ConfigInput = z.output<typeof configSchema>;
export type ListenerInput = z.output<typeof listener>;
export type ClusterInput = z.output<typeof cluster>;
export type GroupInput = z.output<typeof group>;
export type ProviderInput = z.output<typeof provider>;
export type ServiceSettingInput = z.output<typeof serviceSetting>;

/** JSON Schema (draft 2020-12) of the operator YAML, for editor completion. */
export function exportJsonSchema(): object {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
