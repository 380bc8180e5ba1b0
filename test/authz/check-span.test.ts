import type { Span } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/authz/authorizer.js';
import { checkRequest, JwksServer, makeKey, provider, sign, type TestKey } from './helpers.js';

/** A span that records what the authorizer sets on it. */
function recordingSpan(): { span: Span; attributes: Record<string, unknown> } {
  const attributes: Record<string, unknown> = {};
  const span = { isRecording: () => true, setAttributes: (a: Record<string, unknown>) => (Object.assign(attributes, a), span) } as unknown as Span;
  return { span, attributes };
}

describe('Check span attributes', () => {
  const jwks = new JwksServer();
  let key: TestKey;
  let authz: Authorizer;

  beforeAll(async () => {
    await jwks.start();
    key = await makeKey('ES256', 'es');
    jwks.keys = [key.jwk];
    authz = new Authorizer();
    authz.setProviders([provider({ jwks: { kind: 'uri', uri: `${jwks.url}/jwks`, cacheMs: 300_000, cooldownMs: 60_000 } })]);
    await authz.ready();
  });
  afterAll(async () => {
    await authz?.close();
    await jwks.stop();
  });

  it('an allowed check: result, 200, reason, route and provider, never the token', async () => {
    const token = await sign(key);
    const { span, attributes } = recordingSpan();
    await authz.check(checkRequest({ authorization: `Bearer ${token}` }, { 'banyan.route': 'api/things' }), span);
    expect(attributes).toEqual({ 'banyan.authz.result': 'allowed', 'banyan.authz.reason': 'ok', 'http.response.status_code': 200, 'banyan.route': 'api/things', 'banyan.authz.provider': 'main' });
    expect(JSON.stringify(attributes)).not.toContain(token.split('.')[1]);
  });

  it('a denied check: 401 and the reason code', async () => {
    const { span, attributes } = recordingSpan();
    await authz.check(checkRequest({}), span);
    expect(attributes).toMatchObject({ 'banyan.authz.result': 'denied', 'banyan.authz.reason': 'missing_token', 'http.response.status_code': 401 });
  });

  it('an internal failure is an error with 500', async () => {
    const { span, attributes } = recordingSpan();
    await authz.check(checkRequest({ authorization: 'Bearer x' }, { 'banyan.auth': '%%%not-a-requirement' }), span);
    expect(attributes).toMatchObject({ 'banyan.authz.result': 'error', 'banyan.authz.reason': 'bad_requirement', 'http.response.status_code': 500 });
  });
});
