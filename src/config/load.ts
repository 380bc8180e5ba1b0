import { DEFAULT_PORTS } from '../ports.js';
import { buildFragment, rateLimitItems } from './build.js';
import { hasErrors, type Diagnostic } from './diagnostics.js';
import { emptyFragment, type Fragment } from './fragment.js';
import type { LoadCache } from './load-cache.js';
import { issuesToDiagnostics } from './issues.js';
import type { Config, Listener } from './model.js';
import { configSchema } from './schema.js';
import { checkRollouts } from './rollouts.js';
import { callsService, checkConfig, where } from './semantic.js';
import { findUnreachableRoutes } from './shadow.js';
import { Locator, parseYaml, type SourceDoc } from './yaml.js';
import { parseRateLimitDomains } from './ratelimit/parse.js';
import { readConfigFiles, type SourceFile } from './source.js';
import { checkTls, mergeCa, mergeSecrets, resolveSecretMaterial, type ReadFile } from './tls.js';
import fs from 'node:fs';

export interface LoadResult {
  /** Set only when there is no error (warnings allowed). */
  config?: Config;
  diagnostics: Diagnostic[];
  files: string[];
  /** Files read besides the YAML (secrets' certificates, keys and CAs): a change to one is a change to the config. */
  secretFiles?: string[];
}

export type { SourceFile };

/**
 * A file with nothing in it is far more often a truncated or half-saved file than an operator's wish to
 * remove everything it held, so it is refused; `{}` says "empty on purpose".
 */
export const EMPTY_FILE_MESSAGE =
  'file is empty (no YAML document with content): a truncated or half-written file would remove everything it held; delete the file, or write `{}` to keep it empty on purpose';

/** Where proxies reach Banyan's services when neither `services:` nor a serving process says: the conventional ports. */
const DEFAULT_SERVICES = {
  ratelimit: { address: '127.0.0.1', port: DEFAULT_PORTS.ratelimit },
  authz: { address: '127.0.0.1', port: DEFAULT_PORTS.authz },
};

type ServiceName = keyof typeof DEFAULT_SERVICES;

export interface LoadOptions {
  /**
   * The services this process serves (`banyan serve` after binding): where they listen is the
   * default for a `services:` key the YAML leaves unset, so the compiled banyan_ratelimit /
   * banyan_authz clusters point at what actually answers. An explicit `services:` key always wins.
   */
  served?: {
    host: string;
    ratelimit?: number;
    authz?: number;
    /**
     * The services listen with TLS (serve --tls-cert): a key the YAML leaves unset cannot default to
     * them, since the compiled cluster would call a TLS port in plaintext; the load fails, saying to
     * set `services.<name>` with its `tls:`.
     */
    tls?: boolean;
    /** Why this process cannot run Banyan's CA (e.g. no passphrase for the key it would store): a `ca:` config is refused, saying so. */
    caUnavailable?: string;
  };
  /**
   * How secrets' files (certificates, keys, CA bundles) are read. Without it the loader stays pure
   * over its sources: secrets are checked by reference only and carry no material, so what is
   * compiled from them cannot be served (validation and offline tools read the disk: loadConfig).
   */
  readFile?: ReadFile;
  /** A rate limit domain named in several files is one domain, its descriptors joined (the reference's MERGE_DOMAIN_CONFIG); else a duplicate is an error. */
  mergeRateLimitDomains?: boolean;
}

/** Reads a secret file from the local disk, as serve and `banyan validate` do. */
export const readFileFromDisk: ReadFile = (file) => fs.readFileSync(file, 'utf8');

/** One file, or every *.yaml / *.yml directly in a directory (see readConfigFiles). */
export async function loadConfig(path: string, options: LoadOptions = { readFile: readFileFromDisk }): Promise<LoadResult> {
  let sources: SourceFile[];
  try {
    sources = await readConfigFiles(path);
  } catch (err) {
    return { diagnostics: [fileError(path, `cannot read config: ${(err as Error).message}`)], files: [] };
  }
  if (sources.length === 0) return { diagnostics: [fileError(path, 'no *.yaml or *.yml files in this directory')], files: [] };
  return { ...loadConfigFromFiles(sources, options), files: sources.map((s) => s.file) };
}

export function loadConfigFromString(text: string, file: string, options: LoadOptions = {}): LoadResult {
  return loadConfigFromFiles([{ file, text }], options);
}

/**
 * The whole pipeline over in-memory sources: YAML → schema → model → cross-file checks. Every
 * problem is collected (not just the first) and the config is returned only when none is an error.
 */
export function loadConfigFromFiles(files: readonly SourceFile[], options: LoadOptions = {}, cache?: LoadCache): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const fragments: Fragment[] = [];
  for (const { file, text } of files) {
    const loaded = cache ? cache.file(file, text) : loadFile(file, text);
    diagnostics.push(...loaded.diagnostics);
    fragments.push(...loaded.fragments);
  }
  cache?.endLoad();

  const rateLimit = parseRateLimitDomains(
    fragments.flatMap((f) => f.rateLimitNodes.map(({ source, node }) => ({ file: source.file, lineCounter: source.lineCounter, node }))),
    { mergeDomains: options.mergeRateLimitDomains },
  );
  diagnostics.push(...rateLimit.diagnostics);

  const config: Config = {
    listeners: fragments.flatMap((f) => f.listeners),
    clusters: fragments.flatMap((f) => f.clusters),
    groups: fragments.flatMap((f) => f.groups),
    ratelimit: rateLimit.domains,
    auth: { providers: fragments.flatMap((f) => f.providers) },
    services: { ...DEFAULT_SERVICES },
    rollouts: fragments.flatMap((f) => f.rollouts),
  };
  const ca = mergeCa(fragments.flatMap((f) => (f.ca ? [f.ca] : [])), diagnostics);
  config.secrets = mergeSecrets([...fragments.flatMap((f) => f.secrets), ...ca.secrets], diagnostics);
  if (ca.ca) config.ca = ca.ca;
  if (ca.ca && options.served?.caUnavailable) diagnostics.push({ severity: 'error', ...ca.ca.pos, message: `this server cannot run Banyan's CA: ${options.served.caUnavailable}` });
  let secretFiles: string[] | undefined;
  if (options.readFile) {
    const resolved = resolveSecretMaterial(config.secrets ?? [], options.readFile, diagnostics);
    config.secrets = resolved.secrets;
    secretFiles = resolved.files;
  }
  const fromServe = mergeServices(config, fragments, diagnostics, options.served);
  const domainNames = fragments.flatMap((f) => f.rateLimitNodes.flatMap((n) => (n.domain === undefined ? [] : [n.domain])));
  const anyRateLimitSection = fragments.some((f) => f.rateLimitNodes.length > 0);
  diagnostics.push(...checkConfig(config, fragments.flatMap((f) => f.references), anyRateLimitSection ? domainNames : undefined));
  diagnostics.push(...checkRollouts(config, fragments.flatMap((f) => f.rolloutSites)));
  diagnostics.push(...checkTls(config, fragments.flatMap((f) => f.secretRefs)));
  diagnostics.push(...unreachableRoutes(config));
  diagnostics.push(...unreachableServiceWarnings(config, fromServe, options.served));
  diagnostics.push(...plaintextToTlsServiceErrors(config, fromServe, options.served));

  const sorted = sortDiagnostics(diagnostics, files);
  const names = files.map((f) => f.file);
  const extra = secretFiles ? { secretFiles } : {};
  return hasErrors(sorted) ? { diagnostics: sorted, files: names, ...extra } : { config, diagnostics: sorted, files: names, ...extra };
}

/** Reading order: files as given, then line and column, whichever check found the problem. */
function sortDiagnostics(diagnostics: Diagnostic[], files: readonly SourceFile[]): Diagnostic[] {
  const order = new Map(files.map((f, i) => [f.file, i]));
  return [...diagnostics].sort((a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1) || a.line - b.line || a.col - b.col);
}

/**
 * `services` is a map, not a list: a key set in two files is a conflict, not a merge. A key no file
 * sets is where this process serves it (options.served), else the conventional default. Returns the
 * keys taken from the serving process.
 */
function mergeServices(config: Config, fragments: Fragment[], diagnostics: Diagnostic[], served: LoadOptions['served']): ServiceName[] {
  const fromServe: ServiceName[] = [];
  for (const key of ['ratelimit', 'authz'] as const) {
    let first: string | undefined;
    for (const f of fragments) {
      const s = f.services[key];
      if (!s) continue;
      if (first) diagnostics.push({ severity: 'error', ...s.pos, message: `services.${key} is already set at ${first}` });
      else {
        first = where(s.pos);
        config.services[key] = { address: s.address, port: s.port, ...(s.tls ? { tls: s.tls } : {}) };
      }
    }
    const port = served?.[key];
    if (first === undefined && served && port !== undefined) {
      config.services[key] = { address: advertisedAddress(served.host), port };
      fromServe.push(key);
    }
  }
  return fromServe;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The address a proxy should dial for a service bound on `host`: the host itself when it names one
 * interface (an IP, or a DNS name the cluster resolves), loopback when it is every interface.
 */
function advertisedAddress(host: string): string {
  if (WILDCARDS.has(host) || host === 'localhost') return '127.0.0.1';
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/**
 * A service taken from the serving process but bound on every interface is advertised on loopback:
 * right for a sidecar next to Banyan, wrong for an Envoy in another pod or host, which would call its
 * own loopback. Said at the first listener whose proxies call it.
 */
function unreachableServiceWarnings(config: Config, fromServe: readonly ServiceName[], served: LoadOptions['served']): Diagnostic[] {
  if (!served || !WILDCARDS.has(served.host)) return [];
  const out: Diagnostic[] = [];
  for (const key of fromServe) {
    const user = config.listeners.find((l) => callsService(l, key));
    if (!user) continue;
    const { address, port } = config.services[key];
    out.push({
      severity: 'warning',
      ...user.pos,
      message:
        `listener "${user.name}" calls Banyan's ${key} service at ${address}:${port}, where this process serves it (\`services.${key}\` is not set) on ${served.host || 'every interface'}: ` +
        `right for an Envoy on this host, but an Envoy in another pod or host would call its own loopback; set \`services.${key}: host:port\` to an address the proxies can reach`,
    });
  }
  return out;
}

/**
 * A service this process serves with TLS, called by a listener, with no `services:` key saying how
 * Envoy should talk TLS to it: the default cluster would be plaintext against a TLS port, every call
 * failing at run time. Refused at the first listener that calls it.
 */
function plaintextToTlsServiceErrors(config: Config, fromServe: readonly ServiceName[], served: LoadOptions['served']): Diagnostic[] {
  if (!served?.tls) return [];
  return fromServe.flatMap((key): Diagnostic[] => {
    const user = config.listeners.find((l) => callsService(l, key));
    if (!user) return [];
    const { address, port } = config.services[key];
    return [
      {
        severity: 'error',
        ...user.pos,
        message:
          `listener "${user.name}" calls Banyan's ${key} service, which this process serves with TLS on ${address}:${port}, but \`services.${key}\` is not set, so Envoy would call it in plaintext: ` +
          `set \`services.${key}: { address: host:port, tls: { ca: ..., sni: ... } }\` (with clientCertificate when the service requires client certificates)`,
      },
    ];
  });
}

/** What one file contributes, whatever the other files say: a pure function of its name and text (load-cache.ts remembers it). */
export interface FileLoad {
  diagnostics: Diagnostic[];
  fragments: Fragment[];
}

/** One file: YAML → schema → fragments, one per document with content. */
export function loadFile(file: string, text: string): FileLoad {
  const parsed = parseYaml(file, text);
  const diagnostics = [...parsed.diagnostics];
  const fragments: Fragment[] = [];
  let contributes = false;
  for (const source of parsed.docs) {
    const doc = loadDocument(source);
    diagnostics.push(...doc.diagnostics);
    fragments.push(...doc.fragments);
    contributes ||= doc.contributes;
  }
  if (!contributes && parsed.diagnostics.length === 0) diagnostics.push(fileError(file, EMPTY_FILE_MESSAGE));
  return { diagnostics, fragments };
}

/** One parsed document (without syntax errors): schema, then model. An empty document contributes nothing. */
export function loadDocument(source: SourceDoc): FileLoad & { contributes: boolean } {
  const { file } = source;
  const locator = new Locator(source);
  let plain: unknown;
  try {
    plain = source.doc.toJS();
  } catch (err) {
    // e.g. an alias bomb beyond yaml's maxAliasCount
    return { diagnostics: [{ severity: 'error', file, ...lineCol(locator), message: `YAML error: ${(err as Error).message}` }], fragments: [], contributes: true };
  }
  if (plain === null || plain === undefined) return { diagnostics: [], fragments: [], contributes: false };
  const result = configSchema.safeParse(plain, { reportInput: true });
  if (!result.success) {
    const diagnostics = issuesToDiagnostics(result.error.issues, configSchema, locator);
    // The rate limit section is validated by its own parser, whatever is wrong elsewhere.
    const rl = rateLimitItems(locator);
    return { diagnostics, fragments: rl.length ? [{ ...emptyFragment(), rateLimitNodes: rl }] : [], contributes: true };
  }
  const fragment = buildFragment(result.data, locator);
  return { diagnostics: [...fragment.diagnostics], fragments: [fragment], contributes: true };
}

/**
 * findUnreachableRoutes, one listener at a time (its routes shadow only each other), remembered per
 * listener: an incremental load (load-cache.ts) hands back the very listener objects it built
 * before for what did not change, so only changed listeners are checked again. The model is never
 * mutated once built, so a remembered answer stays right.
 */
const unreachableByListener = new WeakMap<Listener, Diagnostic[]>();

/**
 * `moved` is `listener` with every position some lines further (load-cache.ts moving a piece): its
 * routes shadow each other exactly as before, so a listener that had no unreachable route still has
 * none (the common case, remembered at no cost); one that had some is checked again, its messages
 * naming the new lines.
 */
export function listenerMoved(listener: Listener, moved: Listener): void {
  if (unreachableByListener.get(listener)?.length === 0) unreachableByListener.set(moved, []);
}

function unreachableRoutes(config: Config): Diagnostic[] {
  return config.listeners.flatMap((listener) => {
    let found = unreachableByListener.get(listener);
    if (!found) {
      found = findUnreachableRoutes({ ...config, listeners: [listener] });
      unreachableByListener.set(listener, found);
    }
    return found;
  });
}

function lineCol(locator: Locator): { line: number; col: number } {
  const { line, col } = locator.pos([]);
  return { line, col };
}

function fileError(file: string, message: string): Diagnostic {
  return { severity: 'error', file, line: 1, col: 1, message };
}
