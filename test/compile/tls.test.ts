import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { loadConfigFromString, readFileFromDisk } from '../../src/config/load.js';
import { encodeMessage, decodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { canonicalJsonOf, REDACTED } from '../../src/proto/json.js';

const certs = fileURLToPath(new URL('../golden/in/certs/', import.meta.url));
const file = path.join(certs, '..', 'tls-unit.yaml');
const key = fs.readFileSync(path.join(certs, 'www.key'), 'utf8');

const yaml = `listeners:
  - name: edge
    port: 443
    tls:
      certificates: [{ certFile: certs/www.crt, keyFile: certs/www.key }]
    routes:
      - { name: all, match: { prefix: / }, to: app }
  - name: other
    port: 8080
    routes:
      - { name: all, match: { prefix: / }, to: upstream }
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
  - name: upstream
    endpoints: [10.0.0.2:8443]
    tls: { clientCertificate: { certFile: certs/client.crt, keyFile: certs/client.key }, insecureSkipVerify: true }
groups:
  - { name: edge, match: { cluster: edge }, listeners: [edge] }
  - { name: other, match: { cluster: other }, listeners: [other] }
`;

describe('TLS compile', () => {
  const snapshot = compile(loadConfigFromString(yaml, file, { readFile: readFileFromDisk }).config!);

  it('a group is served exactly the secrets its listeners and clusters name', () => {
    const names = (g: string) => [...(snapshot.groups.get(g)!.get(TypeUrl.Secret)?.keys() ?? [])];
    expect(names('edge')).toEqual(['file:certs/www.crt']);
    expect(names('other')).toEqual(['file:certs/client.crt']);
    // The default group serves every socket listener, so both.
    expect(names('default')).toEqual(['file:certs/client.crt', 'file:certs/www.crt']);
  });

  it('the wire carries the key; what people are shown never does', () => {
    const secret = snapshot.groups.get('edge')!.get(TypeUrl.Secret)!.get('file:certs/www.crt')!;
    const wire = decodeMessage<{ tls_certificate: { private_key: { inline_string: string } } }>(TypeUrl.Secret, encodeMessage(TypeUrl.Secret, secret));
    expect(wire.tls_certificate.private_key.inline_string).toBe(key);
    const shown = JSON.stringify(canonicalJsonOf(TypeUrl.Secret, secret));
    expect(shown).toContain(`"private_key":{"inline_string":"${REDACTED}"}`);
    expect(shown).not.toContain(key.split('\n')[1]);
    expect(shown).toContain('BEGIN CERTIFICATE');
  });

  it('a TLS listener inspects the ClientHello; one without TLS has no listener filter and no transport socket', () => {
    const edge = snapshot.groups.get('edge')!.get(TypeUrl.Listener)!.get('edge') as { listener_filters?: { name: string }[]; filter_chains: { transport_socket?: unknown }[] };
    expect(edge.listener_filters?.map((f) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    const other = snapshot.groups.get('other')!.get(TypeUrl.Listener)!.get('other') as { listener_filters?: unknown; filter_chains: { transport_socket?: unknown }[] };
    expect(other.listener_filters).toBeUndefined();
    expect(other.filter_chains[0].transport_socket).toBeUndefined();
  });
});
