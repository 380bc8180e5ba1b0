/** Secrets belong in the environment or files: `serve` says so when they are given on the command line. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';
import { banyan } from './run.js';

describe('banyan serve: secrets in argv', () => {
  // --config-owner bogus stops serve as a usage error right after its flags are read: nothing is started or connected to.
  it('warns that --admin-token and a --postgres URL with a password are visible in argv, naming the env var or file flag', async () => {
    const r = await banyan(['serve', '--admin-token', 'hunter2-hunter2-hunter2', '--postgres', 'postgres://banyan:s3cret@127.0.0.1:1/banyan', '--config-owner', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('warning: --admin-token is visible in argv (ps, /proc) to every local user; use BANYAN_ADMIN_TOKEN, --admin-token-file or --admin-tokens-file');
    expect(r.stderr).toContain('warning: the --postgres URL carries a password visible in argv (ps, /proc) to every local user; use BANYAN_POSTGRES_URL');
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('says nothing for a --postgres URL without a password, or secrets from the environment', async () => {
    const r = await banyan(['serve', '--postgres', 'postgres://banyan@127.0.0.1:1/banyan', '--config-owner', 'bogus'], { BANYAN_ADMIN_TOKEN: 'from-env-0123456789' });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('warning:');
    expect(r.stderr).toContain('--config-owner must be files or store');
  });
});

describe('banyan serve: admin flags', () => {
  let dir: string;
  let serve: ServeProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-serve-admin-'));
  });
  afterAll(async () => {
    await serve?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('--admin-tokens-file, --admin-allowed-host and --admin-max-body reach the admin API', async () => {
    await writeFile(path.join(dir, 'routes.yaml'), 'listeners:\n  - name: edge\n    port: 10000\n    hosts:\n      - domains: ["*"]\n        routes:\n          - { name: rest, match: { prefix: / }, to: monolith }\nclusters:\n  - { name: monolith, endpoints: [10.0.0.1:8080] }\n');
    await writeFile(path.join(dir, 'tokens.yaml'), '- { name: dashboard, role: read, token: read-token-0123456789 }\n');
    serve = await startServeProcess('flags', [
      path.join(dir, 'routes.yaml'), '--data-dir', path.join(dir, 'data'), '--no-watch', '--no-ratelimit', '--no-authz',
      '--admin-tokens-file', path.join(dir, 'tokens.yaml'), '--admin-allowed-host', 'banyan.internal', '--admin-max-body', '1000',
    ]);
    const call = (method: string, p: string, headers: Record<string, string>, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: serve!.adminPort, path: p, method, headers }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end(body);
      });
    const auth = { authorization: 'Bearer read-token-0123456789' };
    expect(await call('GET', '/api/v1/config', {})).toBe(401);
    expect(await call('GET', '/api/v1/config', { ...auth, host: 'banyan.internal' })).toBe(200);
    expect(await call('GET', '/api/v1/config', { ...auth, host: 'other.internal' })).toBe(421);
    const files = JSON.stringify({ files: [{ file: 'routes.yaml', text: '#'.repeat(2000) }] });
    expect(await call('POST', '/api/v1/config/validate', { ...auth, 'content-type': 'application/json', 'content-length': String(files.length) }, files)).toBe(413);
    expect(await call('PUT', '/api/v1/routes/rest/weights', { ...auth, 'content-type': 'application/json' }, '{}')).toBe(403);
  });
});
