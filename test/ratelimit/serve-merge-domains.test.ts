/**
 * `serve --ratelimit-merge-domains` (the reference's MERGE_DOMAIN_CONFIG) applies to the YAML serve
 * loads: a domain named in two documents is one domain with both descriptors, in what the in-process
 * service decides and in the RateLimitConfig served over xDS; without it the repeat is an error.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFromString } from '../../src/config/load.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const yaml = `clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
ratelimit:
  - domain: edge
    descriptors:
      - { key: remote_address, rate_limit: { unit: second, requests_per_unit: 5 } }
---
ratelimit:
  - domain: edge
    descriptors:
      - { key: client, rate_limit: { unit: minute, requests_per_unit: 50 } }
`;

describe('rate limit domains merged by the config loader', () => {
  let t: TestBanyan | undefined;
  afterAll(async () => {
    await t?.stop();
  });

  it('without the option a repeated domain is an error at the second', () => {
    const r = loadConfigFromString(yaml, 'rl.yaml');
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}: ${d.message}`)).toEqual([expect.stringMatching(/^9: duplicate domain 'edge'/)]);
  });

  it('serve with mergeDomains serves one domain with both descriptors, to its service and over xDS', async () => {
    t = await startTestBanyan(yaml, { watch: false, ratelimitPort: 0, ratelimitOptions: { mergeDomains: true } });
    const domains = t.banyan.pipeline.current!.effective.ratelimit;
    expect(domains.map((d) => [d.domain, d.descriptors.map((x) => x.key)])).toEqual([['edge', ['remote_address', 'client']]]);
    const served = t.banyan.pipeline.current!.snapshot.groups.get('default')!.get(TypeUrl.RateLimitConfig)!;
    expect([...served.keys()]).toEqual(['edge']);
    const decision = await t.banyan.ratelimit!.limiter.shouldRateLimit({ domain: 'edge', descriptors: [{ entries: [{ key: 'client', value: 'c1' }] }], hits_addend: 1 } as never);
    expect(decision.overall_code).toBe('OK');
    expect(decision.statuses?.[0]?.current_limit?.requests_per_unit).toBe(50);
  });
});
