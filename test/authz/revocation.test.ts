/**
 * Token revocation across replicas (issue 11 item 8): two `banyan serve` replicas on one real
 * PostgreSQL, each running the authz service on a JWKS provider. A revocation made through either
 * replica's admin API is denied by both within 1 s — the acceptance bound, measured — including
 * for a token each replica has already verified and cached.
 */
import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runAuthz } from '../../src/authz/run.js';
import { main } from '../../src/cli/main.js';
import { authorizationServiceDefinition } from '../../src/proto/grpc.js';
import { createLogger } from '../../src/telemetry/logger.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { startHarness } from '../admin/harness.js';
import { startTestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { adminCall, PostgresReplicaPair, settleInOrder, throwFirstRejection } from '../support/rollout-e2e.js';
import { AUDIENCE, checkRequest, ISSUER, JwksServer, makeKey, sign, type TestKey } from './helpers.js';

const TOKEN = 'revocation-test-admin-token';
/** The acceptance criterion: every replica denies a revoked token within this long of the revoke. */
const DENY_WITHIN_MS = 1000;

const yaml = (jwksUrl: string) => `listeners:
  - name: edge
    port: 10000
    authz: { failureMode: deny }
    hosts:
      - domains: ["*"]
        routes:
          - name: rest
            match: { prefix: / }
            to: app
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
auth:
  providers:
    - name: main
      issuer: ${ISSUER}
      audiences: [${AUDIENCE}]
      jwks: { uri: ${jwksUrl} }
      claimsToHeaders: { sub: x-user-id }
`;

interface CheckAnswer {
  status?: { code?: number; message?: string };
  denied_response?: { headers?: { header?: { key?: string; value?: string } }[] };
}

describe('token revocation, two replicas on one PostgreSQL', () => {
  const pair = new PostgresReplicaPair();
  const jwks = new JwksServer();
  const clients: (grpc.Client & Record<string, Function>)[] = [];
  let replicas: RunningBanyan[] = [];
  let key: TestKey;

  beforeAll(async () => {
    await jwks.start();
    key = await makeKey('ES256', 'k1');
    jwks.keys = [key.jwk];
    replicas = await pair.start({ database: 'revocation', tmpPrefix: 'banyan-revocation-', yaml: yaml(`${jwks.url}/jwks`), serve: { authzPort: 0, adminToken: TOKEN, fleetIntervalMs: 200 } });
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    for (const r of replicas) clients.push(new Client(`127.0.0.1:${r.ports.authz}`, grpc.credentials.createInsecure()) as never);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    throwFirstRejection(await settleInOrder([...pair.stopSteps(), () => jwks.stop()]));
  });

  const check = (i: number, token: string) =>
    new Promise<CheckAnswer>((resolve, reject) =>
      clients[i].Check(checkRequest({ authorization: `Bearer ${token}` }), (err: Error | null, res: CheckAnswer) => (err ? reject(err) : resolve(res))),
    );
  const both = [0, 1];

  async function expectAllowed(i: number, token: string): Promise<void> {
    const res = await check(i, token);
    expect(res.status?.code ?? 0, `replica ${i} allows`).toBe(0);
  }

  async function expectRevoked(i: number, token: string): Promise<void> {
    const res = await check(i, token);
    expect(res.status, `replica ${i} denies`).toMatchObject({ code: 16, message: 'revoked' });
    const challenge = res.denied_response?.headers?.find((h) => h.header?.key === 'www-authenticate')?.header?.value;
    expect(challenge).toBe('Bearer realm="banyan", error="invalid_token", error_description="token revoked"');
  }

  async function revoke(i: number, body: Record<string, unknown>): Promise<{ createdAt: number; expiresAt: number }> {
    const res = await adminCall(replicas[i].ports.admin, TOKEN, 'POST', '/api/v1/revocations', { author: 'test', reason: 'test', ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.revocation;
  }

  /** Milliseconds from `since` until replica `i` denies `token`; fails if that takes longer than DENY_WITHIN_MS. */
  async function timeToDeny(i: number, token: string, since: number): Promise<number> {
    await eventually(() => expectRevoked(i, token), DENY_WITHIN_MS - (Date.now() - since), 5);
    return Date.now() - since;
  }

  const revokedCount = async (r: RunningBanyan, kind: string) =>
    (await r.registry.getSingleMetric('banyan_authz_revoked_denials_total')!.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;

  it('a revoked jti is denied by both replicas within 1 s, including when the token was cached', async () => {
    const token = await sign(key, { jti: 'jti-cached', sub: 'user-1' });
    // both replicas serve the provider (replica-b follows the store) and verify, then cache, the token
    await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))));
    for (const i of both) await expectAllowed(i, token);
    const hitsBefore = replicas.map((r) => r.authz!.authorizer.cacheStats.hits);
    for (const r of replicas) expect(r.authz!.authorizer.cacheStats.hits).toBeGreaterThan(0);

    const started = Date.now();
    const revocation = await revoke(0, { kind: 'jti', value: 'jti-cached' });
    const [onA, onB] = await Promise.all(both.map((i) => timeToDeny(i, token, started)));
    console.log(`time to deny a revoked jti (from the POST): replica-a ${onA} ms, replica-b ${onB} ms`);
    expect(onA).toBeLessThanOrEqual(DENY_WITHIN_MS);
    expect(onB).toBeLessThanOrEqual(DENY_WITHIN_MS);
    // the denials came from the cache: the token was not verified again, its revocation was checked after the hit
    replicas.forEach((r, i) => expect(r.authz!.authorizer.cacheStats.hits).toBeGreaterThan(hitsBefore[i]));
    for (const r of replicas) expect(await revokedCount(r, 'jti')).toBeGreaterThan(0);
    // the default lifetime, counted from the request (createdAt is stamped by the store a moment later)
    expect(revocation.expiresAt).toBeGreaterThanOrEqual(started + 24 * 3_600_000);
    expect(revocation.expiresAt).toBeLessThanOrEqual(revocation.createdAt + 24 * 3_600_000);

    // listed on both replicas, and lifting it through replica-b lets the token through on both again
    for (const r of replicas) {
      const listed = await adminCall(r.ports.admin, TOKEN, 'GET', '/api/v1/revocations');
      expect(listed.body.revocations).toContainEqual(expect.objectContaining({ kind: 'jti', value: 'jti-cached', actor: expect.stringContaining('test'), reason: 'test' }));
    }
    expect((await adminCall(replicas[1].ports.admin, TOKEN, 'DELETE', '/api/v1/revocations/jti/jti-cached', { author: 'test' })).status).toBe(200);
    await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))), DENY_WITHIN_MS);
    expect((await adminCall(replicas[1].ports.admin, TOKEN, 'DELETE', '/api/v1/revocations/jti/jti-cached', { author: 'test' })).status).toBe(404);
  });

  it('a sub revocation denies the tokens issued before it and lets a later login through', async () => {
    const now = Math.floor(Date.now() / 1000);
    const older = await sign(key, { sub: 'user-2', jti: 'old-1', iat: now - 30 });
    const other = await sign(key, { sub: 'user-3', jti: 'other-1', iat: now - 30 });
    await eventually(() => Promise.all(both.map((i) => expectAllowed(i, older))));
    const started = Date.now();
    const r = await revoke(1, { kind: 'sub', value: 'user-2', expires: '2h' });
    expect(r.expiresAt).toBeGreaterThanOrEqual(started + 2 * 3_600_000);
    expect(r.expiresAt).toBeLessThanOrEqual(r.createdAt + 2 * 3_600_000);
    await Promise.all(both.map((i) => timeToDeny(i, older, started)));
    // a token issued after the revocation (iat > createdAt) passes on both; another subject never stopped
    const newer = await sign(key, { sub: 'user-2', jti: 'new-1', iat: Math.floor(r.createdAt / 1000) + 1 });
    for (const i of both) {
      await expectAllowed(i, newer);
      await expectAllowed(i, other);
      await expectRevoked(i, older);
    }
    for (const b of replicas) expect(await revokedCount(b, 'sub')).toBeGreaterThan(0);
  });

  it('a sid revocation denies every token of the session, whenever issued', async () => {
    const started = Date.now();
    const r = await revoke(0, { kind: 'sid', value: 'session-7' });
    const later = await sign(key, { sub: 'user-4', sid: 'session-7', iat: Math.floor(r.createdAt / 1000) + 1 });
    const otherSession = await sign(key, { sub: 'user-4', sid: 'session-8' });
    await Promise.all(both.map((i) => timeToDeny(i, later, started)));
    for (const i of both) await expectAllowed(i, otherSession);
  });

  it('a revocation given the token lasts until its exp; an expired one stops denying and is pruned', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const long = await sign(key, { jti: 'from-token', exp: nowS + 300 });
    const byToken = await revoke(0, { kind: 'jti', token: long });
    expect(byToken).toMatchObject({ kind: 'jti', value: 'from-token', expiresAt: (nowS + 300) * 1000 + 60_000 });

    const token = await sign(key, { jti: 'short-lived' });
    await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))));
    const started = Date.now();
    const short = await revoke(1, { kind: 'jti', value: 'short-lived', expiresAt: Date.now() + 1500 });
    await Promise.all(both.map((i) => timeToDeny(i, token, started)));
    // at its expiresAt the revocation stops denying, on both replicas, with no further write
    await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))), 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(short.expiresAt);
    const listed = await adminCall(replicas[0].ports.admin, TOKEN, 'GET', '/api/v1/revocations');
    expect(listed.body.revocations.map((x: { value: string }) => x.value)).not.toContain('short-lived');
    // the next write prunes it from the store
    expect((await replicas[0].store.listRevocations(0)).map((x) => x.value)).toContain('short-lived');
    await revoke(0, { kind: 'jti', value: 'unrelated' });
    expect((await replicas[0].store.listRevocations(0)).map((x) => x.value)).not.toContain('short-lived');
  });

  it('a standalone `banyan authz --postgres` denies what the replicas revoke, within 1 s', async () => {
    const url = `postgres://postgres@127.0.0.1:${pair.pg!.port}/revocation`;
    // revoked before the service starts: loaded before its port opens, so it is denied without waiting for any change
    await revoke(0, { kind: 'jti', value: 'before-start' });
    const early = await sign(key, { jti: 'before-start' });
    const standalone = await runAuthz({ port: 0, host: '127.0.0.1', config: path.join(pair.dir!, 'routes.yaml'), watch: false, postgresUrl: url, logger: createLogger('authz', 'silent') });
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    const client = new Client(`127.0.0.1:${standalone.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    try {
      clients.push(client);
      const i = clients.length - 1;
      const token = await sign(key, { jti: 'standalone-1' });
      await eventually(() => expectAllowed(i, token));
      await expectRevoked(i, early);
      await expectAllowed(i, token);
      const started = Date.now();
      await revoke(1, { kind: 'jti', value: 'standalone-1' });
      const ms = await timeToDeny(i, token, started);
      console.log(`time to deny a revoked jti on a standalone authz service: ${ms} ms`);
    } finally {
      clients.pop();
      client.close();
      await standalone.stop();
    }
  });

  it('banyan authz revoke / revocations / revoke --unrevoke go through the admin API', async () => {
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
    const env = { BANYAN_SERVER: `127.0.0.1:${replicas[0].ports.admin}`, BANYAN_TOKEN: TOKEN };
    const saved = { server: process.env.BANYAN_SERVER, token: process.env.BANYAN_TOKEN };
    Object.assign(process.env, env);
    const cli = async (...args: string[]) => {
      out.length = 0;
      await main(['node', 'banyan', 'authz', ...args]);
      return out.join('');
    };
    try {
      const token = await sign(key, { sub: 'cli-user', jti: 'cli-1' });
      await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))));
      const started = Date.now();
      expect(await cli('revoke', '--jti', 'cli-1', '--reason', 'from the cli', '--expires', '1h', '--author', 'ops')).toMatch(/^jti cli-1: revoked until \d{4}-\d\d-\d\dT/);
      await Promise.all(both.map((i) => timeToDeny(i, token, started)));
      const listed = JSON.parse(await cli('revocations', '-o', 'json')).revocations;
      expect(listed).toContainEqual(expect.objectContaining({ kind: 'jti', value: 'cli-1', reason: 'from the cli', actor: expect.stringContaining('ops') }));
      expect(await cli('revocations')).toMatch(/KIND\s+VALUE[\s\S]*jti\s+cli-1/);
      const viaToken = await sign(key, { jti: 'cli-2', exp: Math.floor(Date.now() / 1000) + 120 });
      expect(JSON.parse(await cli('revoke', '--from-token', viaToken, '-o', 'json')).revocation).toMatchObject({ kind: 'jti', value: 'cli-2' });
      expect(await cli('revoke', '--jti', 'cli-1', '--unrevoke')).toBe('jti cli-1: revocation lifted\n');
      await eventually(() => Promise.all(both.map((i) => expectAllowed(i, token))), DENY_WITHIN_MS);
      await expect(cli('revoke', '--jti', 'a', '--sub', 'b')).rejects.toMatchObject({ exitCode: 2 });
    } finally {
      write.mockRestore();
      for (const [k, v] of [['BANYAN_SERVER', saved.server], ['BANYAN_TOKEN', saved.token]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('refuses bad revocations with a 400 and changes without the admin token with a 401', async () => {
    const bad = [
      { kind: 'email', value: 'x' },
      { kind: 'jti' },
      { kind: 'jti', value: 'x', expiresAt: Date.now() - 1000 },
      { kind: 'jti', value: 'x', expires: 'soon' },
      { kind: 'sid', token: 'not-a-jwt' },
    ];
    for (const body of bad) expect((await adminCall(replicas[0].ports.admin, TOKEN, 'POST', '/api/v1/revocations', { author: 't', ...body })).status, JSON.stringify(body)).toBe(400);
    expect((await adminCall(replicas[0].ports.admin, 'wrong', 'POST', '/api/v1/revocations', { author: 't', kind: 'jti', value: 'x' })).status).toBe(401);
    expect((await adminCall(replicas[0].ports.admin, TOKEN, 'DELETE', '/api/v1/revocations/email/x', { author: 't' })).status).toBe(400);
  });
});

describe('token revocation on the embedded store (one serve)', () => {
  it('denies a revoked, cached jti within 1 s and keeps the revocation across a restart', async () => {
    const jwks = await new JwksServer().start();
    const key = await makeKey('RS256', 'k1');
    jwks.keys = [key.jwk];
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    let t = await startTestBanyan(yaml(`${jwks.url}/jwks`), { authzPort: 0, adminToken: TOKEN });
    const dir = t.dir;
    let client: (grpc.Client & Record<string, Function>) | undefined;
    const check = (token: string) =>
      new Promise<CheckAnswer>((resolve, reject) => client!.Check(checkRequest({ authorization: `Bearer ${token}` }), (err: Error | null, res: CheckAnswer) => (err ? reject(err) : resolve(res))));
    try {
      client = new Client(`127.0.0.1:${t.banyan.ports.authz}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
      const token = await sign(key, { jti: 'embedded-1' });
      await eventually(async () => expect((await check(token)).status?.code ?? 0).toBe(0));
      const started = Date.now();
      const res = await adminCall(t.banyan.ports.admin, TOKEN, 'POST', '/api/v1/revocations', { kind: 'jti', value: 'embedded-1', author: 'test' });
      expect(res.status).toBe(200);
      await eventually(async () => expect((await check(token)).status).toMatchObject({ code: 16, message: 'revoked' }), DENY_WITHIN_MS - (Date.now() - started), 5);
      // a restart on the same data directory: denied from the first answer on
      client.close();
      await t.banyan.stop();
      const restarted = await startTestBanyan(yaml(`${jwks.url}/jwks`), { authzPort: 0, adminToken: TOKEN, dataDir: `${dir}/state` });
      t = { ...restarted, stop: async () => (await restarted.stop(), fs.rmSync(dir, { recursive: true, force: true })) };
      client = new Client(`127.0.0.1:${t.banyan.ports.authz}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
      const other = await sign(key, { jti: 'embedded-2' });
      await eventually(async () => expect((await check(other)).status?.code ?? 0).toBe(0));
      expect((await check(token)).status).toMatchObject({ code: 16, message: 'revoked' });
    } finally {
      client?.close();
      await t.stop();
      await jwks.stop();
    }
  });
});

describe('revocation endpoints and roles', () => {
  it('revoking and lifting need the operate role; listing needs a read token; the audit names the token', async () => {
    const tokens = [
      { name: 'dashboard', role: 'read' as const, token: 'read-token-0123456789' },
      { name: 'oncall', role: 'operate' as const, token: 'operate-token-0123456789' },
    ];
    const h = await startHarness(undefined, { tokens });
    try {
      const body = { kind: 'sub', value: 'user-9', reason: 'offboarded', author: 'alice' };
      expect((await h.call('POST', '/api/v1/revocations', body, tokens[0].token)).status).toBe(403);
      expect((await h.call('GET', '/api/v1/revocations', undefined, '')).status).toBe(401);
      expect((await h.store.listRevocations(Date.now()))).toEqual([]);
      const made = await h.call('POST', '/api/v1/revocations', body, tokens[1].token);
      expect(made.status).toBe(200);
      expect(made.body.revocation).toMatchObject({ kind: 'sub', value: 'user-9', actor: 'oncall (as alice)' });
      const listed = await h.call('GET', '/api/v1/revocations', undefined, tokens[0].token);
      expect(listed.body.revocations.map((r: { value: string }) => r.value)).toEqual(['user-9']);
      expect((await h.call('DELETE', '/api/v1/revocations/sub/user-9', { author: 'alice' }, tokens[0].token)).status).toBe(403);
      expect((await h.call('DELETE', '/api/v1/revocations/sub/user-9', { author: 'alice' }, tokens[1].token)).status).toBe(200);
      expect((await h.store.listAudit()).filter((e) => e.action.startsWith('token.')).map((e) => `${e.action} ${e.target} ${e.actor}`)).toEqual([
        'token.unrevoke sub:user-9 oncall (as alice)',
        'token.revoke sub:user-9 oncall (as alice)',
      ]);
    } finally {
      await h.stop();
    }
  });
});
