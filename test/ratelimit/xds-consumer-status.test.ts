/**
 * `GET /api/v1/proxies` and `banyan proxies` name a RateLimitConfig consumer that is not Banyan and
 * what it enforces otherwise than the YAML says (README "Rate limit config over xDS"); a proxy that
 * does not subscribe to RateLimitConfig, and a domain with `compat: reference`, are not listed.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitConsumerLines } from '../../src/cli/commands/proxies.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';

const yaml = (compat: string) => `listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - { name: all, match: { prefix: / }, to: app, ratelimit: [[remote_address]] }
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
ratelimit:
  - domain: edge
${compat}    descriptors:
      - key: remote_address
        rate_limit: { window: 5m, requests_per_unit: 3 }
`;

interface Listed {
  nodeId: string;
  rateLimitFindings?: string[];
  userAgent?: { name: string };
}

describe('RateLimitConfig consumers that are not Banyan, in the proxies list', () => {
  let t: TestBanyan;
  const recorders: AdsRecorder[] = [];

  beforeAll(async () => {
    t = await startTestBanyan(yaml(''));
  });

  afterAll(async () => {
    for (const r of recorders) r.close();
    await t?.stop();
  });

  const proxies = async () => {
    const res = await fetch(`http://127.0.0.1:${t.banyan.ports.admin}/api/v1/proxies`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { proxies: Listed[] }).proxies;
  };

  it('lists what a reference consumer enforces otherwise, on that proxy only', async () => {
    const rls = new AdsRecorder(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'reference-rls', cluster: 'ratelimit' }, { [TypeUrl.RateLimitConfig]: [] });
    const envoy = new AdsRecorder(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'edge-1', cluster: 'edge' }, { [TypeUrl.Listener]: [] });
    recorders.push(rls, envoy);
    const listed = await eventually(async () => {
      const all = await proxies();
      expect(all.map((p) => p.nodeId).sort()).toEqual(['edge-1', 'reference-rls']);
      return all;
    }, 10_000);
    const ref = listed.find((p) => p.nodeId === 'reference-rls')!;
    expect(ref.rateLimitFindings).toEqual([expect.stringMatching(/^edge\.remote_address: window \(stricter\): 3 per window 300s: the reference enforces 3\/HOUR/)]);
    expect(listed.find((p) => p.nodeId === 'edge-1')!.rateLimitFindings).toBeUndefined();
    expect(rateLimitConsumerLines(listed as never)).toEqual([expect.stringMatching(/^ {2}reference-rls \(.+\) no user agent: edge\.remote_address: window \(stricter\)/)]);
  });

  it('a domain with compat: reference is not listed', async () => {
    fs.writeFileSync(t.file, yaml('    compat: reference\n'));
    await eventually(async () => {
      const ref = (await proxies()).find((p) => p.nodeId === 'reference-rls');
      expect(ref).toBeDefined();
      expect(ref!.rateLimitFindings).toBeUndefined();
    }, 10_000);
  });
});
