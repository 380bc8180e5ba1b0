import { parseRateLimitDomains } from '../ratelimit/config.js';
import { buildFragment, rateLimitItems } from './build.js';
import { hasErrors, type Diagnostic } from './diagnostics.js';
import type { Fragment } from './fragment.js';
import { issuesToDiagnostics } from './issues.js';
import type { Config } from './model.js';
import { configSchema } from './schema.js';
import { checkConfig, where } from './semantic.js';
import { findUnreachableRoutes } from './shadow.js';
import { Locator, parseYaml } from './yaml.js';
import { readConfigFiles, type SourceFile } from './source.js';

export interface LoadResult {
  /** Set only when there is no error (warnings allowed). */
  config?: Config;
  diagnostics: Diagnostic[];
  files: string[];
}

export type { SourceFile };

/**
 * A file with nothing in it is far more often a truncated or half-saved file than an operator's wish to
 * remove everything it held, so it is refused; `{}` says "empty on purpose".
 */
export const EMPTY_FILE_MESSAGE =
  'file is empty (no YAML document with content): a truncated or half-written file would remove everything it held; delete the file, or write `{}` to keep it empty on purpose';

const DEFAULT_SERVICES = {
  ratelimit: { address: '127.0.0.1', port: 8081 },
  authz: { address: '127.0.0.1', port: 9191 },
};

/** One file, or every *.yaml / *.yml directly in a directory (see readConfigFiles). */
export async function loadConfig(path: string): Promise<LoadResult> {
  let sources: SourceFile[];
  try {
    sources = await readConfigFiles(path);
  } catch (err) {
    return { diagnostics: [fileError(path, `cannot read config: ${(err as Error).message}`)], files: [] };
  }
  if (sources.length === 0) return { diagnostics: [fileError(path, 'no *.yaml or *.yml files in this directory')], files: [] };
  return { ...loadConfigFromFiles(sources), files: sources.map((s) => s.file) };
}

export function loadConfigFromString(text: string, file: string): LoadResult {
  return loadConfigFromFiles([{ file, text }]);
}

/**
 * The whole pipeline over in-memory sources: YAML → schema → model → cross-file checks. Every
 * problem is collected (not just the first) and the config is returned only when none is an error.
 */
export function loadConfigFromFiles(files: readonly SourceFile[]): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const fragments: Fragment[] = [];
  for (const { file, text } of files) {
    const parsed = parseYaml(file, text);
    diagnostics.push(...parsed.diagnostics);
    let contributes = false;
    for (const source of parsed.docs) {
      const locator = new Locator(source);
      let plain: unknown;
      try {
        plain = source.doc.toJS();
      } catch (err) {
        // e.g. an alias bomb beyond yaml's maxAliasCount
        diagnostics.push({ severity: 'error', file, ...lineCol(locator), message: `YAML error: ${(err as Error).message}` });
        contributes = true;
        continue;
      }
      if (plain === null || plain === undefined) continue; // an empty document contributes nothing
      contributes = true;
      const result = configSchema.safeParse(plain, { reportInput: true });
      if (!result.success) {
        diagnostics.push(...issuesToDiagnostics(result.error.issues, configSchema, locator));
        // The rate limit section is validated by its own parser, whatever is wrong elsewhere.
        const rl = rateLimitItems(locator);
        if (rl.length) fragments.push({ ...emptyFragment(), rateLimitNodes: rl });
        continue;
      }
      const fragment = buildFragment(result.data, locator);
      diagnostics.push(...fragment.diagnostics);
      fragments.push(fragment);
    }
    if (!contributes && parsed.diagnostics.length === 0) diagnostics.push(fileError(file, EMPTY_FILE_MESSAGE));
  }

  const rateLimit = parseRateLimitDomains(fragments.flatMap((f) => f.rateLimitNodes.map(({ source, node }) => ({ file: source.file, lineCounter: source.lineCounter, node }))));
  diagnostics.push(...rateLimit.diagnostics);

  const config: Config = {
    listeners: fragments.flatMap((f) => f.listeners),
    clusters: fragments.flatMap((f) => f.clusters),
    groups: fragments.flatMap((f) => f.groups),
    ratelimit: rateLimit.domains,
    auth: { providers: fragments.flatMap((f) => f.providers) },
    services: mergeServices(fragments, diagnostics),
  };
  const domainNames = fragments.flatMap((f) => f.rateLimitNodes.flatMap((n) => (n.domain === undefined ? [] : [n.domain])));
  const anyRateLimitSection = fragments.some((f) => f.rateLimitNodes.length > 0);
  diagnostics.push(...checkConfig(config, fragments.flatMap((f) => f.references), anyRateLimitSection ? domainNames : undefined));
  diagnostics.push(...findUnreachableRoutes(config));

  const sorted = sortDiagnostics(diagnostics, files);
  const names = files.map((f) => f.file);
  return hasErrors(sorted) ? { diagnostics: sorted, files: names } : { config, diagnostics: sorted, files: names };
}

/** Reading order: files as given, then line and column, whichever check found the problem. */
function sortDiagnostics(diagnostics: Diagnostic[], files: readonly SourceFile[]): Diagnostic[] {
  const order = new Map(files.map((f, i) => [f.file, i]));
  return [...diagnostics].sort((a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1) || a.line - b.line || a.col - b.col);
}

/** `services` is a map, not a list: a key set in two files is a conflict, not a merge. */
function mergeServices(fragments: Fragment[], diagnostics: Diagnostic[]): Config['services'] {
  const services = { ...DEFAULT_SERVICES };
  for (const key of ['ratelimit', 'authz'] as const) {
    let first: string | undefined;
    for (const f of fragments) {
      const s = f.services[key];
      if (!s) continue;
      if (first) diagnostics.push({ severity: 'error', ...s.pos, message: `services.${key} is already set at ${first}` });
      else {
        first = where(s.pos);
        services[key] = { address: s.address, port: s.port };
      }
    }
  }
  return services;
}

function emptyFragment(): Fragment {
  return { listeners: [], clusters: [], groups: [], providers: [], services: {}, rateLimitNodes: [], references: [], diagnostics: [] };
}

function lineCol(locator: Locator): { line: number; col: number } {
  const { line, col } = locator.pos([]);
  return { line, col };
}

function fileError(file: string, message: string): Diagnostic {
  return { severity: 'error', file, line: 1, col: 1, message };
}
