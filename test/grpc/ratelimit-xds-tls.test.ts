/**
 * `banyan ratelimit --xds` over TLS: the replica's xDS client verifies serve's certificate with
 * --xds-ca and, when serve requires client certificates (--tls-client-ca), presents
 * --xds-client-cert/--xds-client-key. Without them the stream fails and no config is applied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimitDomain } from '../../src/config/model.js';
import { runRateLimit, type RunningRateLimit } from '../../src/ratelimit/run.js';
import { RateLimitXdsClient, type XdsClientTls } from '../../src/ratelimit/xds-client.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { issueCert, makeCa, type TestCa, type TestCert } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
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
`;

const log = createLogger('test', 'silent');
let certDir: string;
let ca: TestCa;
let server: TestCert;
let client: TestCert;

beforeAll(() => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-rl-xds-tls-'));
  ca = makeCa(certDir, 'ca');
  server = issueCert(ca, certDir, 'server', { kind: 'server' });
  client = issueCert(ca, certDir, 'client', { kind: 'client' });
});

afterAll(() => fs.rmSync(certDir, { recursive: true, force: true }));

/** An xDS client alone, recording what it applies and the stream failures it logs. */
function probe(address: string, tls: XdsClientTls | undefined) {
  const applied: RateLimitDomain[][] = [];
  const failures: string[] = [];
  const recorder = {
    warn: (fields: { err?: string }) => failures.push(fields.err ?? ''),
    error: () => {},
    info: () => {},
    debug: () => {},
  } as unknown as Logger;
  const c = new RateLimitXdsClient({ address, nodeId: 'rl-probe', log: recorder, maxBackoffMs: 200, onConfig: (d) => void applied.push(d), ...(tls ? { tls } : {}) });
  c.start();
  return { applied, failures, stop: () => c.stop() };
}

async function withReplica(t: TestBanyan, xdsTls: XdsClientTls, fn: (limit: () => Promise<number | undefined>) => Promise<void>): Promise<void> {
  let replica: RunningRateLimit | undefined;
  let rls: ReturnType<typeof rlsClient> | undefined;
  try {
    replica = await runRateLimit({
      port: 0, host: '127.0.0.1', xds: `127.0.0.1:${t.banyan.ports.xds}`, xdsTls, nodeId: 'rl-replica-tls',
      timeoutMs: 50, failureMode: 'allow', shadow: false, responseHeaders: false, log,
    });
    rls = rlsClient(replica.port);
    const r = rls;
    await fn(async () => (await r.call({ domain: 'edge', descriptors: [{ entries: [{ key: 'generic_key', value: 'all' }] }], hits_addend: 0 })).statuses[0]?.current_limit?.requests_per_unit);
  } finally {
    rls?.close();
    await replica?.stop();
  }
}

describe('rate limit replica over xDS with mTLS', () => {
  let t: TestBanyan;
  beforeAll(async () => {
    t = await startTestBanyan(yaml, { watch: false, tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, requireClientCert: true } });
  });
  afterAll(async () => t?.stop());

  it('with --xds-ca and a client certificate: receives the config and ACKs it', async () => {
    await withReplica(t, { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile }, async (limit) => {
      await eventually(async () => expect(await limit()).toBe(3), 10_000);
      const proxy = t.banyan.xds.status().find((p) => p.nodeId === 'rl-replica-tls');
      expect(proxy?.types.find((x) => x.typeUrl.endsWith('RateLimitConfig'))?.state).toBe('SYNCED');
    });
  });

  it('without a client certificate: the stream fails and nothing is applied', async () => {
    const p = probe(`127.0.0.1:${t.banyan.ports.xds}`, { caFile: ca.certFile });
    try {
      await eventually(() => expect(p.failures.length).toBeGreaterThanOrEqual(2), 10_000);
      expect(p.applied).toEqual([]);
      expect(t.banyan.xds.status().find((x) => x.nodeId === 'rl-probe')).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('in plaintext: the stream fails and nothing is applied', async () => {
    const p = probe(`127.0.0.1:${t.banyan.ports.xds}`, undefined);
    try {
      await eventually(() => expect(p.failures.length).toBeGreaterThanOrEqual(2), 10_000);
      expect(p.applied).toEqual([]);
    } finally {
      p.stop();
    }
  });
});

describe('rate limit replica over xDS with TLS (no client certificates)', () => {
  let t: TestBanyan;
  beforeAll(async () => {
    t = await startTestBanyan(yaml, { watch: false, tls: { certFile: server.certFile, keyFile: server.keyFile, requireClientCert: false } });
  });
  afterAll(async () => t?.stop());

  it('with --xds-ca only: receives the config', async () => {
    await withReplica(t, { caFile: ca.certFile }, async (limit) => {
      await eventually(async () => expect(await limit()).toBe(3), 10_000);
    });
  });

  it('without the CA (system roots): the certificate is not trusted and nothing is applied', async () => {
    const p = probe(`127.0.0.1:${t.banyan.ports.xds}`, {});
    try {
      await eventually(() => expect(p.failures.length).toBeGreaterThanOrEqual(2), 10_000);
      expect(p.applied).toEqual([]);
    } finally {
      p.stop();
    }
  });
});
