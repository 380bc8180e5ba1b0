/**
 * `banyan ratelimit --xds`: a standalone rate limit replica takes its config from `banyan serve` over
 * ADS (RateLimitConfig resources compiled from the YAML's ratelimit section) and follows edits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import { runRateLimit, type RunningRateLimit } from '../../src/ratelimit/run.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';

const yaml = (limit: number) => `
listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - name: all
        match: { prefix: / }
        to: app
        ratelimit: [[{ generic_key: all }]]
clusters:
  - name: app
    endpoints: [127.0.0.1:9]
ratelimit:
  - domain: edge
    descriptors:
      - key: generic_key
        value: all
        rate_limit: { unit: hour, requests_per_unit: ${limit} }
`;

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

const Rls = grpc.makeGenericClientConstructor(rateLimitServiceDefinition(), 'RateLimitService');

describe('rate limit replica fed over xDS by banyan serve', () => {
  let t: TestBanyan;
  let file: string;
  let banyan: RunningBanyan;
  let replica: RunningRateLimit;
  let client: grpc.Client;
  const log = createLogger('test', 'silent');

  beforeAll(async () => {
    t = await startTestBanyan(yaml(3));
    ({ file, banyan } = t);
    replica = await runRateLimit({
      port: 0, host: '127.0.0.1', xds: `127.0.0.1:${banyan.ports.xds}`, nodeId: 'rl-replica-1',
      timeoutMs: 50, failureMode: 'allow', shadow: false, responseHeaders: false, log,
    });
    client = new Rls(`127.0.0.1:${replica.port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await replica?.stop();
    await t?.stop();
  });

  const limit = () =>
    new Promise<number | undefined>((resolve, reject) =>
      (client as unknown as Record<string, Function>).ShouldRateLimit(
        { domain: 'edge', descriptors: [{ entries: [{ key: 'generic_key', value: 'all' }] }], hits_addend: 0 },
        (err: Error | null, res: { statuses: { current_limit?: { requests_per_unit: number } }[] }) =>
          err ? reject(err) : resolve(res.statuses[0]?.current_limit?.requests_per_unit),
      ),
    );

  it('receives the compiled config, ACKs it, and follows a YAML edit', async () => {
    fs.writeFileSync(file, yaml(3));
    await eventually(async () => expect(await limit()).toBe(3), 10_000);
    const proxy = banyan.xds.status().find((p) => p.nodeId === 'rl-replica-1');
    expect(proxy?.types.find((t) => t.typeUrl.endsWith('RateLimitConfig'))?.state).toBe('SYNCED');
    fs.writeFileSync(file, yaml(9));
    await eventually(async () => expect(await limit()).toBe(9), 10_000);
  });

  it('the shipped binary (`banyan ratelimit --xds`, which loads only its part of the Envoy API) decides by the served config', async () => {
    fs.writeFileSync(file, yaml(4));
    const bin = path.resolve(import.meta.dirname, '../../bin/banyan.js');
    const child: ChildProcess = spawn(process.execPath, [bin, 'ratelimit', '--xds', `127.0.0.1:${banyan.ports.xds}`, '--node-id', 'rl-binary', '--port', '0'], {
      env: { ...process.env, BANYAN_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`banyan ratelimit exited ${code}: ${stderr}`)));
        readline.createInterface({ input: child.stdout! }).on('line', (line) => {
          const l = JSON.parse(line) as { msg?: string; port?: number };
          if (l.msg === 'rate limit service listening') resolve(l.port!);
        });
      });
      const own = new Rls(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      try {
        const call = () =>
          new Promise<{ overall_code: string; statuses: { current_limit?: { requests_per_unit: number } }[] }>((resolve, reject) =>
            (own as unknown as Record<string, Function>).ShouldRateLimit({ domain: 'edge', descriptors: [{ entries: [{ key: 'generic_key', value: 'all' }] }], hits_addend: 0 }, (err: Error | null, res: never) => (err ? reject(err) : resolve(res))),
          );
        const answer = await eventually(async () => {
          const a = await call();
          expect(a.statuses[0]?.current_limit?.requests_per_unit).toBe(4);
          return a;
        }, 15_000);
        expect(answer.overall_code).toBe('OK');
        const status = banyan.xds.status().find((p) => p.nodeId === 'rl-binary');
        expect(status?.types.find((t) => t.typeUrl.endsWith('RateLimitConfig'))?.state).toBe('SYNCED');
        // The built binary names its real version (package.json), as the in-process runner does.
        expect(status?.userAgent).toEqual({ name: 'banyan-ratelimit', version: PACKAGE_VERSION });
      } finally {
        own.close();
      }
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 60_000);
});
