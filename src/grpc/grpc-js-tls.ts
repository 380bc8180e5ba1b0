/**
 * grpc-js credentials from followed TLS files (grpc/tls.ts's TlsFileWatcher), for the servers and
 * clients built on grpc-js (xDS, authz, `banyan ratelimit --xds`). Kept apart from grpc/tls.ts so
 * that what needs only the files, the bind rule and Node's TLS options (the lean node:http2 rate
 * limit server) does not load grpc-js.
 */
import { rootCertificates } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { assertSecureBind, TlsFileWatcher, type TlsWatchOptions, type Transport } from './tls.js';

/**
 * A grpc-js certificate provider fed by the watcher: identity = the watched pair, CA = the watched CA
 * bundle (or `fallbackCa` when the files name none). Listeners hear every new valid material.
 */
function watcherCertificateProvider(watcher: TlsFileWatcher, fallbackCa?: Buffer): grpc.experimental.CertificateProvider {
  const identity = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  const cas = new Set<grpc.experimental.CaCertificateUpdateListener>();
  const provider: grpc.experimental.CertificateProvider = {
    addIdentityCertificateListener(l) {
      identity.add(l);
      const m = watcher.material;
      process.nextTick(l, { certificate: m.cert, privateKey: m.key });
    },
    removeIdentityCertificateListener: (l) => void identity.delete(l),
    addCaCertificateListener(l) {
      cas.add(l);
      const ca = watcher.material.ca ?? fallbackCa;
      if (ca) process.nextTick(l, { caCertificate: ca });
    },
    removeCaCertificateListener: (l) => void cas.delete(l),
  };
  watcher.onChange((m) => {
    for (const l of identity) l({ certificate: m.cert, privateKey: m.key });
    if (m.ca) for (const l of cas) l({ caCertificate: m.ca });
  });
  return provider;
}

/**
 * grpc-js certificate-provider credentials fed by the watcher: a rotation reaches new connections
 * (grpc-js calls setSecureContext on its http2 server), open streams keep their connection.
 */
export function grpcServerCredentials(watcher: TlsFileWatcher): grpc.ServerCredentials {
  const provider = watcherCertificateProvider(watcher);
  // grpc-js's parameter names are swapped relative to its use: the first is the identity provider,
  // the second the CA provider (null = do not ask for client certificates).
  return grpc.experimental.createCertificateProviderServerCredentials(provider, watcher.files.caFile ? provider : null, watcher.files.requireClientCert);
}

/**
 * A client's side of the same rule (`banyan ratelimit --xds` with --xds-client-cert): channel
 * credentials presenting the watched client certificate. Each new connection takes the latest whole
 * pair; an open connection keeps the one it started with; a half-written or mismatched file keeps the
 * last good pair (the watcher's rule). The server is verified against the watched CA (`caFile`), or
 * Node's root certificates when there is none.
 */
export function grpcChannelCredentials(watcher: TlsFileWatcher): grpc.ChannelCredentials {
  const provider = watcherCertificateProvider(watcher, Buffer.from(rootCertificates.join('\n')));
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider);
}

/** What a gRPC server binds with, and what to release when it stops. */
export interface GrpcTransport {
  credentials: grpc.ServerCredentials;
  close(): void;
}

/**
 * Checks the bind (see assertSecureBind) and builds its credentials: certificate-provider credentials
 * following the files when TLS is given, plaintext otherwise.
 */
export async function grpcTransport(server: string, host: string, transport: Transport = {}, opts: TlsWatchOptions = {}): Promise<GrpcTransport> {
  assertSecureBind(server, host, transport);
  if (!transport.tls) return { credentials: grpc.ServerCredentials.createInsecure(), close: () => undefined };
  const watcher = await TlsFileWatcher.open(transport.tls, opts);
  return { credentials: grpcServerCredentials(watcher), close: () => watcher.close() };
}
