/**
 * envoyproxy/ratelimit's own integration runtime directory (test/integration/runtime/current/ratelimit,
 * copied under fixtures/envoyproxy-ratelimit with its licence) served by `banyan ratelimit --config`
 * over gRPC, and the reference's start-up without a valid config.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { runRateLimit, type RunRateLimitOptions } from '../../src/ratelimit/run.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { req, rlsClient } from './helpers.js';

const RUNTIME = path.join(import.meta.dirname, 'fixtures', 'envoyproxy-ratelimit', 'runtime', 'current', 'ratelimit');
const log = createLogger('test', 'silent');

describe('the reference runtime directory in banyan ratelimit', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function start(config: string, extra: Partial<RunRateLimitOptions> = {}) {
    const running = await runRateLimit({ port: 0, host: '127.0.0.1', config, timeoutMs: 1000, failureMode: 'deny', shadow: false, responseHeaders: false, log, ...extra });
    cleanups.push(() => running.stop());
    const client = rlsClient(running.port);
    cleanups.push(() => client.close());
    return { running, client };
  }

  it('loads every domain file of config/ unchanged and decides by them (limits as config_impl.go loads them)', async () => {
    const { running, client } = await start(path.join(RUNTIME, 'config'));
    expect(running.server.limiter.domains.map((d) => d.domain).sort()).toEqual(['another', 'another_legacy', 'basic', 'basic_headers', 'basic_legacy', 'sanitize', 'share-threshold-test']);
    expect(await running.server.metrics()).toMatch(/banyan_ratelimit_config_load_error_total 0/);

    const one = req('basic', [['one_per_minute', 'x']]);
    expect((await client.call(one)).overall_code).toBe('OK');
    expect((await client.call(one)).overall_code).toBe('OVER_LIMIT');
    const key2 = await client.call(req('another', [['key2', 'v']]));
    expect(key2.statuses[0]).toMatchObject({ code: 'OK', current_limit: { requests_per_unit: 20, unit: 'MINUTE' }, limit_remaining: 19 });

    // share_threshold.yaml: every files/* value shares one hourly budget of 10.
    for (let i = 0; i < 10; i++) expect((await client.call(req('share-threshold-test', [['files', `files/${i}.pdf`]]))).overall_code).toBe('OK');
    expect((await client.call(req('share-threshold-test', [['files', 'files/other.csv']]))).overall_code).toBe('OVER_LIMIT');
    expect((await client.call(req('share-threshold-test', [['files_no_share', 'files_no_share/a']]))).overall_code).toBe('OK');

    // sanitize.yaml: value_to_metric names the stats after the request's value.
    await client.call(req('sanitize', [['grpc_path', '/pkg.Svc/Method']]));
    expect(await running.server.metrics()).toMatch(/banyan_ratelimit_total_hits_total\{key="sanitize\.grpc_path_\/pkg\.Svc\/Method"\} 1/);
  });

  it('a second file for an existing domain: rejected without merge; merged with it (MERGE_DOMAIN_CONFIG, existingDomainreload.yaml)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-merge-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (const f of fs.readdirSync(path.join(RUNTIME, 'config'))) fs.copyFileSync(path.join(RUNTIME, 'config', f), path.join(dir, f));
    fs.copyFileSync(path.join(RUNTIME, 'existingDomainreload.yaml'), path.join(dir, 'existingDomainreload.yaml'));

    const plain = await start(dir);
    const err = (await plain.client.call(req('basic', [['key1', 'x']])).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(GrpcStatus.UNKNOWN);
    expect(err.details).toBe('no rate limit configuration loaded');

    const merged = await start(dir, { mergeDomains: true });
    expect((await merged.client.call(req('basic', [['block1', 'x']]))).overall_code).toBe('OVER_LIMIT');
    expect((await merged.client.call(req('basic', [['key1', 'x']]))).overall_code).toBe('OK');
    expect((await merged.client.call(req('basic', [['one_per_minute1', 'x']]))).overall_code).toBe('OK');
  });

  it('started on an invalid config: every call fails until a valid one loads (service_test TestInitialLoadError), so failure_mode_deny applies', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-noconfig-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'domain: bad\ndescriptors:\n  - key: k\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n');
    const { client, running } = await start(dir, { debounceMs: 20 });
    const err = (await client.call(req('bad', [['k', 'v']])).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(GrpcStatus.UNKNOWN);
    expect(err.details).toBe('no rate limit configuration loaded');
    expect(running.server.limiter.configLoaded).toBe(false);

    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'domain: bad\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n');
    await eventually(async () => expect((await client.call(req('bad', [['k', 'v']]))).overall_code).toBe('OK'));
  });
});
