import type { Command } from 'commander';
import type { TlsFiles } from '../grpc/tls.js';
import { CliError, EXIT } from './admin-client.js';

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecure?: boolean;
}

/** --tls-cert/--tls-key/--tls-client-ca/--insecure: the same on every command that serves. */
export function addTlsOptions(cmd: Command, servers: string, hosts = '--host'): Command {
  return cmd
    .option('--tls-cert <file>', `PEM certificate (chain) for ${servers}; re-read when it changes, no restart`)
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-client-ca <file>', 'PEM CA bundle: require client certificates signed by it (mTLS)')
    .option('--insecure', `allow plaintext on a non-loopback ${hosts} (refused otherwise)`);
}

export function tlsFromFlags(f: TlsFlags): TlsFiles | undefined {
  if (!f.tlsCert !== !f.tlsKey) throw new CliError('--tls-cert and --tls-key go together', EXIT.usage);
  if (f.tlsClientCa && !f.tlsCert) throw new CliError('--tls-client-ca needs --tls-cert and --tls-key', EXIT.usage);
  if (!f.tlsCert || !f.tlsKey) return undefined;
  return { certFile: f.tlsCert, keyFile: f.tlsKey, caFile: f.tlsClientCa, requireClientCert: !!f.tlsClientCa };
}
