/**
 * `banyan ratelimit --xds` follows its --xds-client-cert/--xds-client-key like the servers follow
 * theirs: over real mTLS, serve's group for the replica admits only the new identity; the replica
 * starts with the old pair (refused), a half-written file keeps it, the whole new pair is taken and
 * presented on the next connection (serve restarted on the same port), and the config arrives.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certToPem, createCa, issueCert, keyToPem, type KeyedCert } from '../../src/ca/index.js';
import { runRateLimit, type RunningRateLimit } from '../../src/ratelimit/run.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { replaceFile } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import { rlsClient } from '../ratelimit/helpers.js';

const yaml = `
listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    routes:
      - { name: all, match: { prefix: / }, to: app, ratelimit: [[{ generic_key: all }]] }
clusters:
  - { name: app, endpoints: [127.0.0.1:9] }
ratelimit:
  - domain: edge
    descriptors:
      - { key: generic_key, value: all, rate_limit: { unit: hour, requests_per_unit: 3 } }
groups:
  - name: ratelimiters
    match: { cluster: banyan-ratelimit }
    identities: [ { identity: "spiffe://test/rl-new", nodes: [ "rl-*" ] } ]
`;

const log = createLogger('test', 'silent');

describe('banyan ratelimit --xds with a rotating client certificate', () => {
  let dir: string;
  let ca: KeyedCert;
  let serve: TestBanyan | undefined;
  let replica: RunningRateLimit | undefined;
  const pem = async (c: KeyedCert) => ({ cert: Buffer.from(certToPem(c.cert)), key: Buffer.from(await keyToPem(c.privateKey)) });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-rl-rotation-'));
    ca = await createCa({ name: 'rotation CA', days: 1 });
    fs.writeFileSync(path.join(dir, 'ca.crt'), certToPem(ca.cert));
    const server = await pem(await issueCert(ca, { dns: ['localhost'], ip: ['127.0.0.1'], usage: 'server', hours: 1 }));
    fs.writeFileSync(path.join(dir, 'server.crt'), server.cert);
    fs.writeFileSync(path.join(dir, 'server.key'), server.key);
    fs.mkdirSync(path.join(dir, 'client'));
    const old = await pem(await issueCert(ca, { uri: ['spiffe://test/rl-old'], usage: 'client', hours: 1 }));
    fs.writeFileSync(path.join(dir, 'client', 'tls.crt'), old.cert);
    fs.writeFileSync(path.join(dir, 'client', 'tls.key'), old.key);
  });

  afterAll(async () => {
    await replica?.stop();
    await serve?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const startServe = (xdsPort: number) =>
    startTestBanyan(yaml, {
      watch: false,
      xdsPort,
      tls: { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key'), caFile: path.join(dir, 'ca.crt'), requireClientCert: true },
    });

  it('is refused on the old pair, keeps it through a half-written file, and presents the new pair on the next connection', async () => {
    const xdsPort = await freePort();
    serve = await startServe(xdsPort);
    replica = await runRateLimit({
      port: 0, host: '127.0.0.1', xds: `127.0.0.1:${xdsPort}`, nodeId: 'rl-1', timeoutMs: 50, failureMode: 'allow', shadow: false, responseHeaders: false, log,
      xdsTls: { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'client', 'tls.crt'), keyFile: path.join(dir, 'client', 'tls.key') },
      xdsCertRecheckMs: 100,
    });
    const refusedAs = (t: TestBanyan) => t.banyan.xds.refused().filter((r) => r.nodeId === 'rl-1').map((r) => r.identities);
    await eventually(() => expect(refusedAs(serve!)).toContainEqual(['spiffe://test/rl-old']), 15_000);

    const next = await pem(await issueCert(ca, { uri: ['spiffe://test/rl-new'], usage: 'client', hours: 1 }));
    fs.writeFileSync(path.join(dir, 'client', 'tls.crt'), next.cert.subarray(0, 120)); // half-written
    await new Promise((r) => setTimeout(r, 500));
    replaceFile(next.key, path.join(dir, 'client', 'tls.key'));
    replaceFile(next.cert, path.join(dir, 'client', 'tls.crt'));
    await new Promise((r) => setTimeout(r, 500));

    // a new connection: serve restarts on the same port
    await serve.stop();
    serve = await startServe(xdsPort);
    const rls = rlsClient(replica.port);
    try {
      await eventually(async () => {
        const r = await rls.call({ domain: 'edge', descriptors: [{ entries: [{ key: 'generic_key', value: 'all' }] }], hits_addend: 0 });
        expect(r.statuses[0]?.current_limit?.requests_per_unit).toBe(3);
      }, 20_000);
    } finally {
      rls.close();
    }
    expect(refusedAs(serve)).toEqual([]);
    expect(serve.banyan.xds.status().find((p) => p.nodeId === 'rl-1')?.group).toBe('ratelimiters');
  }, 60_000);
});
