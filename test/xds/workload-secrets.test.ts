/**
 * Banyan's CA over SDS (README "Banyan's CA"): a proxy asking for `banyan:workload` receives its own
 * certificate, for its own SPIFFE id, signed by the CA that `banyan:ca` carries; the certificate is
 * replaced on the same stream before it expires; a cluster naming the secret never reaches the proxy
 * before the secret does; two proxies never receive each other's key.
 */
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, type KeyedCert } from '../../src/ca/index.js';
import { Admission } from '../../src/admission/index.js';
import { loadConfigFromString } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { peerHost, workloadIdentity, WorkloadSecrets } from '../../src/server/workload-secrets.js';
import { PersonalRefusal, type PeerCall } from '../../src/xds/index.js';
import { DeltaClient, SotwClient, startHarness, type Harness, type Resp } from '../conformance/harness.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { eventually } from '../support/eventually.js';

const YAML = `ca: { trustDomain: mesh.test, workloadTtl: 1h }
listeners:
  - name: edge
    port: 10443
    tls:
      certificates: [{ secret: banyan:workload }]
      clientCertificate: required
      clientCa: { secret: banyan:ca }
    routes:
      - { name: all, match: { prefix: / }, to: app }
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
    tls: { clientCertificate: { secret: banyan:workload }, ca: { secret: banyan:ca }, sni: app.mesh.test, peerIdentities: ['spiffe://mesh.test/ns/app/sa/*'] }
`;

/** How long a workload certificate lives in this test: rotated at half of it. */
const TTL_MS = 3_000;
const WORKLOAD = 'banyan:workload';
const TRUST = 'banyan:ca';

interface SecretJson {
  name: string;
  tls_certificate?: { certificate_chain?: { inline_string?: string }; private_key?: { inline_string?: string } };
  validation_context?: { trusted_ca?: { inline_string?: string } };
}
const secretIn = (r: Resp, name: string) => r.resources.find((x) => x.name === name) as SecretJson | undefined;
const leafOf = (r: Resp) => new X509Certificate(secretIn(r, WORKLOAD)!.tls_certificate!.certificate_chain!.inline_string!);

describe("Banyan's CA serves each proxy its own workload certificate over SDS", () => {
  let h: Harness;
  let ca: KeyedCert;
  let config: Config;
  let secrets: WorkloadSecrets;
  let caLoads = 0;

  beforeAll(async () => {
    const loaded = loadConfigFromString(YAML, 'mesh.yaml', { readFile: () => '' });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // The schema keeps workloadTtl ≥ 5m; the test shortens it in the model to see rotations.
    config = { ...loaded.config!, ca: { ...loaded.config!.ca!, workloadTtlMs: TTL_MS } };
    ca = await createCa({ name: 'test mesh CA' });
    secrets = new WorkloadSecrets({
      ca: async () => {
        caLoads++;
        return ca;
      },
      meshCa: () => config.ca,
      clientCertsVerified: false,
      allowUnauthenticated: false,
      log: pino({ level: 'silent' }),
    });
    h = await startHarness({ personal: secrets });
    const admitted = new Admission().admit(config, { file: 'mesh.yaml', line: 1, col: 1 });
    expect(admitted.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    h.cache.setSnapshot(admitted.snapshot!, admitted.wire);
  });

  afterAll(async () => {
    secrets?.close();
    await h?.stop();
  });

  it('sends the proxy a certificate for its own SPIFFE id, signed by the CA it is told to trust, before the cluster naming it', async () => {
    // Secrets asked for first, as an Envoy does once it holds a cluster naming them (it reconnects so).
    const ads = new AdsRecorder(h.address, { id: 'edge-1', cluster: 'edge' }, { [TypeUrl.Secret]: [WORKLOAD, TRUST], [TypeUrl.Cluster]: [] });
    try {
      const first = await eventually(() => {
        const r = ads.latest(TypeUrl.Secret);
        expect(secretIn(r, WORKLOAD)?.tls_certificate?.certificate_chain?.inline_string).toBeTruthy();
        return r;
      }, 5_000);
      const leaf = leafOf(first);
      expect(leaf.subjectAltName).toBe('URI:spiffe://mesh.test/ns/edge/sa/edge-1');
      expect(leaf.checkIssued(new X509Certificate(secretIn(first, TRUST)!.validation_context!.trusted_ca!.inline_string!))).toBe(true);
      expect(leaf.verify(new X509Certificate(Buffer.from(ca.cert.rawData)).publicKey)).toBe(true);
      // Its key is the certificate's.
      expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(secretIn(first, WORKLOAD)!.tls_certificate!.private_key!.inline_string!))).toBe(true);
      // Every response that named the workload secret carried it whole: no placeholder ever went out.
      for (const r of ads.pushes(TypeUrl.Secret)) expect(secretIn(r, WORKLOAD)?.tls_certificate?.private_key?.inline_string).toBeTruthy();
      const secretAt = ads.received.findIndex((r) => r.type_url === TypeUrl.Secret);
      const clusterAt = ads.received.findIndex((r) => r.type_url === TypeUrl.Cluster && r.names.includes('app'));
      expect(clusterAt).toBeGreaterThan(secretAt);
    } finally {
      ads.close();
    }
  });

  it('replaces the certificate on the same stream before it expires, and again, each a new Secret version', async () => {
    const ads = new AdsRecorder(h.address, { id: 'edge-2', cluster: 'edge' }, { [TypeUrl.Secret]: [WORKLOAD, TRUST] });
    try {
      const pushes = await eventually(() => {
        const got = ads.pushes(TypeUrl.Secret).filter((r) => secretIn(r, WORKLOAD));
        expect(got.length).toBeGreaterThanOrEqual(3);
        return got;
      }, 10_000);
      const leaves = pushes.map(leafOf);
      expect(new Set(leaves.map((l) => l.serialNumber)).size).toBe(leaves.length);
      expect(new Set(pushes.map((r) => r.version_info)).size).toBe(pushes.length);
      for (let i = 1; i < pushes.length; i++) {
        const arrived = ads.arrivedAt[ads.received.indexOf(pushes[i])];
        // The next one arrives while the previous is still valid, after half of its life.
        expect(arrived).toBeLessThan(Date.parse(leaves[i - 1].validTo));
        expect(leaves[i].subjectAltName).toBe('URI:spiffe://mesh.test/ns/edge/sa/edge-2');
      }
      // One CA for all of it, loaded once.
      expect(caLoads).toBe(1);
    } finally {
      ads.close();
    }
  });

  it('two proxies get different keys; a delta stream gets its own certificate too', async () => {
    const a = SotwClient.ads(h.address, { id: 'pay-1', cluster: 'pay' });
    const d = DeltaClient.ads(h.address, { id: 'pay-2', cluster: 'pay' });
    try {
      a.request(TypeUrl.Secret, [WORKLOAD]);
      d.request(TypeUrl.Secret, { subscribe: [WORKLOAD] });
      const sotw = await eventually(() => {
        const r = a.received.find((x) => x.type_url === TypeUrl.Secret && secretIn(x, WORKLOAD));
        expect(r).toBeDefined();
        return r!;
      }, 5_000);
      const delta = await eventually(() => {
        const r = d.received.find((x) => x.type_url === TypeUrl.Secret && x.resources.some((res) => res.name === WORKLOAD));
        expect(r).toBeDefined();
        return r!.resources.find((res) => res.name === WORKLOAD)!.resource as unknown as SecretJson;
      }, 5_000);
      const deltaLeaf = new X509Certificate(delta.tls_certificate!.certificate_chain!.inline_string!);
      expect(deltaLeaf.subjectAltName).toBe('URI:spiffe://mesh.test/ns/pay/sa/pay-2');
      expect(leafOf(sotw).subjectAltName).toBe('URI:spiffe://mesh.test/ns/pay/sa/pay-1');
      expect(delta.tls_certificate!.private_key!.inline_string).not.toBe(secretIn(sotw, WORKLOAD)!.tls_certificate!.private_key!.inline_string);
    } finally {
      a.close();
      d.close();
    }
  });

  it('the per-type SDS service serves the same', async () => {
    const c = SotwClient.perType(h.address, TypeUrl.Secret, { id: 'sds-1', cluster: 'edge' });
    try {
      c.request(TypeUrl.Secret, [WORKLOAD]);
      const r = await eventually(() => {
        const got = c.received.find((x) => secretIn(x, WORKLOAD));
        expect(got).toBeDefined();
        return got!;
      }, 5_000);
      expect(leafOf(r).subjectAltName).toBe('URI:spiffe://mesh.test/ns/edge/sa/sds-1');
    } finally {
      c.close();
    }
  });

  it('a node id that cannot be a SPIFFE path segment ends the stream with INVALID_ARGUMENT, and nothing is issued for it', async () => {
    const c = SotwClient.ads(h.address, { id: 'sidecar~10.0.0.1~pod', cluster: 'edge' });
    try {
      c.request(TypeUrl.Secret, [WORKLOAD]);
      const err = await eventually(() => {
        expect(c.error).toBeDefined();
        return c.error!;
      }, 5_000);
      expect(err.code).toBe(3);
      expect(err.details).toContain('cannot be part of a SPIFFE id');
      expect(c.received.filter((x) => secretIn(x, WORKLOAD))).toEqual([]);
    } finally {
      c.close();
    }
  });
});

describe('workload identity', () => {
  const mesh = { trustDomain: 'mesh.test', workloadTtlMs: 3_600_000, pos: { file: 'x', line: 1, col: 1 } };
  const call = (peer: string, san?: string): PeerCall => ({
    getPeer: () => peer,
    getAuthContext: () => (san === undefined ? { transportSecurityType: 'insecure' } : { transportSecurityType: 'ssl', sslPeerCertificate: { subjectaltname: san } as never }),
  });
  const node = { id: 'edge-1', cluster: 'edge', metadata: {} } as never;

  it('reads the peer address grpc-js reports', () => {
    expect(peerHost('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerHost('[::1]:5000')).toBe('::1');
    expect(peerHost('ipv4:10.1.2.3:5000')).toBe('10.1.2.3');
  });

  it('keeps a verified SPIFFE id of the trust domain, derives one from the node otherwise', () => {
    const opts = { clientCertsVerified: true, allowUnauthenticated: false };
    expect(workloadIdentity(node, call('10.1.2.3:5', 'URI:spiffe://mesh.test/team/edge'), mesh, opts)).toBe('spiffe://mesh.test/team/edge');
    expect(workloadIdentity(node, call('10.1.2.3:5', 'URI:spiffe://other.test/x, DNS:edge-1.internal'), mesh, opts)).toBe('spiffe://mesh.test/ns/edge/sa/edge-1');
  });

  it('refuses an unauthenticated proxy off loopback unless serve runs --insecure', () => {
    const strict = { clientCertsVerified: true, allowUnauthenticated: false };
    expect(() => workloadIdentity(node, call('10.1.2.3:5'), mesh, strict)).toThrow(PersonalRefusal);
    expect(() => workloadIdentity(node, call('10.1.2.3:5'), mesh, strict)).toThrow(/authenticates with a client certificate/);
    // A certificate nobody verified proves nothing.
    expect(() => workloadIdentity(node, call('10.1.2.3:5', 'URI:spiffe://mesh.test/team/edge'), mesh, { clientCertsVerified: false, allowUnauthenticated: false })).toThrow(PersonalRefusal);
    expect(workloadIdentity(node, call('127.0.0.1:5'), mesh, strict)).toBe('spiffe://mesh.test/ns/edge/sa/edge-1');
    expect(workloadIdentity(node, call('10.1.2.3:5'), mesh, { clientCertsVerified: false, allowUnauthenticated: true })).toBe('spiffe://mesh.test/ns/edge/sa/edge-1');
  });
});
