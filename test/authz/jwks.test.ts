import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/authz/authorizer.js';
import { createAuthzMetrics } from '../../src/authz/metrics.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { eventually } from '../support/eventually.js';
import { checkRequest, JwksServer, makeKey, provider, sign, type TestKey } from './helpers.js';

const bearer = (t: string) => checkRequest({ authorization: `Bearer ${t}` });

describe('JWKS against a real HTTP endpoint', () => {
  let key1: TestKey;
  let key2: TestKey;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    key1 = await makeKey('ES256', 'key-1');
    key2 = await makeKey('EdDSA', 'key-2');
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(opts: { cacheMs?: number; cooldownMs?: number; keys?: TestKey[] } = {}) {
    const jwks = await new JwksServer().start();
    cleanups.push(() => jwks.stop());
    jwks.keys = (opts.keys ?? [key1]).map((k) => k.jwk);
    const registry = createRegistry();
    const authz = new Authorizer({ metrics: createAuthzMetrics(registry) });
    cleanups.push(() => authz.close());
    authz.setProviders([provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: opts.cacheMs ?? 300_000, cooldownMs: opts.cooldownMs ?? 30_000 } })]);
    await authz.ready();
    return { jwks, authz, registry };
  }

  it('accepts a token signed with a rotated-in key after exactly one refetch', async () => {
    const { jwks, authz } = await setup();
    expect(jwks.count()).toBe(1);
    expect((await authz.check(bearer(await sign(key1)))).status.code).toBe(0);
    jwks.keys = [key1.jwk, key2.jwk];
    expect((await authz.check(bearer(await sign(key2)))).status.code).toBe(0);
    expect(jwks.count()).toBe(2);
    // Known kids cost nothing more.
    expect((await authz.check(bearer(await sign(key2, { sub: 'again' })))).status.code).toBe(0);
    expect(jwks.count()).toBe(2);
  });

  it('survives a flood of 10,000 random unknown kids with at most a handful of fetches', async () => {
    const { jwks, authz, registry } = await setup();
    const [, payload, sig] = (await sign(key1)).split('.');
    const forged = (kid: string) => `${Buffer.from(JSON.stringify({ alg: 'ES256', kid })).toString('base64url')}.${payload}.${sig}`;
    const results = [];
    for (let batch = 0; batch < 10; batch++) {
      results.push(
        ...(await Promise.all(Array.from({ length: 1000 }, () => authz.check(bearer(forged(`kid-${Math.random().toString(36).slice(2)}`)))))),
      );
    }
    expect(results).toHaveLength(10_000);
    for (const r of results) expect(r.status).toEqual({ code: 16, message: 'unknown_kid' });
    // The initial load plus one cooldown-limited refetch.
    expect(jwks.count()).toBeLessThanOrEqual(3);
    expect(jwks.count()).toBeGreaterThanOrEqual(2);
    const metrics = await registry.getSingleMetricAsString('banyan_authz_jwks_fetches_total');
    expect(metrics).toContain(`banyan_authz_jwks_fetches_total{provider="main"} ${jwks.count()}`);
    // A legitimate token is unaffected.
    expect((await authz.check(bearer(await sign(key1)))).status.code).toBe(0);
  });

  it('keeps using cached keys while the endpoint is down, and refreshes in the background', async () => {
    const { jwks, authz, registry } = await setup({ cacheMs: 1000, cooldownMs: 1000 });
    expect((await authz.check(bearer(await sign(key1)))).status.code).toBe(0);
    await eventually(() => expect(jwks.count()).toBeGreaterThanOrEqual(2), 5000);
    jwks.down = true;
    const failuresSeen = jwks.count();
    await eventually(() => expect(jwks.count()).toBeGreaterThan(failuresSeen), 5000);
    await eventually(async () => expect(await registry.getSingleMetricAsString('banyan_authz_jwks_fetch_failures_total')).toMatch(/provider="main"} [1-9]/));
    // A fresh token (not in the verified-token cache) still verifies against the last good keys.
    expect((await authz.check(bearer(await sign(key1, { sub: 'during-outage' })))).status.code).toBe(0);
    await jwks.stop();
    expect((await authz.check(bearer(await sign(key1, { sub: 'after-stop' })))).status.code).toBe(0);
  });

  it('denies everything when no key set was ever loaded', async () => {
    const jwks = await new JwksServer().start();
    jwks.down = true;
    cleanups.push(() => jwks.stop());
    const authz = new Authorizer();
    cleanups.push(() => authz.close());
    authz.setProviders([provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: 300_000, cooldownMs: 30_000 } })]);
    await authz.ready();
    const res = await authz.check(bearer(await sign(key1)));
    expect(res.status).toEqual({ code: 16, message: 'no_keys' });
    expect(res.denied_response!.status).toEqual({ code: 'Unauthorized' });
    // Within the cooldown the issuer is not asked again for every request.
    const before = jwks.count();
    for (let i = 0; i < 20; i++) expect((await authz.check(bearer(await sign(key1)))).status.message).toBe('no_keys');
    expect(jwks.count()).toBe(before);
  });

  it('discovers jwks_uri through OIDC and refuses a discovery document for another issuer', async () => {
    const jwks = await new JwksServer().start();
    cleanups.push(() => jwks.stop());
    jwks.keys = [key1.jwk];
    jwks.docs.set('/.well-known/openid-configuration', { issuer: jwks.url, jwks_uri: `${jwks.url}/jwks` });
    const authz = new Authorizer();
    cleanups.push(() => authz.close());
    authz.setProviders([
      provider({ name: 'oidc', issuer: jwks.url, jwks: { kind: 'oidc', cacheMs: 300_000, cooldownMs: 30_000 } }),
      provider({ name: 'spoofed', issuer: `${jwks.url}/other`, jwks: { kind: 'oidc', cacheMs: 300_000, cooldownMs: 30_000 } }),
    ]);
    await authz.ready();
    expect((await authz.check(bearer(await sign(key1, { iss: jwks.url })))).status.code).toBe(0);
    expect(jwks.count('/.well-known/openid-configuration')).toBe(1);
    jwks.docs.set('/other/.well-known/openid-configuration', { issuer: jwks.url, jwks_uri: `${jwks.url}/jwks` });
    const spoof = await authz.check(bearer(await sign(key1, { iss: `${jwks.url}/other` })));
    expect(spoof.status.message).toBe('no_keys');
  });

  it('reloads a local key file when it changes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-jwks-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [key1.jwk] }));
    const authz = new Authorizer();
    cleanups.push(() => authz.close());
    authz.setProviders([provider({ jwks: { kind: 'file', path: file } })]);
    await authz.ready();
    expect((await authz.check(bearer(await sign(key1)))).status.code).toBe(0);
    fs.writeFileSync(file, JSON.stringify({ keys: [key2.jwk] }));
    // Only the watcher can make a still-valid key disappear; fresh tokens avoid the verified-token cache.
    let n = 0;
    await eventually(async () => expect((await authz.check(bearer(await sign(key1, { sub: `u${n++}` })))).status.message).toBe('unknown_kid'));
    expect((await authz.check(bearer(await sign(key2)))).status.code).toBe(0);
  });

  it('keeps key stores across setConfig when the key source is unchanged', async () => {
    const { jwks, authz } = await setup();
    const p = provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: 300_000, cooldownMs: 30_000 } });
    authz.setProviders([{ ...p, audiences: ['api', 'other'] }]);
    await authz.ready();
    expect(jwks.count()).toBe(1);
    expect((await authz.check(bearer(await sign(key1, { aud: 'other' })))).status.code).toBe(0);
    authz.setProviders([{ ...p, jwks: { ...p.jwks, cooldownMs: 1 } as typeof p.jwks }]);
    await authz.ready();
    expect(jwks.count()).toBe(2);
  });
});

