import type { Listener } from '../config/model.js';
import type { CompileContext } from './context.js';
import type * as envoy from './envoy-types.js';
import { FEATURES } from './features.js';
import { orderHttpFilters, type HttpFilterName } from './filters.js';
import { hcmObservability } from './observability.js';
import { TLS_INSPECTOR, tlsFilterChains } from './tls.js';
import { ADS_CONFIG_SOURCE, compact, HCM_TYPE, socketAddress, typed, wrap } from './util.js';

const ROUTER: HttpFilterName = 'envoy.filters.http.router';
export const ROUTER_FILTER: envoy.HttpFilter = {
  name: ROUTER,
  typed_config: typed('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', {}),
};

export function buildListener(listener: Listener, ctx: CompileContext): envoy.Listener {
  return listener.kind === 'api' ? apiListener(listener) : socketListener(listener, ctx);
}

/** Routes always come over RDS on the same ADS stream, so a route edit never drains connections. */
function httpConnectionManager(listener: Listener, httpFilters: envoy.HttpFilter[]): envoy.HttpConnectionManager {
  return {
    stat_prefix: listener.name,
    rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: listener.name },
    http_filters: httpFilters,
  };
}

function socketListener(listener: Listener, ctx: CompileContext): envoy.Listener {
  const httpFilters = orderHttpFilters([...FEATURES.flatMap((f) => f.httpFilters(listener, ctx.config)), ROUTER_FILTER]);
  const filters: envoy.FilterChain['filters'] = [
    {
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: typed(
        HCM_TYPE,
        compact({
          ...httpConnectionManager(listener, httpFilters),
          codec_type: 'AUTO',
          // Envoy's edge best practices. The client address comes from the connection, not from a
          // client-written X-Forwarded-For, so remote_address rate limits cannot be dodged; and paths
          // are normalized before matching, so `/public/../admin` cannot take `/public`'s auth rule.
          use_remote_address: wrap(true),
          normalize_path: wrap(true),
          merge_slashes: true,
          ...hcmObservability(listener),
        }),
      ),
    },
  ];
  if (listener.tls) {
    // One chain per certificate, chosen by SNI: tls_inspector reads the ClientHello for the match.
    return { name: listener.name, address: socketAddress(listener.address, listener.port), listener_filters: [TLS_INSPECTOR], filter_chains: tlsFilterChains(listener.tls, filters) };
  }
  return { name: listener.name, address: socketAddress(listener.address, listener.port), filter_chains: [{ filters }] };
}

/**
 * Proxyless gRPC: an api_listener whose HCM runs only the router (gRPC rejects filters it lacks; a
 * listener asking for more is refused by admission, src/admission/grpc.ts).
 */
function apiListener(listener: Listener): envoy.Listener {
  return {
    name: listener.name,
    api_listener: { api_listener: typed(HCM_TYPE, httpConnectionManager(listener, [ROUTER_FILTER])) },
  };
}
