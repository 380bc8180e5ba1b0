/**
 * The admin API can't be abused: tokens with roles on everything that reads config or parses one,
 * an unspoofable audit actor, Host allow-list, Origin and content-type checks on changes, body caps,
 * and config checks that never hold up a shift's push.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actorFor, loadTokensFile, type TokenEntry } from '../../src/admin/auth.js';
import { defaultAllowedHosts } from '../../src/admin/router.js';
import { eventually } from '../support/eventually.js';
import { startHarness, routesYaml, type Harness } from './harness.js';

const READ = 'read-token-0123456789';
const OPERATE = 'operate-token-0123456789';
const ADMIN = 'admin-token-0123456789';
const TOKENS: TokenEntry[] = [
  { name: 'dashboard', role: 'read', token: READ },
  { name: 'ci-bot', role: 'operate', tokenSha256: createHash('sha256').update(OPERATE).digest('hex') },
  { name: 'root', role: 'admin', token: ADMIN },
];

const author = 'alice@laptop';
const shiftBody = (monolith: number) => ({ backends: [{ cluster: 'monolith', weight: monolith }, { cluster: 'checkout-v2', weight: 100 - monolith }], author });

async function send(
  h: Harness,
  method: string,
  p: string,
  opts: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(h.url + p, { method, headers, body: opts.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a probe's text
  }
  return { status: res.status, body, headers: res.headers };
}

/** node:http, which (unlike fetch) sends the Host header it is given. */
function withHost(h: Harness, p: string, host: string, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(h.url + p, { headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // a probe's text
        }
        resolve({ status: res.statusCode!, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Weights of the checkout route's weighted_clusters in the served RouteConfiguration. */
function servedCheckout(h: Harness): number[] {
  const rds = h.pipeline.current!.snapshot.groups.get('default')!.get('type.googleapis.com/envoy.config.route.v3.RouteConfiguration' as never)!;
  for (const rc of rds.values()) {
    for (const vh of (rc as any).virtual_hosts) {
      for (const r of vh.routes) if (r.name === 'checkout') return r.route.weighted_clusters.clusters.map((c: { weight: { value: number } }) => c.weight.value);
    }
  }
  throw new Error('checkout route not found');
}

describe('admin API hardening', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(undefined, { tokens: TOKENS, router: { allowedHosts: defaultAllowedHosts('127.0.0.1', ['banyan.internal']) } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('needs a token for every config read and every parse; probes stay open', async () => {
    const files = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(50, 50) }] });
    expect((await send(h, 'POST', '/api/v1/config/validate', { body: files })).status).toBe(401);
    expect((await send(h, 'POST', '/api/v1/config/diff', { body: files })).status).toBe(401);
    for (const p of ['/api/v1/config', '/api/v1/xds', '/api/v1/proxies', '/api/v1/routes', '/api/v1/history', '/api/v1/audit', '/api/v1/status']) {
      const res = await send(h, 'GET', p);
      expect(res.status, p).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await send(h, 'GET', p, { token: READ })).status, p).toBe(200);
    }
    const v = await send(h, 'POST', '/api/v1/config/validate', { body: files, token: READ });
    expect(v.status).toBe(200);
    expect(v.body.valid).toBe(true);
    expect((await send(h, 'POST', '/api/v1/config/diff', { body: files, token: READ })).status).toBe(200);
    // probes: no token, and any Host (a kubelet names the pod's address)
    for (const p of ['/healthz', '/readyz']) {
      const res = await withHost(h, p, '10.1.2.3:18001');
      expect(res.status, p).toBe(200);
    }
  });

  it('gives each role what it may do and no more', async () => {
    const shift = (token: string, monolith: number) => send(h, 'PUT', '/api/v1/routes/checkout/weights', { token, body: JSON.stringify(shiftBody(monolith)) });
    const denied = await shift(READ, 70);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe("token 'dashboard' has role read; this needs operate");
    expect(await h.store.listOverrides()).toEqual([]);

    expect((await shift(OPERATE, 70)).status).toBe(200);
    expect(servedCheckout(h)).toEqual([70, 30]);
    const apply = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(60, 40) }], author, message: 'm' });
    const refused = await send(h, 'POST', '/api/v1/config/apply', { token: OPERATE, body: apply });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/role operate; this needs admin/);
    expect((await send(h, 'POST', '/api/v1/rollback', { token: OPERATE, body: JSON.stringify({ version: 1, author }) })).status).toBe(403);
    expect((await send(h, 'DELETE', '/api/v1/routes/checkout/weights', { token: OPERATE, body: JSON.stringify({ author }) })).status).toBe(200);
    expect((await send(h, 'POST', '/api/v1/config/apply', { token: ADMIN, body: apply })).status).toBe(200);
    expect((await send(h, 'GET', '/api/v1/routes', { token: 'not-a-token-at-all' })).status).toBe(401);
  });

  it("records the token's name as the audit actor, whatever author the client claims", async () => {
    const res = await send(h, 'PUT', '/api/v1/routes/checkout/weights', { token: OPERATE, body: JSON.stringify({ ...shiftBody(80), author: 'root' }) });
    expect(res.status).toBe(200);
    expect(res.body.override.author).toBe('ci-bot (as root)');
    const [latest] = await h.store.listAudit({ limit: 1 });
    expect(latest.actor).toBe('ci-bot (as root)');
    expect((await send(h, 'DELETE', '/api/v1/routes/checkout/weights', { token: OPERATE })).status).toBe(200);
    const [cleared] = await h.store.listAudit({ limit: 1 });
    expect(cleared.actor).toBe('ci-bot');
    expect(actorFor(undefined, 'x')).toBe('x');
  });

  it('answers only to allowed Host names (DNS rebinding)', async () => {
    const rebinding = await withHost(h, '/api/v1/config', 'attacker.example:18001', READ);
    expect(rebinding.status).toBe(421);
    expect(rebinding.body.error).toMatch(/--admin-allowed-host/);
    // before the token is looked at: a rebinding page learns nothing, not even whether tokens exist
    expect((await withHost(h, '/api/v1/config', 'attacker.example')).status).toBe(421);
    expect((await withHost(h, '/metrics', 'attacker.example')).status).toBe(200);
    expect((await withHost(h, '/api/v1/config', 'localhost:18001', READ)).status).toBe(200);
    expect((await withHost(h, '/api/v1/config', 'banyan.internal', READ)).status).toBe(200);
    expect((await withHost(h, '/api/v1/config', '[::1]:18001', READ)).status).toBe(200);
    expect(defaultAllowedHosts('0.0.0.0')).toEqual(['localhost', '127.0.0.1', '::1']);
    expect(defaultAllowedHosts('10.0.0.5', ['Admin.Example.'])).toEqual(['localhost', '127.0.0.1', '::1', '10.0.0.5', 'admin.example']);
  });

  it('refuses changes and parses from a foreign Origin, and bodies that are not JSON (CSRF)', async () => {
    const files = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(50, 50) }] });
    const foreign = await send(h, 'POST', '/api/v1/config/validate', { token: READ, body: files, headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatch(/cross-origin/);
    expect((await send(h, 'PUT', '/api/v1/routes/checkout/weights', { token: OPERATE, body: JSON.stringify(shiftBody(50)), headers: { origin: 'null' } })).status).toBe(403);
    const same = await send(h, 'POST', '/api/v1/config/validate', { token: READ, body: files, headers: { origin: h.url } });
    expect(same.status).toBe(200);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await send(h, 'POST', '/api/v1/config/validate', { token: READ, body: files, headers: { 'content-type': type } });
      expect(res.status, type).toBe(415);
    }
    expect(await h.store.listOverrides()).toEqual([]);
  });

  it('caps bodies: 413 from Content-Length before the body is read, and as a streamed body passes the cap', async () => {
    // Declares 100 MB and sends 10 bytes: the answer comes without the server waiting for the rest.
    const status = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(new URL(h.url).port), '127.0.0.1');
      let got = '';
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n')) {
          resolve(got.split('\r\n')[0]);
          sock.destroy();
        }
      });
      sock.on('error', reject);
      sock.write(`POST /api/v1/config/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${READ}\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"files":[`);
    });
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
    // A JSON command over 1 MiB, streamed (no Content-Length): cut off at the cap.
    const big = JSON.stringify({ ...shiftBody(50), reason: 'x'.repeat(1024 * 1024) });
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res = await fetch(h.url + '/api/v1/routes/checkout/weights', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATE}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await h.store.listOverrides()).toEqual([]);
    // A 2 MiB config upload is under the 4 MiB config cap.
    const upload = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(50, 50) + '#'.repeat(2 * 1024 * 1024) + '\n' }] });
    expect((await send(h, 'POST', '/api/v1/config/validate', { token: READ, body: upload })).status).toBe(200);
  });
});

describe('admin API with no token configured', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(undefined, { tokens: [] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('reads are open (loopback); parses and changes are refused', async () => {
    expect((await send(h, 'GET', '/api/v1/routes')).status).toBe(200);
    const files = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(50, 50) }] });
    const v = await send(h, 'POST', '/api/v1/config/validate', { body: files });
    expect(v.status).toBe(401);
    expect(v.body.error).toMatch(/none is configured/);
    expect((await send(h, 'PUT', '/api/v1/routes/checkout/weights', { body: JSON.stringify(shiftBody(50)) })).status).toBe(401);
  });
});

describe('admin tokens file and settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-tokens-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a YAML or JSON list of named tokens and refuses a malformed one', async () => {
    const yaml = path.join(dir, 'tokens.yaml');
    await writeFile(yaml, `- name: ci-bot\n  role: operate\n  tokenSha256: ${'ab'.repeat(32)}\n- { name: root, role: admin, token: ${ADMIN} }\n`);
    expect(loadTokensFile(yaml)).toEqual([
      { name: 'ci-bot', role: 'operate', tokenSha256: 'ab'.repeat(32) },
      { name: 'root', role: 'admin', token: ADMIN },
    ]);
    const json = path.join(dir, 'tokens.json');
    await writeFile(json, JSON.stringify({ tokens: [{ name: 'dash', role: 'read', token: READ }] }));
    expect(loadTokensFile(json)).toEqual([{ name: 'dash', role: 'read', token: READ }]);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, `- { name: x, role: superuser, token: short }\n`);
    expect(() => loadTokensFile(bad)).toThrow(/role.*token must be at least 16 characters/s);
    const twice = path.join(dir, 'twice.yaml');
    await writeFile(twice, `- { name: x, role: read, token: ${READ} }\n- { name: x, role: admin, token: ${ADMIN} }\n`);
    expect(() => loadTokensFile(twice)).toThrow(/'x' is listed twice/);
  });
});

/** A realistic large config: `n` weighted routes with retries and headers, two clusters each (~7.6 MB at 16,000). */
function bigYaml(targetBytes: number): string {
  const routes: string[] = [];
  const clusters: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const r = `          - name: r${i}\n            match: { prefix: /svc-${i}/api/v1/resource }\n            timeout: 2s\n            retry: { attempts: 2, on: [5xx, reset] }\n            headers: { request: { add: { x-route: r${i} } } }\n            to:\n              - { cluster: c${i}, weight: 90 }\n              - { cluster: c${i}-v2, weight: 10 }\n`;
    const c = `  - name: c${i}\n    endpoints: [10.${(i >> 8) & 255}.${i & 255}.1:8080, 10.${(i >> 8) & 255}.${i & 255}.2:8080]\n    connectTimeout: 1s\n  - name: c${i}-v2\n    endpoints: [10.${(i >> 8) & 255}.${i & 255}.3:8080]\n`;
    routes.push(r);
    clusters.push(c);
    size += r.length + c.length;
  }
  return `listeners:\n  - name: edge\n    port: 10000\n    hosts:\n      - domains: ["*"]\n        routes:\n${routes.join('')}          - name: rest\n            match: { prefix: / }\n            to: c0\nclusters:\n${clusters.join('')}`;
}

describe('large config checks never hold up a push', () => {
  const body = JSON.stringify({ files: [{ file: 'big.yaml', text: bigYaml(7.6 * 1024 * 1024) }] });
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(undefined, { tokens: TOKENS, router: { maxConfigBody: 16 * 1024 * 1024 } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('refuses a 7.6 MB config over the default 4 MiB cap with 413', async () => {
    const d = await startHarness(undefined, { tokens: TOKENS });
    try {
      const res = await send(d, 'POST', '/api/v1/config/validate', { token: READ, body });
      expect(res.status).toBe(413);
    } finally {
      await d.stop();
    }
  });

  it('the 7.6 MB × 3 validate/diff no longer delays a shift past 1 s; a 4th check waits its turn or gets 503', async () => {
    expect(body.length).toBeGreaterThan(7.6 * 1024 * 1024);
    const inflight = [
      send(h, 'POST', '/api/v1/config/validate', { token: READ, body }),
      send(h, 'POST', '/api/v1/config/diff', { token: READ, body }),
      send(h, 'POST', '/api/v1/config/validate', { token: READ, body }),
    ].map((p) => p.catch((err: Error) => ({ status: 0, body: err.message, headers: new Headers() })));
    // All three received and parsed as JSON: one compiling in the worker, two queued. One more is refused.
    await eventually(() => expect(h.ops.pendingChecks()).toBe(3), 30_000);
    const small = JSON.stringify({ files: [{ file: 'routes.yaml', text: routesYaml(50, 50) }] });
    const refused = await send(h, 'POST', '/api/v1/config/validate', { token: READ, body: small });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body.error).toMatch(/busy: 3 config checks are running or queued/);

    // The acceptance criterion: the time from sending the shift until its weights are in the served snapshot.
    const t0 = performance.now();
    const shifted = send(h, 'PUT', '/api/v1/routes/checkout/weights', { token: OPERATE, body: JSON.stringify(shiftBody(35)) });
    let servedAfterMs = Infinity;
    await eventually(() => {
      expect(servedCheckout(h)).toEqual([35, 65]);
      servedAfterMs = performance.now() - t0;
    }, 5_000, 5);
    expect((await shifted).status).toBe(200);
    expect(servedAfterMs).toBeLessThan(1000);
    // the big checks are still running (they take minutes at this size): nothing of them came back
    const settled = await Promise.race([Promise.all(inflight).then(() => true), Promise.resolve(false)]);
    expect(settled).toBe(false);
  }, 90_000);
});
