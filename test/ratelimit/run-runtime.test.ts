/**
 * `banyan ratelimit --config` on envoyproxy/ratelimit's own runtime layout: RUNTIME_ROOT is a symlink
 * swapped to deploy (`ln -s v2 new && mv -Tf new current`) and the domain files live in
 * RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config/. Read with the same directory rule as `banyan serve`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRateLimit, type RunningRateLimit } from '../../src/ratelimit/run.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { req, rlsClient } from './helpers.js';

const log = createLogger('test', 'silent');
const domainYaml = (domain: string, limit: number) => `domain: ${domain}\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: ${limit} }\n`;

describe('banyan ratelimit on a runtime directory', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  it('follows a swap of the runtime root, and skips dot-files as serve does', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-runtime-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const deploy = (version: string, limit: number) => {
      const config = path.join(root, version, 'ratelimit', 'config');
      fs.mkdirSync(config, { recursive: true });
      fs.writeFileSync(path.join(config, 'edge.yaml'), domainYaml('edge', limit));
      // An editor's or a deploy tool's leftover: never config (read, it would be a duplicate domain).
      fs.writeFileSync(path.join(config, '.edge.yaml.orig'), domainYaml('edge', 999));
      fs.writeFileSync(path.join(config, '.draft.yaml'), domainYaml('edge', 999));
    };
    deploy('v1', 1);
    fs.symlinkSync(path.join(root, 'v1'), path.join(root, 'current'));

    const running: RunningRateLimit = await runRateLimit({
      port: 0,
      host: '127.0.0.1',
      config: path.join(root, 'current', 'ratelimit', 'config'),
      timeoutMs: 50,
      failureMode: 'allow',
      shadow: false,
      responseHeaders: false,
      log,
    });
    cleanups.push(() => running.stop());
    const client = rlsClient(running.port);
    cleanups.push(() => client.close());
    const limitOf = async () => (await client.call(req('edge', [['k', `v${Math.random()}`]]))).statuses[0].current_limit?.requests_per_unit;
    expect(await limitOf()).toBe(1);

    deploy('v2', 5);
    fs.symlinkSync(path.join(root, 'v2'), path.join(root, 'new'));
    fs.renameSync(path.join(root, 'new'), path.join(root, 'current'));
    await eventually(async () => expect(await limitOf()).toBe(5));
    expect(await running.server.metrics()).toMatch(/banyan_ratelimit_config_load_error_total 0/);
  });
});
