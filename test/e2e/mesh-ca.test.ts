/**
 * Banyan's CA inside `banyan serve` (README "Banyan's CA"): a config with `ca:` makes serve create a
 * CA in its data directory on first use (kept across restarts), and hand each proxy a workload
 * certificate over SDS that works for mTLS between two proxies with nothing else installed; replicas
 * on one PostgreSQL share one CA, its key stored encrypted; without a passphrase a replica refuses a
 * `ca:` config rather than serve proxies it cannot give certificates.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import type { Resp } from '../conformance/harness.js';

const YAML = `ca: { trustDomain: shop.test }
listeners:
  - name: edge
    port: 10443
    tls:
      certificates: [{ secret: banyan:workload }]
      clientCertificate: required
      clientCa: { secret: banyan:ca }
    routes:
      - { name: all, match: { prefix: / }, to: payments }
clusters:
  - name: payments
    endpoints: [10.0.0.1:8443]
    tls: { clientCertificate: { secret: banyan:workload }, ca: { secret: banyan:ca }, sni: payments.shop.test, peerIdentities: ['spiffe://shop.test/ns/payments/sa/*'] }
`;

interface Material {
  cert: string;
  key: string;
  ca: string;
}

function materialIn(r: Resp): Material | undefined {
  const w = r.resources.find((x) => x.name === 'banyan:workload') as { tls_certificate?: { certificate_chain?: { inline_string?: string }; private_key?: { inline_string?: string } } } | undefined;
  const c = r.resources.find((x) => x.name === 'banyan:ca') as { validation_context?: { trusted_ca?: { inline_string?: string } } } | undefined;
  const cert = w?.tls_certificate?.certificate_chain?.inline_string;
  const key = w?.tls_certificate?.private_key?.inline_string;
  const ca = c?.validation_context?.trusted_ca?.inline_string;
  return cert && key && ca ? { cert, key, ca } : undefined;
}

/** Connects as a proxy and waits for its own certificate and the CA. */
async function workloadOf(xdsPort: number, id: string, cluster: string): Promise<Material> {
  const ads = new AdsRecorder(`127.0.0.1:${xdsPort}`, { id, cluster }, { [TypeUrl.Secret]: ['banyan:workload', 'banyan:ca'] });
  try {
    return await eventually(() => {
      const m = materialIn(ads.latest(TypeUrl.Secret));
      expect(m).toBeDefined();
      return m!;
    }, 10_000);
  } finally {
    ads.close();
  }
}

describe("Banyan's CA in serve, embedded", () => {
  let t: TestBanyan;

  beforeAll(async () => {
    t = await startTestBanyan(YAML, { watch: false });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('creates the CA in <data-dir>/ca (key 0600) and signs each proxy a certificate for its SPIFFE id', async () => {
    const caFile = path.join(t.dir, 'state', 'ca', 'ca.pem');
    const caPem = fs.readFileSync(caFile, 'utf8');
    expect(fs.statSync(path.join(t.dir, 'state', 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const edge = await workloadOf(t.banyan.ports.xds, 'edge-1', 'edge');
    const leaf = new X509Certificate(edge.cert);
    expect(leaf.subjectAltName).toBe('URI:spiffe://shop.test/ns/edge/sa/edge-1');
    expect(new X509Certificate(edge.ca).fingerprint256).toBe(new X509Certificate(caPem).fingerprint256);
    expect(leaf.checkIssued(new X509Certificate(caPem))).toBe(true);
    // Short-lived: a day by default.
    expect(Date.parse(leaf.validTo) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000 + 60_000);
  });

  it('two proxies authenticate each other with their workload certificates (mTLS), each seeing the other’s SPIFFE id', async () => {
    const server = await workloadOf(t.banyan.ports.xds, 'payments-1', 'payments');
    const client = await workloadOf(t.banyan.ports.xds, 'edge-2', 'edge');
    const seen: string[] = [];
    const srv = tls.createServer({ cert: server.cert, key: server.key, ca: server.ca, requestCert: true, rejectUnauthorized: true }, (s) => {
      seen.push(s.getPeerCertificate().subjectaltname ?? '');
      s.end('ok');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const port = (srv.address() as { port: number }).port;
      const peer = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: client.ca, checkServerIdentity: () => undefined }, () => {
          resolve(s.getPeerCertificate().subjectaltname ?? '');
        });
        s.on('error', reject);
        s.on('data', () => s.end());
      });
      expect(peer).toBe('URI:spiffe://shop.test/ns/payments/sa/payments-1');
      await eventually(() => expect(seen).toEqual(['URI:spiffe://shop.test/ns/edge/sa/edge-2']), 5_000);
      // A certificate from another CA is refused by the same server.
      const foreign = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: client.ca, checkServerIdentity: () => undefined });
        s.on('error', (err) => resolve(err.message));
        s.on('data', () => resolve('served'));
        s.on('close', () => resolve('closed'));
      });
      expect(foreign).not.toBe('served');
    } finally {
      srv.close();
    }
  });

  it('keeps the CA across a restart on the same data directory', async () => {
    const before = fs.readFileSync(path.join(t.dir, 'state', 'ca', 'ca.pem'), 'utf8');
    await t.banyan.stop(); // last test of the block: afterAll's second stop is a no-op
    const again = await startTestBanyan(YAML, { watch: false, dataDir: path.join(t.dir, 'state') });
    try {
      const m = await workloadOf(again.banyan.ports.xds, 'edge-3', 'edge');
      expect(m.ca).toBe(before);
    } finally {
      await again.stop();
    }
  });
});

describe("Banyan's CA shared by replicas through PostgreSQL", () => {
  let pg: PostgresServer;
  let secretDir: string;

  beforeAll(async () => {
    pg = await startPostgres();
    secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-ca-pass-'));
    fs.writeFileSync(path.join(secretDir, 'pass'), 'correct horse battery staple\n');
  }, 60_000);

  afterAll(async () => {
    await pg?.destroy();
    if (secretDir) fs.rmSync(secretDir, { recursive: true, force: true });
  });

  it('two replicas starting together serve certificates from one CA, stored with its key encrypted', async () => {
    const url = await pg.createDatabase('mesh_ca');
    const ca = { passphraseFile: path.join(secretDir, 'pass') };
    const [a, b] = await Promise.all([startTestBanyan(YAML, { watch: false, postgresUrl: url, ca }), startTestBanyan(YAML, { watch: false, postgresUrl: url, ca })]);
    try {
      const [ma, mb] = await Promise.all([workloadOf(a.banyan.ports.xds, 'edge-1', 'edge'), workloadOf(b.banyan.ports.xds, 'edge-2', 'edge')]);
      expect(ma.ca).toBe(mb.ca);
      expect(new X509Certificate(mb.cert).checkIssued(new X509Certificate(ma.ca))).toBe(true);
      const stored = await a.banyan.store.getCa();
      expect(stored?.certPem).toBe(ma.ca);
      expect(stored?.keyPem).toContain('BEGIN ENCRYPTED PRIVATE KEY');
      // Nothing was written to either data directory: PostgreSQL holds it.
      expect(fs.existsSync(path.join(a.dir, 'state', 'ca'))).toBe(false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('without a passphrase a replica refuses a ca: config, naming the key that would be stored in the clear', async () => {
    const url = await pg.createDatabase('mesh_ca_nopass');
    await expect(startTestBanyan(YAML, { watch: false, postgresUrl: url })).rejects.toThrow(/cannot run Banyan's CA: .*BANYAN_CA_KEY_PASSPHRASE or --ca-passphrase-file/);
  });
});
