import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuthz, type RunningAuthz } from '../../src/authz/run.js';
import { authorizationServiceDefinition } from '../../src/proto/grpc.js';
import pino from 'pino';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { checkRequest, makeKey, sign, type TestKey } from './helpers.js';

const yaml = (jwksPath: string, audience: string) => `
auth:
  providers:
    - name: local
      issuer: https://issuer.test
      audiences: [${audience}]
      jwks: { file: ${jwksPath} }
      claimsToHeaders: { sub: x-user-id }
`;

describe('banyan authz (runAuthz)', () => {
  let dir: string;
  let configPath: string;
  let key: TestKey;
  let running: RunningAuthz | undefined;
  let client: grpc.Client & Record<string, Function>;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-authz-cli-'));
    key = await makeKey('ES256', 'k');
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [key.jwk] }));
    configPath = path.join(dir, 'banyan.yaml');
    fs.writeFileSync(configPath, yaml(path.join(dir, 'jwks.json'), 'api'));
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    running = await runAuthz({ port: 0, host: '127.0.0.1', config: configPath, watch: true, metricsPort: 0, logger });
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    client = new Client(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure()) as never;
  });

  afterAll(async () => {
    client?.close();
    await running?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const check = (token: string) =>
    new Promise<{ status?: { code?: number; message?: string } }>((resolve, reject) =>
      client.Check(checkRequest({ authorization: `Bearer ${token}` }), (err: Error | null, res: never) => (err ? reject(err) : resolve(res))),
    );

  it('serves the providers of a Banyan YAML and exposes /metrics', async () => {
    expect((await check(await sign(key))).status?.code ?? 0).toBe(0);
    const res = await fetch(`http://127.0.0.1:${running!.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/banyan_authz_checks_total\{result="allowed",reason="ok"\} 1/);
  });

  it('reloads providers when the YAML changes and keeps the last good config on a bad edit', async () => {
    const token = await sign(key, { aud: 'v2' });
    expect((await check(token)).status?.message).toBe('wrong_audience');
    fs.writeFileSync(configPath, yaml(path.join(dir, 'jwks.json'), 'v2'));
    await eventually(async () => expect((await check(token)).status?.code ?? 0).toBe(0));
    fs.writeFileSync(configPath, 'auth: { providers: [ { name: local } ] }\n');
    await eventually(() => expect(logLines.join('')).toContain('config rejected; keeping the last good providers'));
    expect((await check(await sign(key, { aud: 'v2', sub: 'still' }))).status?.code ?? 0).toBe(0);
  });

  it('refuses to start on an invalid config, naming file, line and column', async () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'auth:\n  providers:\n    - name: x\n      isuer: https://a\n');
    await expect(runAuthz({ port: 0, host: '127.0.0.1', config: bad, watch: false, logger: createLogger('test', 'silent') })).rejects.toThrow(
      new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`),
    );
  });
});
