import type { Cluster, ClusterTls, Config, Listener, ListenerTls, Secret, ServiceAddress } from '../config/model.js';
import type * as envoy from './envoy-types.js';
import { ADS_CONFIG_SOURCE, compact, grpcServiceCluster, typed, wrap } from './util.js';
import { globToRegexSource } from './groups.js';

/**
 * TLS contexts and the secrets they name. Every certificate and CA goes to Envoy over SDS on the
 * ADS stream (`sds_config: {ads: {}}`): the contexts carry only names, and each group is served the
 * Secret resources its listeners and clusters name (src/compile/index.ts), pushed before them
 * (src/xds/order.ts), so a rotated file is a new Secret version and never a listener drain.
 */

export const TLS_SOCKET = 'envoy.transport_sockets.tls';
export const TLS_INSPECTOR: envoy.ListenerFilter = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: typed('type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}),
};

export function sdsRef(name: string): envoy.SdsSecretConfig {
  return { name, sds_config: ADS_CONFIG_SOURCE };
}

/** The DownstreamTlsContext of one certificate group of a listener. */
export function downstreamTls(tls: ListenerTls, secret: string): envoy.TransportSocket {
  const common: envoy.CommonTlsContext = {
    tls_params: { tls_minimum_protocol_version: tls.minVersion },
    tls_certificate_sds_secret_configs: [sdsRef(secret)],
    alpn_protocols: tls.alpn,
  };
  if (tls.clientCertificate !== 'none' && tls.clientCa) common.validation_context_sds_secret_config = sdsRef(tls.clientCa);
  return {
    name: TLS_SOCKET,
    typed_config: typed(
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      compact({
        common_tls_context: common,
        require_client_certificate: tls.clientCertificate === 'required' ? wrap(true) : undefined,
      }),
    ),
  };
}

/** A socket listener's filter chains with TLS: one per certificate, matched by SNI, sharing the filters. */
export function tlsFilterChains(tls: ListenerTls, filters: envoy.FilterChain['filters']): envoy.FilterChain[] {
  return tls.certificates.map((c) =>
    compact({
      filter_chain_match: c.serverNames.length ? { server_names: c.serverNames } : undefined,
      filters,
      transport_socket: downstreamTls(tls, c.secret),
    }),
  );
}

/** A peer identity as groups and clusters write it (URI glob, or `dns:<glob>`) as Envoy's SAN matcher. */
function sanMatcher(identity: string): envoy.SubjectAltNameMatcher {
  const dns = identity.startsWith('dns:');
  const value = dns ? identity.slice(4) : identity;
  const matcher = value.includes('*') ? { safe_regex: { regex: globToRegexSource(value) } } : { exact: value };
  return { san_type: dns ? 'DNS' : 'URI', matcher };
}

/** The UpstreamTlsContext of a cluster. */
export function upstreamTls(tls: ClusterTls): envoy.TransportSocket {
  const common: envoy.CommonTlsContext = {};
  if (tls.alpn.length) common.alpn_protocols = tls.alpn;
  if (tls.clientCertificate) common.tls_certificate_sds_secret_configs = [sdsRef(tls.clientCertificate)];
  // Without a validation context Envoy accepts any certificate, so "no CA" means the OS trust store;
  // and a trusted chain alone proves nothing about the name, so the SNI must also be a SAN.
  if (!tls.insecureSkipVerify) {
    const sans: envoy.CertificateValidationContext = tls.peerIdentities
      ? { match_typed_subject_alt_names: tls.peerIdentities.map(sanMatcher) }
      : tls.sni
        ? { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: tls.sni } }] }
        : {};
    if (tls.caSecret) {
      // The CA comes over SDS; the name check stays here, merged with it by Envoy.
      common.combined_validation_context = { default_validation_context: sans, validation_context_sds_secret_config: sdsRef(tls.caSecret) };
    } else {
      common.validation_context = { ...(tls.caFile ? { trusted_ca: { filename: tls.caFile } } : { system_root_certs: {} }), ...sans };
    }
  }
  return {
    name: TLS_SOCKET,
    typed_config: typed('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', compact({ sni: tls.sni, common_tls_context: common })),
  };
}

/** The secrets a listener's TLS names. */
export function listenerSecrets(l: Listener): string[] {
  if (!l.tls) return [];
  return [...l.tls.certificates.map((c) => c.secret), ...(l.tls.clientCertificate !== 'none' && l.tls.clientCa ? [l.tls.clientCa] : [])];
}

/** The secrets a cluster's TLS names. */
export function clusterSecrets(c: Cluster): string[] {
  return tlsSecrets(c.tls);
}

function tlsSecrets(tls: ClusterTls | undefined): string[] {
  if (!tls) return [];
  return [...(tls.clientCertificate ? [tls.clientCertificate] : []), ...(tls.caSecret && !tls.insecureSkipVerify ? [tls.caSecret] : [])];
}

/**
 * The cluster Envoy calls one of Banyan's services through (`banyan_ratelimit`, `banyan_authz`):
 * over TLS when `services.<name>.tls` says so, with the same UpstreamTlsContext as a cluster's
 * `tls:`. gRPC over TLS is negotiated with ALPN, so `h2` is offered unless the YAML lists its own.
 */
export function serviceCluster(name: string, service: ServiceAddress): envoy.Cluster {
  const cluster = grpcServiceCluster(name, service.address, service.port);
  if (!service.tls) return cluster;
  const tls = service.tls.alpn.length ? service.tls : { ...service.tls, alpn: ['h2'] };
  return { ...cluster, transport_socket: upstreamTls(tls) };
}

/** The secrets the TLS of Banyan's service clusters names, for the service clusters compiled. */
export function serviceSecrets(config: Config, compiled: readonly envoy.Cluster[]): string[] {
  const names = new Set(compiled.map((c) => c.name));
  return (['ratelimit', 'authz'] as const).flatMap((key) => (names.has(SERVICE_CLUSTERS[key]) ? tlsSecrets(config.services[key].tls) : []));
}

const SERVICE_CLUSTERS = { ratelimit: 'banyan_ratelimit', authz: 'banyan_authz' } as const;

/**
 * A Secret resource: the PEM text inline. Without material (a loader that read no files) the secret
 * is still named, with empty content, which admission refuses to publish.
 */
export function buildSecret(s: Secret): envoy.Secret {
  // Placeholders: serve puts each proxy's own certificate (and the CA's) in their place per stream.
  if (s.source.kind === 'workload') return { name: s.name, tls_certificate: {} };
  if (s.source.kind === 'trust-bundle') return { name: s.name, validation_context: {} };
  const m = s.material;
  if (s.source.kind === 'ca') return { name: s.name, validation_context: { trusted_ca: { inline_string: m?.kind === 'ca' ? m.trustedCa : '' } } };
  return {
    name: s.name,
    tls_certificate: {
      certificate_chain: { inline_string: m?.kind === 'certificate' ? m.certificateChain : '' },
      private_key: { inline_string: m?.kind === 'certificate' ? m.privateKey : '' },
    },
  };
}

export function secretResources(config: Config): Map<string, envoy.Secret> {
  return new Map((config.secrets ?? []).map((s) => [s.name, buildSecret(s)]));
}
