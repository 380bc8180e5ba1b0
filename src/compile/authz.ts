import { z } from 'zod';
import type { AuthRequirement, Config, Listener, Route } from '../config/model.js';
import { callsService } from '../config/semantic.js';
import { serviceCluster } from './tls.js';
import { defineHttpFeature, type HttpFilterName } from './filters.js';
import type * as envoy from './envoy-types.js';
import { duration, typed } from './util.js';

/**
 * ext_authz: listeners that use Banyan's authz service get the ext_authz filter (gRPC to the
 * `banyan_authz` cluster), and each route tells the service what it requires through
 * ExtAuthzPerRoute.check_settings.context_extensions:
 *
 *   banyan.route  the route name (for logs and metrics)
 *   banyan.auth   the route's requirement as compact JSON; absent = the listener default
 *
 * Listener default (a route without `auth:` on a listener with `authz:`): a valid token from any
 * configured provider, no scopes or claim rules. Secure by default: opting out is `auth: none`,
 * which disables the filter on that route. A listener without `authz:` whose routes nonetheless
 * carry `auth:` gets the filter too (failure mode deny, 250 ms), with every other route disabled,
 * so a requirement written by an operator is never silently ignored.
 *
 * Proxyless gRPC (api) listeners are skipped: gRPC's xDS client does not implement ext_authz.
 */

export const EXT_AUTHZ_FILTER: HttpFilterName = 'envoy.filters.http.ext_authz';
export const AUTHZ_CLUSTER = 'banyan_authz';
export const CONTEXT_ROUTE = 'banyan.route';
export const CONTEXT_AUTH = 'banyan.auth';

const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
const PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
const IMPLICIT_AUTHZ = { failureMode: 'deny', timeoutMs: 250 } as const;

type JwtRequirement = Extract<AuthRequirement, { kind: 'jwt' }>;

const requirementSchema = z
  .object({
    providers: z.array(z.string()).default([]),
    mode: z.enum(['any', 'all']).default('any'),
    scopes: z.array(z.string()).default([]),
    claims: z
      .array(
        z.union([
          z.object({ claim: z.string(), op: z.literal('eq'), value: z.string() }).strict(),
          z.object({ claim: z.string(), op: z.literal('in'), values: z.array(z.string()) }).strict(),
          z.object({ claim: z.string(), op: z.literal('eqHeader'), header: z.string() }).strict(),
        ]),
      )
      .default([]),
    allowMissing: z.boolean().default(false),
  })
  .strict();

/** The wire form of a jwt requirement: its fields minus `kind`, defaults left out to keep it short. */
export function encodeRequirement(req: JwtRequirement): string {
  const out: Record<string, unknown> = { providers: req.providers };
  if (req.mode !== 'any') out.mode = req.mode;
  if (req.scopes.length) out.scopes = req.scopes;
  if (req.claims.length) out.claims = req.claims;
  if (req.allowMissing) out.allowMissing = true;
  return JSON.stringify(out);
}

/** Inverse of encodeRequirement; throws a message naming the problem when the text is not one. */
export function decodeRequirement(text: string): JwtRequirement {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${CONTEXT_AUTH} is not JSON`);
  }
  const parsed = requirementSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${CONTEXT_AUTH}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return { kind: 'jwt', ...parsed.data };
}

function requiresAuth(route: Route): boolean {
  return route.auth?.kind === 'jwt';
}

/** The ext_authz settings in force on a listener, explicit or implied by its routes; undefined = no filter. */
export function effectiveAuthz(listener: Listener): { failureMode: 'allow' | 'deny'; timeoutMs: number; implicit: boolean } | undefined {
  if (!callsService(listener, 'authz')) return undefined;
  return listener.authz ? { ...listener.authz, implicit: false } : { ...IMPLICIT_AUTHZ, implicit: true };
}

export const authzFeature = defineHttpFeature({
  name: 'authz',
  protos: ['envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto'],

  httpFilters(listener) {
    const authz = effectiveAuthz(listener);
    if (!authz) return [];
    return [
      {
        name: EXT_AUTHZ_FILTER,
        typed_config: typed(EXT_AUTHZ_TYPE, {
          grpc_service: { envoy_grpc: { cluster_name: AUTHZ_CLUSTER }, timeout: duration(authz.timeoutMs) },
          transport_api_version: 'V3',
          failure_mode_allow: authz.failureMode === 'allow',
          include_peer_certificate: false,
        }),
      },
    ];
  },

  route(route, listener) {
    const authz = effectiveAuthz(listener);
    if (!authz) return {};
    if (route.auth?.kind === 'none' || (authz.implicit && !requiresAuth(route))) {
      return { typedPerFilterConfig: { [EXT_AUTHZ_FILTER]: typed(PER_ROUTE_TYPE, { disabled: true }) } };
    }
    const context: Record<string, string> = { [CONTEXT_ROUTE]: route.name };
    if (route.auth?.kind === 'jwt') context[CONTEXT_AUTH] = encodeRequirement(route.auth);
    return { typedPerFilterConfig: { [EXT_AUTHZ_FILTER]: typed(PER_ROUTE_TYPE, { check_settings: { context_extensions: context } }) } };
  },

  clusters(config: Config): envoy.Cluster[] {
    if (!config.listeners.some((l) => effectiveAuthz(l))) return [];
    return [serviceCluster(AUTHZ_CLUSTER, config.services.authz)];
  },
});
