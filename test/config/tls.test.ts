import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfig, loadConfigFromString, readFileFromDisk } from '../../src/config/load.js';

const certs = fileURLToPath(new URL('../golden/in/certs/', import.meta.url));
/** A config file beside the golden certificates, so `certs/...` paths resolve to them. */
const file = path.join(certs, '..', 'tls-test.yaml');
const load = (yaml: string) => loadConfigFromString(yaml, file, { readFile: readFileFromDisk });
const errors = (r: ReturnType<typeof load>) => r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);

const edge = (tls: string, extra = '') => `${extra}listeners:
  - name: edge
    port: 443
    tls:
${tls}
    routes:
      - { name: all, match: { prefix: / }, to: app }
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
`;

describe('listener tls', () => {
  it('defaults: TLSv1_2, h2 + http/1.1, no client certificate; a file pair becomes an implicit secret with its PEM read', () => {
    const r = load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }]'));
    expect(errors(r)).toEqual([]);
    const tls = r.config!.listeners[0].tls!;
    expect(tls).toMatchObject({ minVersion: 'TLSv1_2', alpn: ['h2', 'http/1.1'], clientCertificate: 'none', certificates: [{ secret: 'file:certs/www.crt', serverNames: [] }] });
    const [secret] = r.config!.secrets!;
    expect(secret).toMatchObject({ name: 'file:certs/www.crt', implicit: true, source: { kind: 'certificate', certFile: path.join(certs, 'www.crt'), keyFile: path.join(certs, 'www.key') } });
    expect(secret.material).toEqual({ kind: 'certificate', certificateChain: fs.readFileSync(path.join(certs, 'www.crt'), 'utf8'), privateKey: fs.readFileSync(path.join(certs, 'www.key'), 'utf8') });
    expect(r.secretFiles).toEqual([path.join(certs, 'www.crt'), path.join(certs, 'www.key')]);
  });

  it('refuses a key that does not belong to the certificate, at the secret, without quoting the key', () => {
    const r = load(edge('      certificates: [{ secret: mixed }]', 'secrets:\n  - { name: mixed, certFile: certs/www.crt, keyFile: certs/api.key }\n'));
    expect(errors(r)).toEqual([`${file}:2:5: error: secret "mixed": the private key in ${path.join(certs, 'api.key')} does not belong to the certificate in ${path.join(certs, 'www.crt')}`]);
    const key = fs.readFileSync(path.join(certs, 'api.key'), 'utf8').split('\n')[1];
    expect(JSON.stringify(r.diagnostics)).not.toContain(key);
  });

  it('an unreadable file is an error at the file path, naming the file', () => {
    const r = load(edge('      certificates: [{ certFile: certs/nope.crt, keyFile: certs/www.key }]'));
    expect(errors(r)).toEqual([expect.stringMatching(new RegExp(`^${file}:5:34: error: secret "file:certs/nope.crt": cannot read ${path.join(certs, 'nope.crt')}: ENOENT`))]);
  });

  it('a CA where a certificate belongs, a certificate where a CA belongs', () => {
    const r = load(
      edge('      certificates: [{ secret: ca }]\n      clientCertificate: required\n      clientCa: { secret: cert }', 'secrets:\n  - { name: ca, caFile: certs/ca.crt }\n  - { name: cert, certFile: certs/www.crt, keyFile: certs/www.key }\n'),
    );
    expect(errors(r)).toEqual([
      `${file}:8:32: error: listener "edge" needs a certificate secret (certFile + keyFile) here, but secret "ca" (${file}:2:5) is a CA secret (caFile) (at listeners[0].tls.certificates[0].secret)`,
      `${file}:10:27: error: listener "edge" needs a CA secret (caFile) here, but secret "cert" (${file}:3:5) is a certificate secret (certFile + keyFile) (at listeners[0].tls.clientCa.secret)`,
    ]);
  });

  it('client certificates need a CA, a CA needs client certificates; two defaults; duplicate and reserved secret names', () => {
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }]\n      clientCertificate: optional')))).toEqual([
      expect.stringContaining('clientCertificate: optional needs "clientCa"'),
    ]);
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }]\n      clientCa: { caFile: certs/ca.crt }')))).toEqual([
      expect.stringContaining('"clientCa" does nothing without clientCertificate: required or optional'),
    ]);
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }, { certFile: certs/api.crt, keyFile: certs/api.key }]')))).toEqual([
      expect.stringContaining('listener "edge" has two certificates without serverNames (entries 0 and 1); only one can be the default'),
    ]);
    const dup = load(edge('      certificates: [{ secret: a }]', 'secrets:\n  - { name: a, caFile: certs/ca.crt }\n  - { name: a, certFile: certs/www.crt, keyFile: certs/www.key }\n  - { name: "file:x", caFile: certs/ca.crt }\n'));
    expect(errors(dup)).toEqual([
      `${file}:3:5: error: duplicate secret "a" (first defined at ${file}:2:5)`,
      `${file}:4:5: error: secret name "file:x" is reserved: names starting with "file:" are the secrets Banyan makes from file paths in tls: blocks`,
      expect.stringContaining('needs a certificate secret'),
    ]);
  });

  it('schema: a certificate file without its key, a server name Envoy cannot match, an unknown minVersion', () => {
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt }]')))).toEqual([expect.stringContaining('missing required key "keyFile" (certFile needs its private key)')]);
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key, serverNames: ["api.*.example.com"] }]')))).toEqual([
      expect.stringContaining('server name "api.*.example.com" must be a DNS name or a "*." wildcard'),
    ]);
    expect(errors(load(edge('      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }]\n      minVersion: TLSv1_1')))).toEqual([expect.stringMatching(/^.*:6:19: error: .*TLSv1_2.*TLSv1_3/)]);
  });

  it('loadConfigFromString without readFile stays pure: secrets carry no material and no file is read', () => {
    const r = loadConfigFromString(edge('      certificates: [{ certFile: certs/nope.crt, keyFile: certs/nope.key }]'), file);
    expect(errors(r)).toEqual([]);
    expect(r.config!.secrets![0].material).toBeUndefined();
    expect(r.secretFiles).toBeUndefined();
  });

  it('loadConfig (the disk) reads secret files by default', async () => {
    const r = await loadConfig(path.join(certs, '..', 'tls-edge-sni.yaml'));
    expect(errors(r)).toEqual([]);
    expect(r.config!.secrets!.map((s) => [s.name, s.material?.kind])).toEqual([
      ['api-cert', 'certificate'],
      ['file:certs/www.crt', 'certificate'],
    ]);
  });
});

describe('cluster tls', () => {
  it('clientCertificate and an SDS ca become secret names; a string ca stays a path Envoy reads', () => {
    const r = load(`clusters:
  - name: a
    endpoints: [10.0.0.1:8443]
    tls: { sni: a.internal, ca: { caFile: certs/ca.crt }, clientCertificate: { certFile: certs/client.crt, keyFile: certs/client.key } }
  - name: b
    endpoints: [10.0.0.2:8443]
    tls: { ca: /etc/ssl/ca.pem, clientCertificate: { secret: nope } }
`);
    expect(errors(r)).toEqual([`${file}:7:62: error: cluster "b" refers to unknown secret "nope" (at clusters[1].tls.clientCertificate.secret)`]);
    const ok = load(`clusters:
  - name: a
    endpoints: [10.0.0.1:8443]
    tls: { sni: a.internal, ca: { caFile: certs/ca.crt }, clientCertificate: { certFile: certs/client.crt, keyFile: certs/client.key } }
  - name: b
    endpoints: [10.0.0.2:8443]
    tls: { ca: /etc/ssl/ca.pem }
`);
    expect(ok.config!.clusters.map((c) => c.tls)).toEqual([
      { sni: 'a.internal', caSecret: 'file:certs/ca.crt', clientCertificate: 'file:certs/client.crt', insecureSkipVerify: false, alpn: [] },
      { caFile: '/etc/ssl/ca.pem', insecureSkipVerify: false, alpn: [] },
    ]);
  });
});

describe("ca: (Banyan's CA)", () => {
  const mesh = (ca: string, clusterTls = '{ clientCertificate: { secret: banyan:workload }, ca: { secret: banyan:ca }, peerIdentities: ["spiffe://shop.test/ns/app/sa/*"] }') => `${ca}listeners:
  - name: inbound
    port: 15006
    tls:
      certificates: [{ secret: banyan:workload }]
      clientCertificate: required
      clientCa: { secret: banyan:ca }
    routes:
      - { name: all, match: { prefix: / }, to: app }
clusters:
  - name: app
    endpoints: [10.0.0.1:15006]
    tls: ${clusterTls}
`;

  it('defaults the trust domain and lifetime, and makes banyan:workload and banyan:ca, read from no file', () => {
    const r = load(mesh('ca: {}\n'));
    expect(errors(r)).toEqual([]);
    expect(r.config!.ca).toMatchObject({ trustDomain: 'banyan.local', workloadTtlMs: 86_400_000, pos: { line: 1, col: 5 } });
    expect(r.config!.secrets!.map((s) => [s.name, s.source.kind])).toEqual([
      ['banyan:ca', 'trust-bundle'],
      ['banyan:workload', 'workload'],
    ]);
    expect(r.secretFiles).toEqual([]);
  });

  it('without ca: the two secrets do not exist, and the error says what makes them', () => {
    expect(errors(load(mesh('')))[0]).toMatch(/tls-test\.yaml:5:32: error: listener "inbound" refers to unknown secret "banyan:workload": the secrets banyan:workload and banyan:ca exist when the config has a ca: section/);
  });

  it('refuses banyan: names for declared secrets, a bad trust domain, lifetimes outside 5m..30d, and the CA certificate where a certificate belongs', () => {
    expect(errors(load(mesh('ca: {}\nsecrets:\n  - { name: banyan:mine, caFile: certs/ca.crt }\n')))).toEqual([
      `${file}:3:5: error: secret name "banyan:mine" is reserved: names starting with "banyan:" are the secrets of Banyan's CA (ca:)`,
    ]);
    expect(errors(load(mesh('ca: { trustDomain: Shop.Test }\n'))).join('\n')).toMatch(/1:20: error: .*SPIFFE trust domain/);
    expect(errors(load(mesh('ca: { workloadTtl: 1m }\n'))).join('\n')).toMatch(/must be at least 5m/);
    expect(errors(load(mesh('ca: { workloadTtl: 721h }\n'))).join('\n')).toMatch(/at most 720h \(30 days\)/);
    expect(errors(load(mesh('ca: {}\n', '{ clientCertificate: { secret: banyan:ca }, ca: { secret: banyan:ca } }'))).join('\n')).toMatch(/needs a certificate secret \(certFile \+ keyFile\) here, but secret "banyan:ca" .* is Banyan's CA certificate/);
  });

  it("a cluster trusting Banyan's CA by an SNI name alone is refused: workload certificates carry SPIFFE ids, never that DNS name", () => {
    const r = load(mesh('ca: { trustDomain: shop.test }\n', '{ sni: app.shop.test, clientCertificate: { secret: banyan:workload }, ca: { secret: banyan:ca } }'));
    expect(errors(r)).toEqual([
      `${file}:12:5: error: cluster "app" trusts Banyan's CA, whose workload certificates carry SPIFFE ids only, so its sni "app.shop.test" can never match as a DNS name: set tls.peerIdentities to the identities its endpoints have (e.g. spiffe://shop.test/ns/<cluster>/sa/*)`,
    ]);
  });

  it('a second ca: section is an error at the second', () => {
    const r = loadConfigFromString('ca: {}\n---\nca: { trustDomain: other.test }\n', file, { readFile: readFileFromDisk });
    expect(errors(r)).toEqual([`${file}:3:5: error: ca: is already set at ${file}:1:5; a config has one CA section`]);
  });

  it('a server that cannot run the CA refuses a ca: config at the section', () => {
    const r = loadConfigFromString(mesh('ca: {}\n'), file, { readFile: readFileFromDisk, served: { host: '127.0.0.1', caUnavailable: 'no passphrase' } });
    expect(errors(r)).toEqual([`${file}:1:5: error: this server cannot run Banyan's CA: no passphrase`]);
  });
});
