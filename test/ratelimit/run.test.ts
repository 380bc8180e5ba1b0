import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rateLimitConfigResources } from '../../src/compile/ratelimit.js';
import type { Config } from '../../src/config/model.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { methodDefinition } from '../../src/proto/grpc.js';
import { parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';
import { runRateLimit } from '../../src/ratelimit/run.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { req, rlsClient } from './helpers.js';

const log = createLogger('test', 'silent');
const domainYaml = (limit: number) => `domain: edge\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: ${limit} }\n`;

describe('banyan ratelimit (standalone runner)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('serves a config directory over gRPC and /metrics, hot-reloads it, keeps the last good one on a bad edit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-run-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'edge.yaml'), domainYaml(1));
    const running = await runRateLimit({ port: 0, host: '127.0.0.1', config: dir, timeoutMs: 50, failureMode: 'allow', shadow: false, responseHeaders: false, metricsPort: 0, log });
    cleanups.push(() => running.stop());
    const client = rlsClient(running.port);
    cleanups.push(() => client.close());

    const limitOf = async () => (await client.call(req('edge', [['k', `v${Math.random()}`]]))).statuses[0].current_limit?.requests_per_unit;
    expect(await limitOf()).toBe(1);

    fs.writeFileSync(path.join(dir, 'edge.yaml'), domainYaml(7));
    await eventually(async () => expect(await limitOf()).toBe(7));

    fs.writeFileSync(path.join(dir, 'edge.yaml'), 'domain: edge\ndescriptors:\n  - key: k\n    ratelimit: {}\n');
    await eventually(async () => expect(await running.server.metrics()).toMatch(/banyan_ratelimit_config_load_error_total 1/));
    expect(await limitOf()).toBe(7);

    const text = await (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text();
    expect(text).toMatch(/banyan_ratelimit_total_hits_total\{key="edge.k"\} [1-9]/);
    expect(text).toMatch(/banyan_ratelimit_decision_seconds_count [1-9]/);

  });

  it('--xds: subscribes to RateLimitConfig over ADS, ACKs good configs and NACKs bad ones keeping the last good', async () => {
    // A minimal ADS server standing in for Banyan's xDS server.
    const requests: Record<string, any>[] = [];
    let stream: grpc.ServerDuplexStream<any, any> | undefined;
    const ads = methodDefinition(
      'envoy.service.discovery.v3.AggregatedDiscoveryService',
      'StreamAggregatedResources',
      'envoy.service.discovery.v3.DiscoveryRequest',
      'envoy.service.discovery.v3.DiscoveryResponse',
      { request: true, response: true },
    );
    const server = new grpc.Server();
    server.addService({ StreamAggregatedResources: ads }, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<any, any>) => {
        stream = call;
        call.on('data', (r) => requests.push(r));
        call.on('error', () => {});
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    cleanups.push(() => void server.forceShutdown());

    const running = await runRateLimit({ port: 0, host: '127.0.0.1', xds: `127.0.0.1:${port}`, nodeId: 'rl-1', timeoutMs: 50, failureMode: 'allow', shadow: false, responseHeaders: false, log });
    cleanups.push(() => running.stop());
    await eventually(() => expect(requests[0]).toMatchObject({ type_url: TypeUrl.RateLimitConfig, node: { id: 'rl-1' } }));

    const push = (version: string, resources: Record<string, unknown>[]) =>
      stream!.write({ version_info: version, nonce: `n${version}`, type_url: TypeUrl.RateLimitConfig, resources: resources.map((r) => ({ '@type': TypeUrl.RateLimitConfig, ...r })) });
    const config = { ratelimit: parseRateLimitYaml(domainYaml(3), 'banyan.yaml').domains } as Config;
    push('1', [...rateLimitConfigResources(config).values()]);
    await eventually(() => expect(requests.at(-1)).toMatchObject({ version_info: '1', response_nonce: 'n1' }));
    expect(requests.at(-1)!.error_detail).toBeUndefined();

    const client = rlsClient(running.port);
    cleanups.push(() => client.close());
    expect((await client.call(req('edge', [['k', 'x']]))).statuses[0].current_limit?.requests_per_unit).toBe(3);

    push('2', [{ name: 'edge', domain: 'edge', descriptors: [{ key: 'k', rate_limit: { unit: 'UNKNOWN', requests_per_unit: 1 } }] }]);
    await eventually(() => expect(requests.at(-1)).toMatchObject({ version_info: '1', response_nonce: 'n2', error_detail: { message: expect.stringContaining("invalid rate limit unit") } }));
    expect((await client.call(req('edge', [['k', 'y']]))).statuses[0].current_limit?.requests_per_unit).toBe(3);
  });
});
