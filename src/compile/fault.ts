import type { Fault, Listener } from '../config/model.js';
import type * as envoy from './envoy-types.js';
import { defineHttpFeature, type HttpFilterName } from './filters.js';
import { headerMatcher } from './matchers.js';
import { compact, duration, fractionalPercent, typed, wrap } from './util.js';

export const FAULT_FILTER: HttpFilterName = 'envoy.filters.http.fault';
const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

const listenerUsesFault = (listener: Listener): boolean => listener.kind === 'socket' && listener.hosts.some((h) => h.routes.some((r) => r.fault));

/**
 * Fault injection: the filter, empty, on every socket listener with a `fault:` route, and each
 * route's faults in its typed_per_filter_config (Envoy's fault filter takes the most specific config
 * whole). An empty filter injects nothing and ignores x-envoy-fault-* headers, so a client can only
 * trigger a fault on a route whose operator wrote `fromHeaders`.
 */
export const faultFeature = defineHttpFeature({
  name: 'fault',
  protos: ['envoy/extensions/filters/http/fault/v3/fault.proto'],

  httpFilters(listener) {
    return listenerUsesFault(listener) ? [{ name: FAULT_FILTER, typed_config: typed(FAULT_TYPE, {}) }] : [];
  },

  route(route) {
    return route.fault ? { typedPerFilterConfig: { [FAULT_FILTER]: httpFault(route.fault) } } : {};
  },

  clusters() {
    return [];
  },
});

function httpFault(f: Fault): envoy.TypedAny {
  // Percentages always go out explicitly: an unset FractionalPercent is 0% in Envoy, not 100%.
  return typed(
    FAULT_TYPE,
    compact({
      abort: f.abort
        ? compact({
            http_status: f.abort.httpStatus,
            grpc_status: f.abort.grpcStatus,
            header_abort: f.abort.fromHeaders ? {} : undefined,
            percentage: fractionalPercent(f.abort.percent),
          })
        : undefined,
      delay: f.delay
        ? compact({
            fixed_delay: f.delay.fixedMs !== undefined ? duration(f.delay.fixedMs) : undefined,
            header_delay: f.delay.fromHeaders ? {} : undefined,
            percentage: fractionalPercent(f.delay.percent),
          })
        : undefined,
      headers: f.headers.length ? f.headers.map(headerMatcher) : undefined,
      max_active_faults: f.maxActive !== undefined ? wrap(f.maxActive) : undefined,
    }),
  );
}
