/**
 * Secrets over SDS on one ADS stream: a certificate the YAML names reaches the proxy before the
 * listener that uses it, and replacing the certificate's files pushes a new Secret version on the
 * same stream (no reconnect, no new config version, the listener untouched).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { DeltaClient } from '../conformance/harness.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { eventually } from '../support/eventually.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const CERTS = fileURLToPath(new URL('../golden/in/certs/', import.meta.url));
const pem = (name: string) => fs.readFileSync(path.join(CERTS, name), 'utf8');

const plain = `listeners:
  - name: plain
    port: 10000
    routes:
      - { name: all, match: { prefix: / }, to: app }
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
`;
const withTls = `listeners:
  - name: plain
    port: 10000
    routes:
      - { name: all, match: { prefix: / }, to: app }
  - name: edge-tls
    port: 10443
    tls:
      certificates: [{ certFile: certs/edge.crt, keyFile: certs/edge.key }]
    routes:
      - { name: all, match: { prefix: / }, to: app }
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
`;

const SECRET = 'file:certs/edge.crt';

/** The PEM chain of the named secret in a Secret response, if it carries it. */
function chainIn(r: { resources: Record<string, unknown>[] }, name: string): string | undefined {
  const s = r.resources.find((x) => x.name === name) as { tls_certificate?: { certificate_chain?: { inline_string?: string } } } | undefined;
  return s?.tls_certificate?.certificate_chain?.inline_string;
}

describe('SDS over ADS', () => {
  let t: TestBanyan;
  let ads: AdsRecorder;

  beforeAll(async () => {
    t = await startTestBanyan((dir) => {
      fs.mkdirSync(path.join(dir, 'certs'));
      fs.writeFileSync(path.join(dir, 'certs', 'edge.crt'), pem('www.crt'));
      fs.writeFileSync(path.join(dir, 'certs', 'edge.key'), pem('www.key'));
      return plain;
    });
    // Subscribed up front, as an Envoy is once it has seen a listener naming the secret.
    ads = new AdsRecorder(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'edge-1', cluster: 'edge' }, {
      [TypeUrl.Secret]: [SECRET],
      [TypeUrl.Cluster]: [],
      [TypeUrl.Listener]: [],
      [TypeUrl.RouteConfiguration]: ['plain', 'edge-tls'],
    });
    await eventually(() => expect(ads.latest(TypeUrl.Listener).names).toEqual(['plain']), 5_000);
  });

  afterAll(async () => {
    ads?.close();
    await t?.stop();
  });

  it('sends the secret before the listener that uses it, on the one stream', async () => {
    const from = ads.received.length;
    expect(ads.pushes(TypeUrl.Secret).every((r) => chainIn(r, SECRET) === undefined)).toBe(true);
    fs.writeFileSync(t.file, withTls);
    await eventually(() => expect(ads.latest(TypeUrl.Listener).names).toEqual(['edge-tls', 'plain']), 5_000);
    const got = ads.received.slice(from);
    const secretAt = got.findIndex((r) => r.type_url === TypeUrl.Secret && chainIn(r, SECRET) === pem('www.crt'));
    const listenerAt = got.findIndex((r) => r.type_url === TypeUrl.Listener && r.names.includes('edge-tls'));
    expect(listenerAt).toBeGreaterThanOrEqual(0);
    expect(secretAt).toBeGreaterThanOrEqual(0);
    expect(secretAt).toBeLessThan(listenerAt);
    // The listener names the secret over ADS; the file itself never reaches the proxy.
    const listener = ads.latest(TypeUrl.Listener).resources.find((r) => r.name === 'edge-tls');
    expect(JSON.stringify(listener)).toContain(`"name":"${SECRET}"`);
    expect(JSON.stringify(listener)).not.toContain('edge.crt"}');
  });

  it('replacing the certificate files pushes a new Secret version within 2 s, on the same stream, with no new config version and the listener untouched', async () => {
    const versions = (await t.banyan.store.listConfigVersions()).length;
    const secretBefore = ads.latest(TypeUrl.Secret);
    const listenerVersion = ads.latest(TypeUrl.Listener).version_info;
    const from = ads.received.length;
    // An atomic replace of each file, as cert-manager and most tools do: write beside, rename over.
    const dir = path.join(t.dir, 'certs');
    fs.writeFileSync(path.join(dir, '.edge.crt.new'), pem('client.crt'));
    fs.writeFileSync(path.join(dir, '.edge.key.new'), pem('client.key'));
    const replacedAt = Date.now();
    fs.renameSync(path.join(dir, '.edge.key.new'), path.join(dir, 'edge.key'));
    fs.renameSync(path.join(dir, '.edge.crt.new'), path.join(dir, 'edge.crt'));
    const pushed = await eventually(() => {
      const i = ads.received.findIndex((r, j) => j >= from && r.type_url === TypeUrl.Secret && chainIn(r, SECRET) === pem('client.crt'));
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    }, 5_000);
    expect(ads.arrivedAt[pushed] - replacedAt).toBeLessThan(2_000);
    expect(ads.received[pushed].version_info).not.toBe(secretBefore.version_info);
    // The same stream: what came before is still in `received` and the call never ended.
    expect(ads.received.length).toBeGreaterThan(from);
    expect(ads.latest(TypeUrl.Listener).version_info).toBe(listenerVersion);
    expect((await t.banyan.store.listConfigVersions()).length).toBe(versions);
  });

  it('the admin xds view shows the certificate and "[redacted]" for the private key', async () => {
    const res = await fetch(`http://127.0.0.1:${t.banyan.ports.admin}/api/v1/xds?group=default`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const secret = (JSON.parse(text) as Record<string, Record<string, Record<string, { tls_certificate: { certificate_chain: { inline_string: string }; private_key: { inline_string: string } } }>>>).default[TypeUrl.Secret][SECRET];
    expect(secret.tls_certificate.private_key.inline_string).toBe('[redacted]');
    expect(secret.tls_certificate.certificate_chain.inline_string).toBe(fs.readFileSync(path.join(t.dir, 'certs', 'edge.crt'), 'utf8'));
    const key = fs.readFileSync(path.join(t.dir, 'certs', 'edge.key'), 'utf8').split('\n')[1];
    expect(text).not.toContain(key);
  });

  it('delta ADS serves the secret by name, with the key on the wire, and says when it is gone', async () => {
    const delta = DeltaClient.ads(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'edge-2', cluster: 'edge' });
    try {
      delta.request(TypeUrl.Secret, { subscribe: [SECRET] });
      const r = await eventually(() => {
        const got = delta.received.find((x) => x.type_url === TypeUrl.Secret && x.resources.some((res) => res.name === SECRET));
        expect(got).toBeDefined();
        return got!;
      }, 5_000);
      const secret = r.resources.find((res) => res.name === SECRET)!.resource as { tls_certificate: { private_key: { inline_string: string } } };
      expect(secret.tls_certificate.private_key.inline_string).toBe(fs.readFileSync(path.join(t.dir, 'certs', 'edge.key'), 'utf8'));
      delta.ack(r);
      // The listener goes: so does its secret, for this group.
      const from = delta.received.length;
      fs.writeFileSync(t.file, plain);
      await eventually(() => expect(delta.received.slice(from).some((x) => x.type_url === TypeUrl.Secret && x.removed_resources.includes(SECRET))).toBe(true), 5_000);
    } finally {
      delta.close();
    }
  });
});

describe('SDS from a Kubernetes Secret volume', () => {
  let t: TestBanyan;
  let ads: AdsRecorder;
  const yaml = withTls.replace('certs/edge.crt', 'certs/tls.crt').replace('certs/edge.key', 'certs/tls.key');
  const name = 'file:certs/tls.crt';

  /** The kubelet's layout: certs/tls.crt → ..data/tls.crt, ..data → a timestamped directory. */
  function version(dir: string, stamp: string, crt: string, key: string): void {
    fs.mkdirSync(path.join(dir, 'certs', stamp));
    fs.writeFileSync(path.join(dir, 'certs', stamp, 'tls.crt'), pem(crt));
    fs.writeFileSync(path.join(dir, 'certs', stamp, 'tls.key'), pem(key));
  }

  beforeAll(async () => {
    t = await startTestBanyan((dir) => {
      fs.mkdirSync(path.join(dir, 'certs'));
      version(dir, '..2026_01', 'www.crt', 'www.key');
      fs.symlinkSync('..2026_01', path.join(dir, 'certs', '..data'));
      fs.symlinkSync('..data/tls.crt', path.join(dir, 'certs', 'tls.crt'));
      fs.symlinkSync('..data/tls.key', path.join(dir, 'certs', 'tls.key'));
      return yaml;
    });
    ads = new AdsRecorder(`127.0.0.1:${t.banyan.ports.xds}`, { id: 'edge-3', cluster: 'edge' }, { [TypeUrl.Secret]: [name], [TypeUrl.Listener]: [] });
    await eventually(() => expect(chainIn(ads.latest(TypeUrl.Secret), name)).toBe(pem('www.crt')), 5_000);
  });

  afterAll(async () => {
    ads?.close();
    await t?.stop();
  });

  it('a swap of ..data pushes the new certificate within 2 s', async () => {
    version(t.dir, '..2026_02', 'client.crt', 'client.key');
    fs.symlinkSync('..2026_02', path.join(t.dir, 'certs', '..data_tmp'));
    const swappedAt = Date.now();
    fs.renameSync(path.join(t.dir, 'certs', '..data_tmp'), path.join(t.dir, 'certs', '..data'));
    const at = await eventually(() => {
      const i = ads.received.findIndex((r) => r.type_url === TypeUrl.Secret && chainIn(r, name) === pem('client.crt'));
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    }, 5_000);
    expect(ads.arrivedAt[at] - swappedAt).toBeLessThan(2_000);
  });
});
