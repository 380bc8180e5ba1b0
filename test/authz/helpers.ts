import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { AuthProvider } from '../../src/config/model.js';
import type { CheckRequestObject } from '../../src/authz/request.js';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'api';

export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function makeKey(alg: string, kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

/** A signed JWT: iss/aud/sub/iat/exp filled in unless overridden (undefined removes a claim). */
export async function sign(key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now, exp: now + 600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

export function provider(overrides: Partial<AuthProvider> = {}): AuthProvider {
  return {
    name: 'main',
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { kind: 'uri', uri: 'http://127.0.0.1:1/jwks', cacheMs: 300_000, cooldownMs: 60_000 },
    algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'],
    clockSkewMs: 60_000,
    requireExp: true,
    from: [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }],
    claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }],
    removeAuthorization: false,
    pos: { file: 'test.yaml', line: 1, col: 1 },
    ...overrides,
  };
}

export function checkRequest(headers: Record<string, string>, ext: Record<string, string> = {}, path = '/api/things'): CheckRequestObject {
  return { attributes: { context_extensions: ext, request: { http: { headers: { ':path': path, ...headers }, path } } } };
}

/**
 * A real JWKS endpoint on a free loopback port. `keys` is served as is; `down` makes it answer 503;
 * every request path is counted so tests can assert how often the issuer was asked.
 */
export class JwksServer {
  keys: JWK[] = [];
  down = false;
  readonly hits = new Map<string, number>();
  private server = http.createServer((req, res) => this.handle(req, res));
  port = 0;
  /** Extra documents by path (e.g. the OIDC discovery document). */
  readonly docs = new Map<string, unknown>();

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  count(path = '/jwks'): number {
    return this.hits.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url ?? '/';
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    if (this.down) {
      res.writeHead(503).end('down');
      return;
    }
    const body = path === '/jwks' ? { keys: this.keys } : this.docs.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
