import { createPublicKey } from 'node:crypto';
import { CompactSign, exportSPKI, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/authz/authorizer.js';
import type { CheckResponseObject } from '../../src/authz/response.js';
import { CONTEXT_AUTH, encodeRequirement } from '../../src/compile/authz.js';
import type { AuthProvider } from '../../src/config/model.js';
import { AUDIENCE, checkRequest, ISSUER, JwksServer, makeKey, provider, sign, type TestKey } from './helpers.js';

const CHALLENGE_401 = (desc: string) => `Bearer realm="banyan", error="invalid_token", error_description="${desc}"`;

function header(res: CheckResponseObject, name: string): string | undefined {
  const all = [...(res.denied_response?.headers ?? []), ...(res.ok_response?.headers ?? [])];
  return all.find((h) => h.header.key === name)?.header.value;
}

function expectInvalid(res: CheckResponseObject, reason: string, description: string): void {
  expect(res.ok_response).toBeUndefined();
  expect(res.status).toEqual({ code: 16, message: reason });
  expect(res.denied_response?.status).toEqual({ code: 'Unauthorized' });
  expect(header(res, 'www-authenticate')).toBe(CHALLENGE_401(description));
  expect(header(res, 'content-type')).toBe('application/json');
  expect(JSON.parse(res.denied_response!.body)).toEqual({ error: 'invalid_token', reason: description });
}

function expectAllowed(res: CheckResponseObject): Record<string, string> {
  expect(res.denied_response).toBeUndefined();
  expect(res.status.code).toBe(0);
  const out: Record<string, string> = {};
  for (const h of res.ok_response!.headers) {
    expect(h.append).toEqual({ value: false });
    out[h.header.key] = h.header.value;
  }
  return out;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');

describe('authz security suite', () => {
  const jwks = new JwksServer();
  const keys: Record<string, TestKey> = {};
  let authz: Authorizer;
  let p: AuthProvider;
  const bearer = (t: string) => checkRequest({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    await jwks.start();
    for (const [alg, kid] of [['RS256', 'rs'], ['ES256', 'es'], ['EdDSA', 'ed'], ['PS256', 'ps'], ['ES384', 'es384']] as const) {
      keys[kid] = await makeKey(alg, kid);
    }
    jwks.keys = Object.values(keys).map((k) => k.jwk);
    jwks.docs.set('/evil', { keys: [] });
    p = provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: 300_000, cooldownMs: 60_000 }, maxLifetimeMs: 24 * 3600_000 });
    authz = new Authorizer();
    authz.setProviders([p]);
    await authz.ready();
  });

  afterAll(async () => {
    await authz?.close();
    await jwks.stop();
  });

  describe('allowed', () => {
    for (const kid of ['rs', 'es', 'ed', 'ps']) {
      it(`accepts a valid ${kid} token and forwards sub as x-user-id`, async () => {
        const res = await authz.check(bearer(await sign(keys[kid], { sub: `user-${kid}` })));
        expect(expectAllowed(res)).toEqual({ 'x-user-id': `user-${kid}` });
        expect(res.ok_response!.headers_to_remove).toEqual([]);
      });
    }

    it('accepts aud as an array when any one audience matches', async () => {
      const res = await authz.check(bearer(await sign(keys.rs, { aud: ['other', AUDIENCE] })));
      expectAllowed(res);
    });

    it('accepts a token that expired within the clock skew', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectAllowed(await authz.check(bearer(await sign(keys.es, { iat: now - 600, exp: now - 30 }))));
    });

    it('accepts the Bearer scheme case-insensitively', async () => {
      expectAllowed(await authz.check(checkRequest({ authorization: `bearer ${await sign(keys.rs)}` })));
    });

    it('replaces a spoofed identity header instead of appending to it', async () => {
      const token = await sign(keys.rs, { sub: 'real-user' });
      const res = await authz.check(checkRequest({ authorization: `Bearer ${token}`, 'x-user-id': 'admin' }));
      expect(expectAllowed(res)['x-user-id']).toBe('real-user');
    });
  });

  describe('denied with 401', () => {
    it('answers a request without a token with a bare challenge (RFC 6750 §3.1: no error attribute)', async () => {
      for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
        const res = await authz.check(checkRequest(headers));
        expect(res.status).toEqual({ code: 16, message: 'missing_token' });
        expect(res.denied_response!.status).toEqual({ code: 'Unauthorized' });
        expect(header(res, 'www-authenticate')).toBe('Bearer realm="banyan"');
        expect(JSON.parse(res.denied_response!.body)).toEqual({ error: 'missing_token', reason: 'no bearer token in the request' });
      }
    });

    it('rejects tokens over 8 KiB before parsing', async () => {
      const token = await sign(keys.rs, { pad: 'x'.repeat(9000) });
      expectInvalid(await authz.check(bearer(token)), 'token_too_large', 'token larger than 8192 bytes');
      // Not even a JWS: still rejected on size alone.
      expectInvalid(await authz.check(bearer('!'.repeat(9000))), 'token_too_large', 'token larger than 8192 bytes');
    });

    it('rejects alg none', async () => {
      const token = new UnsecuredJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'x' }).setExpirationTime('5m').encode();
      expectInvalid(await authz.check(bearer(token)), 'malformed', 'token is not a compact JWS');
      // With a non-empty fake signature the header itself is refused.
      expectInvalid(await authz.check(bearer(`${token}c2ln`)), 'alg_not_allowed', 'algorithm none not allowed');
    });

    it('rejects an algorithm outside the allow-list even when the key is in the JWKS', async () => {
      expectInvalid(await authz.check(bearer(await sign(keys.es384))), 'alg_not_allowed', 'algorithm ES384 not allowed');
    });

    it('rejects HS256 signed with the RSA public key (algorithm confusion)', async () => {
      const pem = await exportSPKI(createPublicKey({ key: keys.rs.jwk as never, format: 'jwk' }) as never);
      const now = Math.floor(Date.now() / 1000);
      for (const secret of [pem, JSON.stringify(keys.rs.jwk)]) {
        const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: now + 60 })
          .setProtectedHeader({ alg: 'HS256', kid: 'rs' })
          .sign(new TextEncoder().encode(secret));
        expectInvalid(await authz.check(bearer(token)), 'alg_not_allowed', 'algorithm HS256 not allowed');
      }
    });

    it('rejects unknown crit headers', async () => {
      const now = Math.floor(Date.now() / 1000);
      const payload = new TextEncoder().encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: now + 60 }));
      const token = await new CompactSign(payload)
        .setProtectedHeader({ alg: 'RS256', kid: 'rs', crit: ['urn:example:must-know'], 'urn:example:must-know': true })
        .sign(keys.rs.privateKey, { crit: { 'urn:example:must-know': true } });
      expectInvalid(await authz.check(bearer(token)), 'crit_unsupported', 'critical header extensions are not supported');
    });

    it('rejects jku, x5u, x5c and jwk headers and never fetches them', async () => {
      const before = jwks.count('/evil');
      const pub = keys.rs.jwk;
      for (const [param, value] of [
        ['jku', `${jwks.url}/evil`],
        ['x5u', `${jwks.url}/evil`],
        ['x5c', ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']],
        ['jwk', { kty: pub.kty, n: pub.n, e: pub.e }],
      ] as const) {
        const res = await authz.check(bearer(await sign(keys.rs, {}, { [param]: value })));
        expectInvalid(res, 'forbidden_header', `header parameter ${param} is not accepted`);
      }
      expect(jwks.count('/evil')).toBe(before);
    });

    it('rejects kids holding path or SQL text without refetching the JWKS', async () => {
      const before = jwks.count();
      for (const kid of ['../../../../etc/passwd', '/dev/null', "' OR '1'='1", 'k1; DROP TABLE keys; --', '<script>']) {
        const token = await sign({ ...keys.rs, kid });
        expectInvalid(await authz.check(bearer(token)), 'bad_kid', 'malformed key id');
      }
      expect(jwks.count()).toBe(before);
    });

    it('rejects expired and not-yet-valid tokens (beyond the 60 s skew)', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { iat: now - 900, exp: now - 120 }))), 'expired', 'token expired');
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { nbf: now + 600 }))), 'not_yet_valid', 'token not yet valid');
    });

    it('rejects the wrong issuer and the wrong audience', async () => {
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { iss: 'https://evil.test' }))), 'wrong_issuer', 'unexpected issuer');
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { aud: ['web', 'mobile'] }))), 'wrong_audience', 'unexpected audience');
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { aud: undefined }))), 'wrong_audience', 'unexpected audience');
    });

    it('requires exp', async () => {
      expectInvalid(await authz.check(bearer(await sign(keys.rs, { exp: undefined }))), 'missing_claim', 'token has no exp claim');
    });

    it('enforces the maximum token lifetime', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign(keys.rs, { iat: now, exp: now + 48 * 3600 });
      expectInvalid(await authz.check(bearer(token)), 'lifetime_exceeded', 'token lifetime exceeds the allowed maximum');
    });

    it('rejects malformed base64 and malformed JSON', async () => {
      const good = await sign(keys.rs);
      const [h, , s] = good.split('.');
      expectInvalid(await authz.check(bearer(`${h}.pay+load/.${s}`)), 'malformed', 'token is not a compact JWS');
      expectInvalid(await authz.check(bearer(`${b64('{"alg":"RS256"')}.${b64('{}')}.${s}`)), 'malformed', 'token header is not base64url JSON');
      expectInvalid(await authz.check(bearer(`${b64('[1]')}.${b64('{}')}.${s}`)), 'malformed', 'token header is not a JSON object');
      // Correctly signed, but the payload is not JSON: signature passes, claims parsing must not.
      const notJson = await new CompactSign(new TextEncoder().encode('{"sub": "x",')).setProtectedHeader({ alg: 'RS256', kid: 'rs' }).sign(keys.rs.privateKey);
      expectInvalid(await authz.check(bearer(notJson)), 'malformed', 'malformed token');
    });

    it('rejects ECDSA signatures with r = s = 0', async () => {
      const [h, pl] = (await sign(keys.es)).split('.');
      expectInvalid(await authz.check(bearer(`${h}.${pl}.${b64(new Uint8Array(64))}`)), 'bad_signature', 'signature verification failed');
    });

    it('rejects a tampered payload and a token signed by a key outside the JWKS', async () => {
      const [h, , s] = (await sign(keys.rs)).split('.');
      const forged = b64(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }));
      expectInvalid(await authz.check(bearer(`${h}.${forged}.${s}`)), 'bad_signature', 'signature verification failed');
      const stranger = await makeKey('RS256', 'rs');
      expectInvalid(await authz.check(bearer(await sign(stranger))), 'bad_signature', 'signature verification failed');
    });
  });

  describe('per-route requirements (403)', () => {
    const ext = (r: Parameters<typeof encodeRequirement>[0]) => ({ [CONTEXT_AUTH]: encodeRequirement(r) });
    const req = { kind: 'jwt' as const, providers: ['main'], mode: 'any' as const, scopes: [] as string[], claims: [], allowMissing: false };

    it('allows when every required scope is granted (scope string or scp array)', async () => {
      const e = ext({ ...req, scopes: ['a:read', 'b:write'] });
      expectAllowed(await authz.check(checkRequest({ authorization: `Bearer ${await sign(keys.rs, { scope: 'b:write a:read c' })}` }, e)));
      expectAllowed(await authz.check(checkRequest({ authorization: `Bearer ${await sign(keys.rs, { scp: ['a:read', 'b:write'] })}` }, e)));
    });

    it('answers 403 insufficient_scope with the required scope list', async () => {
      const e = ext({ ...req, scopes: ['a:read', 'b:write'] });
      const res = await authz.check(checkRequest({ authorization: `Bearer ${await sign(keys.rs, { scope: 'a:read' })}` }, e));
      expect(res.status).toEqual({ code: 7, message: 'insufficient_scope' });
      expect(res.denied_response!.status).toEqual({ code: 'Forbidden' });
      expect(header(res, 'www-authenticate')).toBe(
        'Bearer realm="banyan", error="insufficient_scope", error_description="missing scope b:write", scope="a:read b:write"',
      );
      expect(JSON.parse(res.denied_response!.body)).toEqual({ error: 'insufficient_scope', reason: 'missing scope b:write' });
    });

    it('checks claims against request headers and lists', async () => {
      const e = ext({ ...req, claims: [{ claim: 'tenant', op: 'eqHeader', header: 'x-tenant-id' }, { claim: 'org.tier', op: 'in', values: ['gold', 'silver'] }] });
      const token = await sign(keys.rs, { tenant: 't1', org: { tier: 'gold' } });
      expectAllowed(await authz.check(checkRequest({ authorization: `Bearer ${token}`, 'x-tenant-id': 't1' }, e)));
      for (const headers of [{ 'x-tenant-id': 't2' }, {}] as Record<string, string>[]) {
        const res = await authz.check(checkRequest({ authorization: `Bearer ${token}`, ...headers }, e));
        expect(res.status).toEqual({ code: 7, message: 'claim_mismatch' });
        expect(header(res, 'www-authenticate')).toBe(
          'Bearer realm="banyan", error="insufficient_scope", error_description="claim tenant does not satisfy the route requirement"',
        );
      }
      const bronze = await sign(keys.rs, { tenant: 't1', org: { tier: 'bronze' } });
      expect((await authz.check(checkRequest({ authorization: `Bearer ${bronze}`, 'x-tenant-id': 't1' }, e))).status.code).toBe(7);
    });

    it('lets a request without a token through on allowMissing, stripping identity headers, but still rejects a bad token', async () => {
      const e = ext({ ...req, allowMissing: true });
      const res = await authz.check(checkRequest({ 'x-user-id': 'admin' }, e));
      expect(expectAllowed(res)).toEqual({});
      expect(res.ok_response!.headers_to_remove).toEqual(['x-user-id']);
      expectInvalid(await authz.check(checkRequest({ authorization: 'Bearer a.b.c' }, e)), 'malformed', 'token header is not base64url JSON');
    });

    it('denies with 500 when a route names a provider that does not exist', async () => {
      const res = await authz.check(checkRequest({ authorization: `Bearer ${await sign(keys.rs)}` }, ext({ ...req, providers: ['ghost'] })));
      expect(res.status).toEqual({ code: 13, message: 'unknown_provider' });
      expect(res.denied_response!.status).toEqual({ code: 'InternalServerError' });
    });

    it('denies with 500 on an undecodable requirement', async () => {
      const res = await authz.check(checkRequest({ authorization: `Bearer ${await sign(keys.rs)}` }, { [CONTEXT_AUTH]: '{"mode":"some"}' }));
      expect(res.status).toEqual({ code: 13, message: 'bad_requirement' });
    });
  });

  describe('forwarded headers and token sources', () => {
    it('copies claims, adds the payload header and strips Authorization when configured', async () => {
      const rich = provider({
        ...p,
        name: 'rich',
        claimsToHeaders: [
          { claim: 'sub', header: 'x-user-id' },
          { claim: 'email', header: 'x-email' },
          { claim: 'roles', header: 'x-roles' },
        ],
        payloadHeader: 'x-jwt-payload',
        removeAuthorization: true,
      });
      const a = new Authorizer();
      a.setProviders([rich]);
      try {
        const token = await sign(keys.es, { sub: 'u9', roles: ['admin', 'dev'], email: 'bad\r\nx-injected: 1' });
        const res = await a.check(checkRequest({ authorization: `Bearer ${token}`, 'x-email': 'spoof@evil', 'x-jwt-payload': 'spoof' }));
        const headers = expectAllowed(res);
        expect(headers).toEqual({ 'x-user-id': 'u9', 'x-roles': '["admin","dev"]', 'x-jwt-payload': token.split('.')[1] });
        expect(JSON.parse(Buffer.from(headers['x-jwt-payload'], 'base64url').toString())).toMatchObject({ sub: 'u9', iss: ISSUER });
        // The CR/LF-laden email is not forwarded, and the client's copy is removed.
        expect(res.ok_response!.headers_to_remove).toEqual(['x-email', 'authorization']);
      } finally {
        await a.close();
      }
    });

    it('reads tokens from another header with a prefix, a cookie and a query parameter', async () => {
      const a = new Authorizer();
      a.setProviders([
        provider({ ...p, name: 'h', from: [{ kind: 'header', name: 'x-api-token', prefix: 'Token ' }] }),
        provider({ ...p, name: 'c', from: [{ kind: 'cookie', name: 'session' }] }),
        provider({ ...p, name: 'q', from: [{ kind: 'query', name: 'access_token' }] }),
      ]);
      try {
        const token = await sign(keys.rs, { sub: 'src' });
        const only = (name: string) => ({ [CONTEXT_AUTH]: encodeRequirement({ kind: 'jwt', providers: [name], mode: 'any', scopes: [], claims: [], allowMissing: false }) });
        expect(expectAllowed(await a.check(checkRequest({ 'x-api-token': `Token ${token}` }, only('h'))))).toEqual({ 'x-user-id': 'src' });
        expect(expectAllowed(await a.check(checkRequest({ cookie: `theme=dark; session=${token}; x=1` }, only('c'))))).toEqual({ 'x-user-id': 'src' });
        expect(expectAllowed(await a.check(checkRequest({}, only('q'), `/things?a=1&access_token=${token}`)))).toEqual({ 'x-user-id': 'src' });
        // The Authorization header is not a source for these providers.
        expect((await a.check(checkRequest({ authorization: `Bearer ${token}` }, only('q')))).status.message).toBe('missing_token');
      } finally {
        await a.close();
      }
    });

    it('mode all needs a valid token from every provider', async () => {
      const other = await makeKey('ES256', 'svc');
      jwks.keys = [...jwks.keys, other.jwk];
      const a = new Authorizer();
      a.setProviders([
        provider({ ...p, name: 'user' }),
        provider({ ...p, name: 'svc', issuer: 'https://svc.test', from: [{ kind: 'header', name: 'x-svc-token', prefix: '' }], claimsToHeaders: [{ claim: 'sub', header: 'x-svc' }] }),
      ]);
      try {
        const ext = { [CONTEXT_AUTH]: encodeRequirement({ kind: 'jwt', providers: ['user', 'svc'], mode: 'all', scopes: ['svc:call'], claims: [], allowMissing: false }) };
        const user = await sign(keys.rs, { sub: 'alice' });
        const svc = await sign(other, { iss: 'https://svc.test', sub: 'billing', scope: 'svc:call' });
        expect(expectAllowed(await a.check(checkRequest({ authorization: `Bearer ${user}`, 'x-svc-token': svc }, ext)))).toEqual({ 'x-user-id': 'alice', 'x-svc': 'billing' });
        expect((await a.check(checkRequest({ authorization: `Bearer ${user}` }, ext))).status.message).toBe('missing_token');
        const wrongSvc = await sign(other, { sub: 'billing' }); // issuer of the user provider, not svc
        expectInvalid(await a.check(checkRequest({ authorization: `Bearer ${user}`, 'x-svc-token': wrongSvc }, ext)), 'wrong_issuer', 'unexpected issuer');
      } finally {
        jwks.keys = jwks.keys.filter((k) => k.kid !== 'svc');
        await a.close();
      }
    });
  });

  describe('token cache', () => {
    it('serves a hot token from the cache and still checks requirements per request', async () => {
      const a = new Authorizer();
      a.setProviders([p]);
      try {
        const token = await sign(keys.rs, { scope: 'read' });
        expectAllowed(await a.check(bearer(token)));
        expectAllowed(await a.check(bearer(token)));
        expect(a.cacheStats).toMatchObject({ hits: 1, misses: 1, size: 1 });
        const needsWrite = { [CONTEXT_AUTH]: encodeRequirement({ kind: 'jwt', providers: ['main'], mode: 'any', scopes: ['write'], claims: [], allowMissing: false }) };
        expect((await a.check(checkRequest({ authorization: `Bearer ${token}` }, needsWrite))).status.code).toBe(7);
        expect(a.cacheStats.hits).toBe(2);
      } finally {
        await a.close();
      }
    });
  });
});
