/**
 * RateLimitConfig over xDS to a consumer that is not Banyan (issue 12, item 3). A scripted ADS
 * consumer subscribes as envoyproxy/ratelimit does (node id only, no user agent), takes the bytes
 * Banyan serves, and decodes them with the REFERENCE's generated Go types (test/go/rlsconf: the
 * go-control-plane/ratelimit version the pinned reference module requires). Every field the reference
 * defines must carry what the domain says, or a stricter-or-equal rendering, never a weaker one; the
 * fields it does not define are only the ones Banyan documents in protos/ (7 and 8, the current
 * reference's quota_mode and metadata, newer than those types; 100 and up, Banyan's).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateFiles } from '../../src/admission/index.js';
import { fromRateLimitConfigResource, rateLimitConsumerFindings } from '../../src/config/ratelimit/resource.js';
import { messageType, TypeUrl } from '../../src/proto/envoy.js';
import { goBinary } from '../support/go.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const run = promisify(execFile);

const RATELIMIT = `domain: edge
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 50, name: per_ip }
    shadow_mode: true
    detailed_metric: true
  - key: client
    quota_mode: true
    metadata: { tier: gold }
    rate_limit: { window: 5m, requests_per_unit: 3 }
  - key: burst
    rate_limit: { unit: minute, requests_per_unit: 10, algorithm: gcra }
  - key: multi
    rate_limit: { unit: second, requests_per_unit: 10 }
    limits: [{ unit: hour, requests_per_unit: 100 }]
`;

const yaml = `ratelimit:
  - ${RATELIMIT.replace(/\n/g, '\n    ')}
`;

/** One raw ADS exchange as envoyproxy/ratelimit's provider makes it: node {id}, RateLimitConfig, wildcard. */
async function servedBytes(port: number, node: Record<string, unknown>): Promise<Buffer[]> {
  const reqT = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const call = client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (v: object) => Buffer.from(reqT.encode(reqT.fromObject(v)).finish()),
      (b: Buffer) => b,
    );
    const res = await new Promise<Buffer>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write({ node, type_url: TypeUrl.RateLimitConfig, resource_names: [] });
    });
    call.cancel();
    // DiscoveryResponse.resources = 2 (Any: type_url = 1, value = 2), read by hand: the bytes as served.
    const out: Buffer[] = [];
    const r = protobuf.Reader.create(res);
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 !== 2) {
        r.skipType(tag & 7);
        continue;
      }
      const any = protobuf.Reader.create(r.bytes());
      while (any.pos < any.len) {
        const t = any.uint32();
        if (t >>> 3 === 2) out.push(Buffer.from(any.bytes()));
        else any.skipType(t & 7);
      }
    }
    return out;
  } finally {
    client.close();
  }
}

interface Decoded {
  known: { name: string; domain: string; descriptors: Record<string, any>[] };
  unknown: { path: string; number: number; varint?: number }[] | null;
}

async function decodeWithReference(resources: Buffer[]): Promise<Decoded[]> {
  const bin = await goBinary('rlsconf');
  const child = execFile(bin, [], { maxBuffer: 16 << 20 });
  const done = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rlsconf exited ${code}`))));
  });
  child.stdin!.end(resources.map((b) => b.toString('base64')).join('\n') + '\n');
  return (await done).trim().split('\n').map((l) => JSON.parse(l) as Decoded);
}

describe('RateLimitConfig served to a consumer that is not Banyan, decoded with the reference types', () => {
  let t: TestBanyan;
  let decoded: Decoded;
  let bytes: Buffer;
  beforeAll(async () => {
    await run('go', ['version']);
    t = await startTestBanyan(yaml, { watch: false, ratelimitPort: 0, authzPort: 0 });
    const served = await servedBytes(t.banyan.ports.xds, { id: 'default' });
    expect(served).toHaveLength(1);
    bytes = served[0];
    [decoded] = await decodeWithReference(served);
  }, 300_000);
  afterAll(async () => t?.stop());

  it('the fields the reference defines: identical where the reference can say it', () => {
    const [ip, client, burst, multi] = decoded.known.descriptors;
    expect(decoded.known).toMatchObject({ name: 'edge', domain: 'edge' });
    expect(ip).toEqual({ key: 'remote_address', rate_limit: { unit: 'SECOND', requests_per_unit: 50, name: 'per_ip' }, shadow_mode: true, detailed_metric: true });
    expect(client.key).toBe('client');
    expect(burst.key).toBe('burst');
    expect(multi.key).toBe('multi');
  });

  it('never weaker: 3 per 5m is 3/HOUR (not 3/MINUTE), GCRA 10/min is a fixed 5/MINUTE, 10/s + 100/h is 10/HOUR (100/HOUR would let 100 through in one second)', () => {
    const [, client, burst, multi] = decoded.known.descriptors;
    expect(client.rate_limit).toEqual({ unit: 'HOUR', requests_per_unit: 3 });
    expect(burst.rate_limit).toEqual({ unit: 'MINUTE', requests_per_unit: 5 });
    expect(multi.rate_limit).toEqual({ unit: 'HOUR', requests_per_unit: 10 });
  });

  it("what the reference's types do not know: quota_mode at 7 and metadata at 8 (the current reference's numbers), Banyan's from 100", () => {
    const numbers = (decoded.unknown ?? []).map((u) => `${u.path}#${u.number}${u.varint !== undefined ? `=${u.varint}` : ''}`);
    expect(numbers).toEqual(
      expect.arrayContaining(['.descriptors[1]#7=1', '.descriptors[1]#8', '.descriptors[1].rate_limit#101', '.descriptors[1].rate_limit#102=2', '.descriptors[1].rate_limit#103', '.descriptors[2].rate_limit#100=2', '.descriptors[3]#102']),
    );
    for (const u of decoded.unknown ?? []) expect(u.number === 7 || u.number === 8 || u.number >= 100).toBe(true);
    expect(numbers.some((n) => n.endsWith('#100=1') && !n.includes('rate_limit'))).toBe(false);
  });

  it('a Banyan consumer reads the exact policies back from the same bytes', () => {
    const d = fromRateLimitConfigResource(messageType(TypeUrl.RateLimitConfig).toObject(messageType(TypeUrl.RateLimitConfig).decode(bytes), { enums: String, longs: Number, defaults: false }));
    const [, client, burst, multi] = d.descriptors;
    expect(client).toMatchObject({ quotaMode: true, metadata: { tier: 'gold' }, rateLimit: { unit: 'minute', windowSeconds: 300, requestsPerUnit: 3 } });
    expect(burst.rateLimit).toMatchObject({ algorithm: 'gcra', unit: 'minute', requestsPerUnit: 10 });
    expect(multi.rateLimit).toMatchObject({ unit: 'second', requestsPerUnit: 10 });
    expect(multi.extraLimits).toMatchObject([{ unit: 'hour', requestsPerUnit: 100 }]);
  });

  it('banyan proxies: a consumer that is not Banyan is told what it enforces otherwise; Banyan replicas are not', () => {
    const domains = [fromRateLimitConfigResource(messageType(TypeUrl.RateLimitConfig).toObject(messageType(TypeUrl.RateLimitConfig).decode(bytes), { enums: String, longs: Number, defaults: false }))];
    expect(rateLimitConsumerFindings(domains, '')).toEqual(expect.arrayContaining([expect.stringContaining('edge.client: window (stricter)')]));
    expect(rateLimitConsumerFindings(domains, 'banyan-ratelimit')).toEqual([]);
  });
});

describe('banyan validate: a domain a reference consumer would enforce more weakly', () => {
  it('share_threshold is an error at its descriptor; a stricter rendering is a warning there', () => {
    const files = [
      {
        file: 'rl.yaml',
        text: `ratelimit:
  - domain: files
    descriptors:
      - key: path
        value: "files/*"
        share_threshold: true
        rate_limit: { unit: minute, requests_per_unit: 5 }
      - key: user
        rate_limit: { window: 5m, requests_per_unit: 3 }
`,
      },
    ];
    const r = validateFiles(files);
    const rl = r.diagnostics.filter((d) => d.message.includes('rate limit domain "files"'));
    expect(rl.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message.split(';')[0]}`)).toEqual([
      expect.stringMatching(/^rl\.yaml:4:9: error: rate limit domain "files": files\.path_files\/\*: share_threshold \(weaker\)/),
      expect.stringMatching(/^rl\.yaml:8:9: warning: rate limit domain "files": files\.user: window \(stricter\): 3 per window 300s: the reference enforces 3\/HOUR/),
    ]);
  });

  it('compat: reference accepts them for that domain; any other value is an error at it', () => {
    const text = (compat: string) => `ratelimit:
  - domain: files
    compat: ${compat}
    descriptors:
      - key: path
        value: "files/*"
        share_threshold: true
        rate_limit: { unit: minute, requests_per_unit: 5 }
`;
    const ok = validateFiles([{ file: 'rl.yaml', text: text('reference') }]);
    expect(ok.diagnostics.filter((d) => d.message.includes('rate limit domain'))).toEqual([]);
    expect(ok.snapshot).toBeDefined();
    const bad = validateFiles([{ file: 'rl.yaml', text: text('banyan') }]);
    expect(bad.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.col}: ${d.message}`)).toContainEqual(expect.stringMatching(/^3:13: compat must be "reference"/));
  });
});
