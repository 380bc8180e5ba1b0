import { z } from 'zod';
import { durationAtLeast, exactlyOne, name, onlyWith, refineWith } from './schema-common.js';

/**
 * TLS as the operator writes it: listener `tls:` (Envoy terminates TLS), cluster `tls.clientCertificate`
 * / `tls.ca` (mTLS upstream), and the top-level `secrets:` section. Every certificate and CA reaches
 * Envoy over SDS: a file path in the YAML becomes a secret Banyan reads and serves, so the proxy
 * never needs the file (src/config/tls.ts builds the model, src/compile/tls.ts the resources).
 */

const path = z.string().min(1);

const certificateShape = {
  secret: name.optional().meta({ description: 'A `secrets:` entry with certFile + keyFile' }),
  certFile: path.optional().meta({ description: 'PEM certificate chain, relative to this YAML file' }),
  keyFile: path.optional().meta({ description: 'PEM private key, relative to this YAML file' }),
};

function certificateChecks(v: { secret?: string; certFile?: string; keyFile?: string }, ctx: z.RefinementCtx<object>): void {
  exactlyOne(['secret', 'certFile'], true)(v, ctx);
  exactlyOne(['secret', 'keyFile'], false)(v, ctx);
  if (v.certFile !== undefined && v.keyFile === undefined) ctx.addIssue({ code: 'custom', message: 'missing required key "keyFile" (certFile needs its private key)', input: v });
}

/** A certificate and its key: a `secrets:` entry by name, or the two files. */
export const certificateRef = z.strictObject(certificateShape).superRefine(certificateChecks);

/** A listener certificate: a certificate and the SNI names it serves. */
const listenerCertificate = z
  .strictObject({
    ...certificateShape,
    serverNames: z.array(serverNameSchema()).min(1).optional().meta({ description: 'SNI names served with this certificate; absent = the default certificate' }),
  })
  .superRefine(certificateChecks);

/** A CA bundle to validate peers with: a `secrets:` entry by name, or a file. */
export const caRef = z
  .strictObject({
    secret: name.optional().meta({ description: 'A `secrets:` entry with caFile' }),
    caFile: path.optional().meta({ description: 'PEM CA bundle, relative to this YAML file' }),
  })
  .superRefine(exactlyOne(['secret', 'caFile'], true));

/** Server names as Envoy's filter_chain_match.server_names takes them: exact, or `*.` + suffix. */
function serverNameSchema() {
  return z
    .string()
    .min(1)
    .superRefine(
      refineWith((v: string) =>
        /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v)
          ? undefined
          : `server name "${v}" must be a DNS name or a "*." wildcard (Envoy matches SNI against exact names and leading wildcards only)`,
      ),
    );
}

export const listenerTls = z
  .strictObject({
    certificates: z
      .array(listenerCertificate)
      .min(1)
      .meta({ description: 'One filter chain per entry, chosen by SNI (serverNames); at most one entry without serverNames (the default)' }),
    minVersion: z.enum(['TLSv1_2', 'TLSv1_3']).optional().meta({ description: 'Lowest TLS version accepted (TLSv1_2)' }),
    alpn: z.array(z.string().min(1)).min(1).optional().meta({ description: 'ALPN protocols offered (h2, http/1.1)' }),
    clientCertificate: z.enum(['required', 'optional', 'none']).optional().meta({ description: 'Client certificates: required, optional (validated when sent), none (default)' }),
    clientCa: caRef.optional().meta({ description: 'CA that client certificates must chain to' }),
  })
  .superRefine((v, ctx) => {
    const asks = v.clientCertificate === 'required' || v.clientCertificate === 'optional';
    if (asks && !v.clientCa) ctx.addIssue({ code: 'custom', path: ['clientCertificate'], message: `clientCertificate: ${v.clientCertificate} needs "clientCa" (the CA client certificates must chain to)`, input: v.clientCertificate });
    if (!asks && v.clientCa) ctx.addIssue({ code: 'custom', path: ['clientCa'], message: '"clientCa" does nothing without clientCertificate: required or optional', input: v.clientCa });
  });

/** The `tls:` of a cluster: Envoy connects to the endpoints over TLS. */
export const clusterTls = z
  .strictObject({
    // Envoy's UpstreamTlsContext.sni: max_bytes 255 (a DNS name's limit).
    sni: z
      .string()
      .min(1)
      .superRefine(refineWith((v: string) => (Buffer.byteLength(v) > 255 ? `sni is ${Buffer.byteLength(v)} bytes; Envoy allows at most 255` : undefined)))
      .optional(),
    ca: z
      .union([z.string().min(1), caRef])
      .optional()
      .meta({ description: 'A CA bundle file Envoy reads itself (a string), or {secret} / {caFile} served over SDS' }),
    insecureSkipVerify: z.boolean().optional(),
    alpn: z.array(z.string().min(1)).optional(),
    clientCertificate: certificateRef.optional().meta({ description: 'Client certificate for mTLS to the endpoints, over SDS' }),
    peerIdentities: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({ description: "Identities the endpoints' certificates must carry (URI SAN globs such as spiffe://td/ns/ledger/sa/*; dns:<glob> for DNS names); checked instead of the SNI name" }),
  })
  .superRefine(exactlyOne(['ca', 'insecureSkipVerify'], false))
  .superRefine(exactlyOne(['peerIdentities', 'insecureSkipVerify'], false));

export const secret = z
  .strictObject({
    name: name.meta({ description: 'Unique; what listener and cluster `tls:` refer to' }),
    certFile: path.optional().meta({ description: 'PEM certificate chain, relative to this YAML file' }),
    keyFile: path.optional().meta({ description: 'PEM private key, relative to this YAML file' }),
    caFile: path.optional().meta({ description: 'PEM CA bundle, relative to this YAML file' }),
  })
  .superRefine(exactlyOne(['certFile', 'caFile'], true))
  .superRefine(exactlyOne(['keyFile', 'caFile'], false))
  .superRefine(onlyWith(['keyFile'], ['certFile']))
  .superRefine((v, ctx) => {
    if (v.certFile !== undefined && v.keyFile === undefined) ctx.addIssue({ code: 'custom', message: 'missing required key "keyFile" (certFile needs its private key)', input: v });
  });

export type CertificateRefInput = z.output<typeof certificateRef>;
export type ListenerCertificateInput = z.output<typeof listenerCertificate>;
export type CaRefInput = z.output<typeof caRef>;
export type ListenerTlsInput = z.output<typeof listenerTls>;
export type ClusterTlsInput = z.output<typeof clusterTls>;
export type SecretInput = z.output<typeof secret>;

/** The DNS-label form SPIFFE requires of a trust domain (lower case letters, digits, dots, dashes, underscores). */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/**
 * Banyan's own CA (`ca:`): workload certificates issued to each proxy for its identity, served over
 * SDS as the secrets `banyan:workload` (its certificate) and `banyan:ca` (the CA to trust peers by).
 */
export const caSection = z
  .strictObject({
    trustDomain: z
      .string()
      .min(1)
      .max(255)
      .superRefine(refineWith((v: string) => (TRUST_DOMAIN.test(v) ? undefined : `trust domain "${v}": a SPIFFE trust domain is lower-case letters, digits, ".", "-" and "_" (e.g. mesh.example.com)`)))
      .optional()
      .meta({ description: 'SPIFFE trust domain of the workload identities (default banyan.local)' }),
    workloadTtl: durationAtLeast(300_000, '5m')
      .refine((ms) => ms <= 30 * 86_400_000, { error: 'must be at most 720h (30 days): workload certificates are short-lived' })
      .optional()
      .meta({ description: 'Lifetime of a workload certificate (default 24h); a new one is served at half of it' }),
  })
  .meta({ description: "Banyan's CA: issues each proxy a workload certificate over SDS (secrets banyan:workload and banyan:ca)" });

export type CaSectionInput = z.infer<typeof caSection>;
