import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { KeyedCert } from '../ca/index.js';
import { WorkloadCerts, type WorkloadPem } from '../ca/workload.js';
import type { EnvoyResource, NodeInfo } from '../compile/types.js';
import type { MeshCa } from '../config/model.js';
import { CA_SECRETS } from '../config/tls.js';
import { isLoopbackHost } from '../grpc/tls.js';
import { TypeUrl } from '../proto/envoy.js';
import { prom } from '../telemetry/metrics.js';
import { encodeOwnResource, type EncodedResource, PersonalRefusal, type PeerCall, type PersonalProxy, type PersonalResources, type PersonalSession } from '../xds/index.js';
import { certificateIdentities } from '../xds/identity.js';

export interface WorkloadSecretsOptions {
  /** Banyan's CA, loaded or created on first use (the config may turn `ca:` on long after start); asked once. */
  ca: () => Promise<KeyedCert>;
  /** The `ca:` section of the config served now. */
  meshCa: () => MeshCa | undefined;
  /** xDS verifies client certificates (--tls-client-ca): only then does a peer certificate prove anything. */
  clientCertsVerified: boolean;
  /** serve --insecure: a proxy without a client certificate off loopback may still get a certificate for the node it claims. */
  allowUnauthenticated: boolean;
  log: Logger;
  registry?: client.Registry;
  /** Retry delay after a failed renewal (the proxy keeps its current certificate meanwhile). */
  retryMs?: number;
}

/** SPIFFE path segments: letters, digits, ".", "-", "_" (no percent-encoding). */
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** setTimeout's limit; a later rotation is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The host part of grpc-js's getPeer(): `1.2.3.4:5`, `[::1]:5`, `ipv4:…`, `unix:…`. */
export function peerHost(peer: string): string {
  const p = peer.replace(/^(ipv4|ipv6):/, '');
  if (p.startsWith('unix:')) return 'unix';
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(p);
  if (bracketed) return bracketed[1]!;
  const i = p.lastIndexOf(':');
  return i > 0 && p.indexOf(':') === i ? p.slice(0, i) : p;
}

/** A peer on loopback or a unix socket: on this machine. */
function isLocalPeer(peer: string): boolean {
  const host = peerHost(peer);
  return host === 'unix' || isLoopbackHost(host);
}

/**
 * The identity a proxy's workload certificate carries. A verified client certificate with a SPIFFE id
 * of the trust domain keeps it (renewal); otherwise the node's own, `spiffe://<td>/ns/<cluster>/sa/<id>`,
 * which is only issued to a proxy that proved something: a verified client certificate (its group's
 * `identities:` already allowed the node), loopback, or serve --insecure.
 */
export function workloadIdentity(node: NodeInfo, call: PeerCall, ca: MeshCa, opts: { clientCertsVerified: boolean; allowUnauthenticated: boolean }): string {
  const auth = call.getAuthContext();
  const verified = opts.clientCertsVerified && auth.transportSecurityType === 'ssl' && !!auth.sslPeerCertificate?.subjectaltname;
  if (verified) {
    const own = certificateIdentities(auth.sslPeerCertificate!.subjectaltname).find((id) => id.startsWith(`spiffe://${ca.trustDomain}/`));
    if (own) return own;
  } else if (!opts.allowUnauthenticated && !isLocalPeer(call.getPeer())) {
    throw new PersonalRefusal(
      grpc.status.PERMISSION_DENIED,
      `Banyan's CA issues a workload certificate only to a proxy that authenticates with a client certificate (xDS with --tls-client-ca) or connects over loopback; node "${node.id}" from ${call.getPeer()} did neither`,
    );
  }
  const ns = node.cluster || 'default';
  for (const [what, value] of [
    ['cluster', ns],
    ['id', node.id],
  ] as const) {
    if (!SEGMENT.test(value)) {
      throw new PersonalRefusal(grpc.status.INVALID_ARGUMENT, `node ${what} "${value}" cannot be part of a SPIFFE id (letters, digits, ".", "-" and "_" only), so Banyan's CA issues it no workload certificate`);
    }
  }
  return `spiffe://${ca.trustDomain}/ns/${ns}/sa/${node.id}`;
}

function secretResources(pem: WorkloadPem): Map<string, EncodedResource> {
  const workload: EnvoyResource = {
    name: CA_SECRETS.workload,
    tls_certificate: { certificate_chain: { inline_string: pem.certPem }, private_key: { inline_string: pem.keyPem } },
  };
  const trust: EnvoyResource = { name: CA_SECRETS.trust, validation_context: { trusted_ca: { inline_string: pem.caPem } } };
  return new Map([
    [CA_SECRETS.workload, encodeOwnResource(TypeUrl.Secret, CA_SECRETS.workload, workload)],
    [CA_SECRETS.trust, encodeOwnResource(TypeUrl.Secret, CA_SECRETS.trust, trust)],
  ]);
}

/**
 * Serves each proxy its own workload certificate in place of the `banyan:workload` and `banyan:ca`
 * placeholders the compiled config holds (src/xds/personal.ts), and pushes a new one at half its
 * life, as istiod does: a team without cert-manager gets mTLS between services from Banyan alone.
 */
export class WorkloadSecrets implements PersonalResources {
  private certs?: { ca: KeyedCert; ttlMs: number; certs: WorkloadCerts };
  /** The CA, asked for once; a failure is forgotten so that the next proxy asks again. */
  private caLoad?: Promise<KeyedCert>;
  private readonly issued: client.Counter;
  private readonly failures: client.Counter;
  private readonly sessions = new Set<Session>();

  constructor(private readonly opts: WorkloadSecretsOptions) {
    const registers = opts.registry ? [opts.registry] : [];
    this.issued = new prom.Counter({ name: 'banyan_ca_workload_certificates_issued_total', help: "Workload certificates Banyan's CA issued to proxies (first and renewals)", registers });
    this.failures = new prom.Counter({ name: 'banyan_ca_workload_certificate_failures_total', help: 'Workload certificates that could not be issued (the proxy keeps its current one)', registers });
  }

  covers(typeUrl: string, name: string): boolean {
    return typeUrl === TypeUrl.Secret && (name === CA_SECRETS.workload || name === CA_SECRETS.trust);
  }

  open(proxy: PersonalProxy, changed: () => void): PersonalSession {
    const session = new Session(this, proxy, changed, () => this.sessions.delete(session));
    this.sessions.add(session);
    return session;
  }

  /** Loads the CA now (serve's start, when the config already has `ca:`): a CA that cannot be loaded fails there. */
  async prepare(): Promise<void> {
    await this.loadCa();
  }

  /** Proxies being served a workload certificate now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Stops every renewal timer (serve shutting down). */
  close(): void {
    for (const s of [...this.sessions]) s.close();
  }

  /** @internal The proxy's identity and its current certificate. */
  async certificateFor(proxy: PersonalProxy): Promise<WorkloadPem> {
    const mesh = this.opts.meshCa();
    if (!mesh) throw new PersonalRefusal(grpc.status.FAILED_PRECONDITION, 'the config served now has no ca: section');
    const uri = workloadIdentity(proxy.node, proxy.call, mesh, this.opts);
    const ca = await this.loadCa();
    if (this.certs?.ca !== ca || this.certs.ttlMs !== mesh.workloadTtlMs) {
      this.certs = { ca, ttlMs: mesh.workloadTtlMs, certs: new WorkloadCerts(ca, { hours: mesh.workloadTtlMs / 3_600_000, usage: 'both' }) };
    }
    const before = this.certs.certs.issued;
    try {
      const pem = await this.certs.certs.pemFor(uri);
      this.issued.inc(this.certs.certs.issued - before);
      return pem;
    } catch (err) {
      this.failures.inc();
      throw err;
    }
  }

  private loadCa(): Promise<KeyedCert> {
    if (!this.caLoad) {
      const load = this.opts.ca();
      this.caLoad = load;
      load.catch(() => {
        if (this.caLoad === load) this.caLoad = undefined;
      });
    }
    return this.caLoad;
  }

  /** @internal */
  get log(): Logger {
    return this.opts.log;
  }

  /** @internal */
  get retryMs(): number {
    return this.opts.retryMs ?? 30_000;
  }
}

class Session implements PersonalSession {
  readonly ready: Promise<void>;
  private own?: Map<string, EncodedResource>;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly owner: WorkloadSecrets,
    private readonly proxy: PersonalProxy,
    private readonly changed: () => void,
    private readonly onClose: () => void,
  ) {
    this.ready = this.renew();
  }

  get(typeUrl: string, name: string): EncodedResource | undefined {
    return typeUrl === TypeUrl.Secret ? this.own?.get(name) : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.onClose();
  }

  private async renew(): Promise<void> {
    const pem = await this.owner.certificateFor(this.proxy);
    if (this.closed) return;
    this.own = secretResources(pem);
    this.owner.log.info({ node: this.proxy.node.id, notAfter: pem.notAfter.toISOString(), rotateAt: pem.rotateAt.toISOString() }, 'workload certificate served');
    this.arm(pem.rotateAt.getTime());
  }

  private arm(at: number): void {
    if (this.closed) return;
    const wait = Math.max(0, at - Date.now());
    this.timer = setTimeout(() => {
      if (wait >= MAX_TIMER_MS) return this.arm(at);
      this.renew().then(
        () => this.changed(),
        (err: unknown) => {
          this.owner.log.error({ err, node: this.proxy.node.id }, 'workload certificate renewal failed; retrying (the proxy keeps its current certificate)');
          this.arm(Date.now() + this.owner.retryMs);
        },
      );
    }, Math.min(wait, MAX_TIMER_MS));
    this.timer.unref();
  }
}
