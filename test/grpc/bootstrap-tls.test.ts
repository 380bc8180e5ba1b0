/**
 * `banyan bootstrap --xds-tls-ca [--xds-client-cert --xds-client-key]`: the banyan_xds cluster gets an
 * UpstreamTlsContext that verifies the xDS server against the CA and its name, with a client
 * certificate for mTLS; without the flags it stays plaintext.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InvalidArgumentError } from 'commander';
import { BOOTSTRAP_TYPE, formatBootstrap, renderBootstrap, type BootstrapOptions } from '../../src/compile/bootstrap.js';
import { xdsTls } from '../../src/cli/commands/bootstrap.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';

const base: BootstrapOptions = { nodeId: 'edge-1', group: 'edge', kind: 'edge', xdsHost: 'banyan.internal', xdsPort: 18000, adminPort: 9901 };
const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const xdsClusterOf = (o: BootstrapOptions): any => decodeMessage<any>(BOOTSTRAP_TYPE, encodeMessage(BOOTSTRAP_TYPE, renderBootstrap(o))).static_resources.clusters[0];

describe('bootstrap: TLS to the xDS server', () => {
  it('without --xds-tls-ca the xds cluster has no transport socket', () => {
    expect(xdsClusterOf(base).transport_socket).toBeUndefined();
  });

  it('verifies the server against the CA and the DNS name, with SNI and h2, and presents a client certificate when given', () => {
    const c = xdsClusterOf({ ...base, xdsTls: { caFile: '/etc/banyan/ca.crt', certFile: '/etc/envoy/tls.crt', keyFile: '/etc/envoy/tls.key' } });
    expect(c.transport_socket.name).toBe('envoy.transport_sockets.tls');
    const ctx = c.transport_socket.typed_config;
    expect(ctx['@type']).toBe(UPSTREAM_TLS);
    expect(ctx.sni).toBe('banyan.internal');
    expect(ctx.common_tls_context.alpn_protocols).toEqual(['h2']);
    expect(ctx.common_tls_context.validation_context.trusted_ca).toEqual({ filename: '/etc/banyan/ca.crt' });
    expect(ctx.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'DNS', matcher: { exact: 'banyan.internal' } }]);
    expect(ctx.common_tls_context.tls_certificates).toEqual([{ certificate_chain: { filename: '/etc/envoy/tls.crt' }, private_key: { filename: '/etc/envoy/tls.key' } }]);
  });

  it('an IP xDS address is matched as an IP SAN, without SNI', () => {
    const ctx = xdsClusterOf({ ...base, xdsHost: '127.0.0.1', xdsTls: { caFile: 'ca.crt' } }).transport_socket.typed_config;
    expect(ctx.sni ?? '').toBe('');
    expect(ctx.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } }]);
    expect(ctx.common_tls_context.tls_certificates ?? []).toEqual([]);
  });

  it("prints the context in Envoy's file form (the Any with its @type)", () => {
    const doc = parse(formatBootstrap({ ...base, xdsTls: { caFile: 'ca.crt' } }, 'yaml'));
    expect(doc.static_resources.clusters[0].transport_socket.typed_config['@type']).toBe(UPSTREAM_TLS);
    expect(doc.static_resources.clusters[0].transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename).toBe('ca.crt');
  });

  it('the flags: client cert and key go together and need the CA', () => {
    expect(xdsTls({})).toBeUndefined();
    expect(xdsTls({ xdsTlsCa: 'ca' })).toEqual({ caFile: 'ca' });
    expect(xdsTls({ xdsTlsCa: 'ca', xdsClientCert: 'c', xdsClientKey: 'k' })).toEqual({ caFile: 'ca', certFile: 'c', keyFile: 'k' });
    expect(() => xdsTls({ xdsTlsCa: 'ca', xdsClientCert: 'c' })).toThrow(InvalidArgumentError);
    expect(() => xdsTls({ xdsClientCert: 'c', xdsClientKey: 'k' })).toThrow(/needs --xds-tls-ca/);
  });
});
