import { createPrivateKey, X509Certificate } from 'node:crypto';
import nodePath from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import type { Config, ListenerTls, MeshCa, Secret, SecretSource, SourcePos } from './model.js';
import type { CaRefInput, CaSectionInput, CertificateRefInput, ClusterTlsInput, ListenerTlsInput, SecretInput } from './schema-tls.js';
import { where } from './semantic.js';
import { didYouMean } from './suggest.js';
import { formatPath, type Locator, type PathSegment } from './yaml.js';

/**
 * TLS in the model: listener and cluster `tls:` refer to secrets by name, and a file path written
 * there becomes an implicit secret (`file:<path>`), so Envoy gets every certificate over SDS and never
 * needs the file. The loader reads the files (resolveSecretMaterial) and checks every reference once
 * all files are in (checkTls).
 */

/** A place that names a secret, and which kind it must be. */
export interface SecretRef {
  name: string;
  kind: 'certificate' | 'ca';
  from: string;
  pos: SourcePos;
  path: string;
}

/** What a fragment collects while building: secrets (declared and implicit) and references to them. */
export interface TlsSink {
  secrets: Secret[];
  secretRefs: SecretRef[];
}

/** The secrets Banyan's CA serves (`ca:`): each proxy's own certificate, and the CA to trust peers by. */
export const CA_SECRETS = { workload: 'banyan:workload', trust: 'banyan:ca' } as const;
const RESERVED_PREFIX = 'banyan:';
export const DEFAULT_TRUST_DOMAIN = 'banyan.local';
export const DEFAULT_WORKLOAD_TTL_MS = 86_400_000;

export function buildCa(input: CaSectionInput, locator: Locator): MeshCa {
  return { trustDomain: input.trustDomain ?? DEFAULT_TRUST_DOMAIN, workloadTtlMs: input.workloadTtl ?? DEFAULT_WORKLOAD_TTL_MS, pos: locator.pos(['ca']) };
}

/** One `ca:` for the whole config (a second is an error), and with it the two secrets it serves. */
export function mergeCa(all: readonly MeshCa[], diagnostics: Diagnostic[]): { ca?: MeshCa; secrets: Secret[] } {
  const [ca, ...more] = all;
  for (const m of more) diagnostics.push({ severity: 'error', ...m.pos, message: `ca: is already set at ${where(ca!.pos)}; a config has one CA section` });
  if (!ca) return { secrets: [] };
  return {
    ca,
    secrets: [
      { name: CA_SECRETS.workload, source: { kind: 'workload' }, implicit: true, pos: ca.pos },
      { name: CA_SECRETS.trust, source: { kind: 'trust-bundle' }, implicit: true, pos: ca.pos },
    ],
  };
}

/** Secrets whose content serve makes (Banyan's CA) rather than reads from files. */
export function isCaSecret(s: Secret): boolean {
  return s.source.kind === 'workload' || s.source.kind === 'trust-bundle';
}

const resolveBeside = (locator: Locator, path: PathSegment[], file: string) => nodePath.resolve(nodePath.dirname(locator.pos(path).file), file);

export function buildSecret(input: SecretInput, path: PathSegment[], locator: Locator): Secret {
  const source: SecretSource =
    input.caFile !== undefined
      ? { kind: 'ca', caFile: resolveBeside(locator, path, input.caFile) }
      : { kind: 'certificate', certFile: resolveBeside(locator, path, input.certFile!), keyFile: resolveBeside(locator, path, input.keyFile!) };
  return { name: input.name, source, implicit: false, pos: locator.pos(path) };
}

/** The secret a certificate reference names; a file pair becomes an implicit secret. */
function certificate(ref: CertificateRefInput, path: PathSegment[], locator: Locator, sink: TlsSink, from: string): string {
  if (ref.secret !== undefined) {
    const where = [...path, 'secret'];
    sink.secretRefs.push({ name: ref.secret, kind: 'certificate', from, pos: locator.pos(where), path: formatPath(where) });
    return ref.secret;
  }
  const name = `file:${nodePath.normalize(ref.certFile!)}`;
  sink.secrets.push({
    name,
    source: { kind: 'certificate', certFile: resolveBeside(locator, path, ref.certFile!), keyFile: resolveBeside(locator, path, ref.keyFile!) },
    implicit: true,
    pos: locator.pos([...path, 'certFile']),
  });
  return name;
}

function ca(ref: CaRefInput, path: PathSegment[], locator: Locator, sink: TlsSink, from: string): string {
  if (ref.secret !== undefined) {
    const where = [...path, 'secret'];
    sink.secretRefs.push({ name: ref.secret, kind: 'ca', from, pos: locator.pos(where), path: formatPath(where) });
    return ref.secret;
  }
  const name = `file:${nodePath.normalize(ref.caFile!)}`;
  sink.secrets.push({ name, source: { kind: 'ca', caFile: resolveBeside(locator, path, ref.caFile!) }, implicit: true, pos: locator.pos([...path, 'caFile']) });
  return name;
}

export function buildListenerTls(input: ListenerTlsInput, listenerName: string, path: PathSegment[], locator: Locator, sink: TlsSink): ListenerTls {
  const from = `listener "${listenerName}"`;
  return {
    certificates: input.certificates.map((c, i) => {
      const at = [...path, 'certificates', i];
      return { secret: certificate(c, at, locator, sink, from), serverNames: c.serverNames ?? [], pos: locator.pos(at) };
    }),
    minVersion: input.minVersion ?? 'TLSv1_2',
    alpn: input.alpn ?? ['h2', 'http/1.1'],
    clientCertificate: input.clientCertificate ?? 'none',
    ...(input.clientCa ? { clientCa: ca(input.clientCa, [...path, 'clientCa'], locator, sink, from) } : {}),
    pos: locator.pos(path),
  };
}

/** A cluster's (or service's, `from` says whose) SDS secrets (a string `ca` stays a path Envoy reads itself, as before). */
export function buildClusterTlsSecrets(input: ClusterTlsInput, from: string, path: PathSegment[], locator: Locator, sink: TlsSink): { caFile?: string; caSecret?: string; clientCertificate?: string } {
  const out: { caFile?: string; caSecret?: string; clientCertificate?: string } = {};
  if (typeof input.ca === 'string') out.caFile = input.ca;
  else if (input.ca) out.caSecret = ca(input.ca, [...path, 'ca'], locator, sink, from);
  if (input.clientCertificate) out.clientCertificate = certificate(input.clientCertificate, [...path, 'clientCertificate'], locator, sink, from);
  return out;
}

/**
 * One secret per name: declared names are unique; an implicit secret named twice (the same file in
 * two `tls:` blocks) is one secret, unless the same certificate file comes with two different keys.
 */
export function mergeSecrets(all: readonly Secret[], diagnostics: Diagnostic[]): Secret[] {
  const byName = new Map<string, Secret>();
  for (const s of all) {
    const first = byName.get(s.name);
    if (!first) {
      if (!s.implicit && s.name.startsWith('file:')) diagnostics.push({ severity: 'error', ...s.pos, message: `secret name "${s.name}" is reserved: names starting with "file:" are the secrets Banyan makes from file paths in tls: blocks` });
      if (!s.implicit && s.name.startsWith(RESERVED_PREFIX)) diagnostics.push({ severity: 'error', ...s.pos, message: `secret name "${s.name}" is reserved: names starting with "${RESERVED_PREFIX}" are the secrets of Banyan's CA (ca:)` });
      byName.set(s.name, s);
      continue;
    }
    if (s.implicit && first.implicit && JSON.stringify(s.source) === JSON.stringify(first.source)) continue;
    const message =
      s.implicit && first.implicit
        ? `certificate file ${(s.source as { certFile: string }).certFile} is used with two different key files (here and at ${where(first.pos)})`
        : `duplicate secret "${s.name}" (first defined at ${where(first.pos)})`;
    diagnostics.push({ severity: 'error', ...s.pos, message });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const KIND_NOUN: Record<Secret['source']['kind'], string> = {
  certificate: 'a certificate secret (certFile + keyFile)',
  ca: 'a CA secret (caFile)',
  workload: "each proxy's own certificate from Banyan's CA",
  'trust-bundle': "Banyan's CA certificate",
};
/** What a reference of each kind accepts. */
const SERVES: Record<SecretRef['kind'], ReadonlySet<Secret['source']['kind']>> = { certificate: new Set(['certificate', 'workload']), ca: new Set(['ca', 'trust-bundle']) };

/** References to secrets resolve and are of the right kind; SNI names are served by one certificate. */
export function checkTls(config: Config, refs: readonly SecretRef[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const secrets = new Map((config.secrets ?? []).map((s) => [s.name, s]));
  const declared = (config.secrets ?? []).filter((s) => !s.implicit).map((s) => s.name);
  for (const ref of refs) {
    const s = secrets.get(ref.name);
    if (!s) {
      const hint = ref.name.startsWith(RESERVED_PREFIX) && !config.ca ? `: the secrets ${CA_SECRETS.workload} and ${CA_SECRETS.trust} exist when the config has a ca: section (Banyan's CA)` : didYouMean(ref.name, declared);
      out.push({ severity: 'error', ...ref.pos, path: ref.path, message: `${ref.from} refers to unknown secret "${ref.name}"${hint}` });
    } else if (!SERVES[ref.kind].has(s.source.kind)) {
      out.push({ severity: 'error', ...ref.pos, path: ref.path, message: `${ref.from} needs ${KIND_NOUN[ref.kind]} here, but secret "${ref.name}" (${where(s.pos)}) is ${KIND_NOUN[s.source.kind]}` });
    }
  }
  for (const c of config.clusters) {
    if (c.tls?.caSecret === CA_SECRETS.trust && c.tls.sni && !c.tls.peerIdentities && !c.tls.insecureSkipVerify) {
      out.push({
        severity: 'error',
        ...c.pos,
        message:
          `cluster "${c.name}" trusts Banyan's CA, whose workload certificates carry SPIFFE ids only, so its sni "${c.tls.sni}" can never match as a DNS name: ` +
          `set tls.peerIdentities to the identities its endpoints have (e.g. spiffe://${config.ca?.trustDomain ?? DEFAULT_TRUST_DOMAIN}/ns/<cluster>/sa/*)`,
      });
    }
  }
  for (const l of config.listeners) {
    if (!l.tls) continue;
    const names = new Map<string, number>();
    let defaultAt: number | undefined;
    l.tls.certificates.forEach((c, i) => {
      if (c.serverNames.length === 0) {
        if (defaultAt !== undefined) out.push({ severity: 'error', ...c.pos, message: `listener "${l.name}" has two certificates without serverNames (entries ${defaultAt} and ${i}); only one can be the default` });
        else defaultAt = i;
      }
      for (const n of c.serverNames) {
        const first = names.get(n.toLowerCase());
        if (first === undefined) names.set(n.toLowerCase(), i);
        else out.push({ severity: 'error', ...c.pos, message: `server name "${n}" is already served by certificate ${first} of listener "${l.name}"; Envoy refuses two filter chains with the same server name` });
      }
    });
  }
  return out;
}

/** Reads a file for the loader; throws with the reason when it cannot. */
export type ReadFile = (absolutePath: string) => string;

/**
 * Reads every secret's files and checks they hold what they should: a certificate chain whose first
 * certificate belongs to the private key, a CA bundle of certificates. Returns the secrets with their
 * material and the files read (the watcher follows them: a replaced file is a new secret version).
 */
export function resolveSecretMaterial(secrets: readonly Secret[], readFile: ReadFile, diagnostics: Diagnostic[]): { secrets: Secret[]; files: string[] } {
  const files = new Set<string>();
  const out = secrets.map((s): Secret => {
    if (s.source.kind === 'workload' || s.source.kind === 'trust-bundle') return s; // made by serve, not read
    const read = (file: string): string | undefined => {
      files.add(file);
      try {
        return readFile(file);
      } catch (err) {
        diagnostics.push({ severity: 'error', ...s.pos, message: `secret "${s.name}": cannot read ${file}: ${(err as Error).message}` });
        return undefined;
      }
    };
    if (s.source.kind === 'ca') {
      const pem = read(s.source.caFile);
      if (pem === undefined) return s;
      const problem = certificateProblem(pem);
      if (problem) {
        diagnostics.push({ severity: 'error', ...s.pos, message: `secret "${s.name}": ${s.source.caFile} is not a PEM CA bundle: ${problem}` });
        return s;
      }
      return { ...s, material: { kind: 'ca', trustedCa: pem } };
    }
    const chain = read(s.source.certFile);
    const key = read(s.source.keyFile);
    if (chain === undefined || key === undefined) return s;
    const problem = certificateProblem(chain);
    if (problem) {
      diagnostics.push({ severity: 'error', ...s.pos, message: `secret "${s.name}": ${s.source.certFile} is not a PEM certificate: ${problem}` });
      return s;
    }
    let matches: boolean;
    try {
      matches = new X509Certificate(chain).checkPrivateKey(createPrivateKey(key));
    } catch (err) {
      // Never quote the key's content: only that it could not be parsed.
      diagnostics.push({ severity: 'error', ...s.pos, message: `secret "${s.name}": ${s.source.keyFile} is not a PEM private key (${(err as Error).message.split('\n')[0]})` });
      return s;
    }
    if (!matches) {
      diagnostics.push({ severity: 'error', ...s.pos, message: `secret "${s.name}": the private key in ${s.source.keyFile} does not belong to the certificate in ${s.source.certFile}` });
      return s;
    }
    return { ...s, material: { kind: 'certificate', certificateChain: chain, privateKey: key } };
  });
  return { secrets: out, files: [...files].sort() };
}

function certificateProblem(pem: string): string | undefined {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return 'no "-----BEGIN CERTIFICATE-----" block';
  try {
    new X509Certificate(pem);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}
