/**
 * Workload certificates for SDS: one current certificate per identity (a SPIFFE URI), issued on
 * first ask and issued anew once `needsRotation` says so (half the lifetime by default). Concurrent
 * asks for one identity share one issuance. The SDS server (not yet written) would answer a
 * proxy's `tls_certificate` request with `pemFor(identity)` and push again at `nextRotation`.
 */
import { BanyanError } from '../errors.js';
import { certToPem, issueCert, keyToPem, needsRotation, DEFAULT_LEAF_HOURS, type KeyedCert, type Usage } from './index.js';

export interface WorkloadPem {
  certPem: string;
  keyPem: string;
  /** The CA chain to send alongside (the CA certificate). */
  caPem: string;
  notAfter: Date;
  /** When this certificate is due for a new one. */
  rotateAt: Date;
}

export interface WorkloadOptions {
  hours?: number;
  fraction?: number;
  usage?: Usage;
  clock?: () => Date;
}

export class WorkloadCerts {
  private readonly current = new Map<string, Promise<WorkloadPem>>();
  private readonly hours: number;
  private readonly fraction: number;
  private readonly usage: Usage;
  private readonly clock: () => Date;
  /** How many certificates were issued, for metrics and tests. */
  issued = 0;

  constructor(
    private readonly ca: KeyedCert,
    opts: WorkloadOptions = {},
  ) {
    this.hours = opts.hours ?? DEFAULT_LEAF_HOURS;
    this.fraction = opts.fraction ?? 0.5;
    this.usage = opts.usage ?? 'server';
    this.clock = opts.clock ?? (() => new Date());
  }

  /** The current certificate for `uri` (and optional DNS names), issuing one when none is valid enough. */
  async pemFor(uri: string, dns: readonly string[] = []): Promise<WorkloadPem> {
    const key = `${uri}\n${dns.join(',')}`;
    const have = this.current.get(key);
    if (have) {
      const pem = await have.catch(() => undefined);
      if (pem && this.clock() < pem.rotateAt) return pem;
      if (this.current.get(key) !== have) return this.pemFor(uri, dns); // another caller renewed it meanwhile
    }
    const next = this.issue(uri, dns);
    this.current.set(key, next);
    next.catch(() => this.current.get(key) === next && this.current.delete(key));
    return next;
  }

  private async issue(uri: string, dns: readonly string[]): Promise<WorkloadPem> {
    const now = this.clock();
    const leaf = await issueCert(this.ca, { uri: [uri], dns, usage: this.usage, hours: this.hours, now });
    this.issued++;
    const life = leaf.cert.notAfter.getTime() - leaf.cert.notBefore.getTime();
    const rotateAt = new Date(leaf.cert.notBefore.getTime() + life * this.fraction);
    if (needsRotation(leaf.cert, now, this.fraction)) throw new BanyanError('bad-state', `a certificate for ${uri} would be due for rotation at once (the CA expires ${this.ca.cert.notAfter.toISOString()})`);
    return { certPem: certToPem(leaf.cert), keyPem: await keyToPem(leaf.privateKey), caPem: certToPem(this.ca.cert), notAfter: leaf.cert.notAfter, rotateAt };
  }
}
