/**
 * The rate limit benches' one workload: envoyproxy/ratelimit's config format (read as is by Banyan and
 * the reference) with three descriptors, one of them nested, every limit far above any load, so that
 * every decision is "within limit" and the answers of all targets can be compared.
 */
export const RLS_METHOD = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

export const CONFIG_YAML = `domain: bench
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 1000000 }
  - key: path
    rate_limit: { unit: second, requests_per_unit: 1000000 }
  - key: tenant
    descriptors:
      - key: plan
        rate_limit: { unit: second, requests_per_unit: 1000000 }
`;

export const REQUEST = {
  domain: 'bench',
  descriptors: [
    { entries: [{ key: 'remote_address', value: '10.0.0.1' }] },
    { entries: [{ key: 'path', value: '/api/orders' }] },
    { entries: [{ key: 'tenant', value: 'acme' }, { key: 'plan', value: 'gold' }] },
  ],
};

/** Descriptors per request: each decision is this many counted hits. */
export const DESCRIPTORS = REQUEST.descriptors.length;
