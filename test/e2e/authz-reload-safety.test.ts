/**
 * `banyan authz` reloads like `banyan serve`: only configs written whole, one reload at a time, the
 * last version written served. hot-reload-safety.test.ts at a smaller scale: a real runAuthz watches
 * a real file; every reload is recorded from the log ("auth providers reloaded" names the providers),
 * and a Check with a token for the last version's audience shows what is served.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAuthz, type RunningAuthz } from '../../src/authz/run.js';
import { authorizationServiceDefinition } from '../../src/proto/grpc.js';
import { checkRequest, ISSUER, makeKey, sign, type TestKey } from '../authz/helpers.js';
import { eventually } from '../support/eventually.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('banyan authz hot reload serves only configs written whole', () => {
  let dir: string;
  let file: string;
  let jwks: string;
  let key: TestKey;
  let running: RunningAuthz | undefined;
  let client: (grpc.Client & Record<string, Function>) | undefined;
  let logs: { msg: string; providers?: string[] }[];

  /** One provider per name, with an issuer and an audience of its own. */
  const providerYaml = (name: string) => `    - name: ${name}\n      issuer: ${ISSUER}/${name}\n      audiences: [${name}]\n      jwks: { file: ${jwks} }\n`;
  const configYaml = (names: string[]) => `auth:\n  providers:\n${names.map(providerYaml).join('')}`;
  const reloads = () => logs.filter((l) => l.msg === 'auth providers reloaded').map((l) => l.providers!.join(','));
  const rejections = () => logs.filter((l) => l.msg === 'config rejected; keeping the last good providers');

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-authz-reload-'));
    jwks = path.join(dir, 'jwks.json');
    file = path.join(dir, 'banyan.yaml');
    key ??= await makeKey('ES256', 'k');
    fs.writeFileSync(jwks, JSON.stringify({ keys: [key.jwk] }));
    logs = [];
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    client?.close();
    client = undefined;
    await running?.stop();
    running = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serve(initial: string[]): Promise<void> {
    fs.writeFileSync(file, configYaml(initial));
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    running = await runAuthz({ port: 0, host: '127.0.0.1', config: file, watch: true, debounceMs: 100, logger });
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    client = new Client(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure()) as never;
    // The positive marker: an edit right after start is reloaded, so the watcher is live from then on.
    fs.writeFileSync(file, configYaml(['live']));
    await eventually(() => expect(reloads()).toEqual(['live']));
    logs.length = 0;
  }

  /** The gRPC status code of a Check with a valid token from provider `name` (0 = allowed). */
  async function checkAudience(name: string): Promise<number> {
    const token = await sign(key, { iss: `${ISSUER}/${name}`, aud: name });
    const res = await new Promise<{ status?: { code?: number } }>((resolve, reject) =>
      client!.Check(checkRequest({ authorization: `Bearer ${token}` }), (err: Error | null, r: never) => (err ? reject(err) : resolve(r))),
    );
    return res.status?.code ?? 0;
  }

  it('a file written in two parts 300 ms apart through one descriptor: the valid first half is never loaded', async () => {
    await serve(['v1']);
    // Alone, the first half is a valid, smaller config: provider a without b.
    const whole = configYaml(['a', 'b']);
    const half = configYaml(['a']);
    expect(whole.startsWith(half)).toBe(true);
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, half);
      await pause(300);
      fs.writeSync(fd, whole.slice(half.length));
    } finally {
      fs.closeSync(fd);
    }
    await eventually(() => expect(reloads()).toEqual(['a,b']));
    expect(await checkAudience('b')).toBe(0);
    expect(rejections()).toEqual([]);
  });

  it('a file truncated and written back 150 ms later: the empty file never reaches validation', async () => {
    await serve(['v1']);
    fs.truncateSync(file, 0);
    await pause(150);
    fs.writeFileSync(file, configYaml(['v2']));
    await eventually(() => expect(reloads()).toEqual(['v2']));
    expect(await checkAudience('v2')).toBe(0);
    expect(rejections()).toEqual([]);
  });

  it('50 whole edits in 0.5 s: each reload is one of them, in order, and the last one is served', async () => {
    await serve(['v0']);
    const versions = Array.from({ length: 50 }, (_, i) => `v${i + 1}`);
    for (const v of versions) {
      fs.writeFileSync(file, configYaml([v]));
      await pause(10);
    }
    await eventually(() => expect(reloads().at(-1)).toBe('v50'));
    const seen = reloads();
    for (const r of seen) expect(versions).toContain(r);
    // Overlapping reloads could finish out of order and leave an older version served.
    const order = seen.map((r) => versions.indexOf(r));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(seen.length).toBeLessThan(versions.length);
    expect(await checkAudience('v50')).toBe(0);
    expect(await checkAudience('v49')).not.toBe(0);
    expect(rejections()).toEqual([]);
  });

  it('reads slower than the edits (a network disk): never two reloads at once, the last edit served', async () => {
    await serve(['v0']);
    // Each read of the config takes 250 ms; edits come every 150 ms. Reloads that overlapped would
    // be reading at the same time, and could finish in any order.
    const realReadFile = fsp.readFile;
    let reading = 0;
    let maxReading = 0;
    vi.spyOn(fsp, 'readFile').mockImplementation((async (...args: Parameters<typeof fsp.readFile>) => {
      if (String(args[0]) !== file) return realReadFile(...args);
      maxReading = Math.max(maxReading, ++reading);
      try {
        await pause(250);
        return await realReadFile(...args);
      } finally {
        reading--;
      }
    }) as typeof fsp.readFile);
    const versions = Array.from({ length: 8 }, (_, i) => `s${i + 1}`);
    for (const v of versions) {
      fs.writeFileSync(file, configYaml([v]));
      await pause(150);
    }
    await eventually(() => expect(reloads().at(-1)).toBe('s8'));
    const order = reloads().map((r) => versions.indexOf(r));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(maxReading).toBe(1);
    expect(await checkAudience('s8')).toBe(0);
    expect(rejections()).toEqual([]);
  });
});
