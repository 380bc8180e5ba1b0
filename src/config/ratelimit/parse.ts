import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Pair, type YAMLMap } from 'yaml';
import { hasErrors, type Diagnostic } from '../diagnostics.js';
import { parseDuration } from '../duration.js';
import type { RateLimitDescriptor, RateLimitDomain, RateLimitPolicy, RateLimitUnit, SourcePos } from '../model.js';
import { positionOf } from '../position.js';
import { didYouMean } from '../suggest.js';
import type { PlainValue } from '../../proto/struct.js';
import './model-ext.js';
import { isUnit, unitForWindow, UNIT_SECONDS } from './units.js';

export interface RateLimitDomainSource {
  file: string;
  lineCounter: LineCounter;
  /** A YAML map node holding one envoyproxy/ratelimit domain ({ domain, descriptors }). */
  node: Node;
}

// Keys per level. envoyproxy/ratelimit checks one flat key set anywhere in the document; checking per
// level is stricter only for keys that the reference would have ignored silently at the wrong level.
// `compat` is Banyan's (resource.ts): the reference's own loader would refuse it.
const DOMAIN_KEYS = ['domain', 'descriptors', 'compat'];
const DESCRIPTOR_KEYS = [
  'key',
  'value',
  'rate_limit',
  'descriptors',
  'shadow_mode',
  'detailed_metric',
  'quota_mode',
  'share_threshold',
  'value_to_metric',
  'metadata',
  'limits',
  'fail_open',
];
const POLICY_KEYS = ['unit', 'requests_per_unit', 'unlimited', 'name', 'replaces', 'algorithm', 'window'];
const REPLACES_KEYS = ['name'];
const ALGORITHMS = ['fixed', 'sliding', 'gcra'] as const;

class Reader {
  readonly diagnostics: Diagnostic[] = [];
  constructor(
    readonly file: string,
    readonly lineCounter: LineCounter,
  ) {}

  pos(node: unknown): SourcePos {
    const p = positionOf(node, this.lineCounter, this.file);
    // Documents built in code (xDS resources) have no source text: point at the start.
    return p.line > 0 ? p : { file: this.file, line: 1, col: 1 };
  }

  error(node: unknown, message: string, at?: string): void {
    const { line, col } = this.pos(node);
    this.diagnostics.push({ severity: 'error', file: this.file, line, col, message, path: at });
  }

  /** The map's pairs after checking every key is a string from `allowed` (reference wording). */
  pairs(map: YAMLMap, allowed: readonly string[], at: string): Map<string, { key: Node; value: unknown }> {
    const out = new Map<string, { key: Node; value: unknown }>();
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const k = pair.key;
      const keyValue = isScalar(k) ? k.value : k;
      if (typeof keyValue !== 'string') {
        this.error(k, `config error, key is not of type string: ${isScalar(k) ? String(k.source ?? k.value) : String(k)}`, at);
        continue;
      }
      if (!allowed.includes(keyValue)) {
        this.error(k, `config error, unknown key '${keyValue}'${didYouMean(keyValue, allowed)}`, at);
        continue;
      }
      out.set(keyValue, { key: k as Node, value: pair.value });
    }
    return out;
  }

  /** A string from a scalar (numbers and booleans read as their text, as the reference's yaml.v2 does). */
  string(node: unknown, what: string, at: string): string | undefined {
    if (node == null || (isScalar(node) && node.value == null)) return undefined;
    if (!isScalar(node)) {
      this.error(node, `${what} must be a string`, at);
      return undefined;
    }
    return typeof node.value === 'string' ? node.value : String(node.source ?? node.value);
  }

  bool(node: unknown, what: string, at: string): boolean {
    if (node == null || (isScalar(node) && node.value == null)) return false;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.error(node, `${what} must be true or false`, at);
    return false;
  }

  /** Items of a sequence of maps; other items get the reference's "list of type other than map" error. */
  mapList(node: unknown, what: string, at: string): YAMLMap[] {
    if (node == null || (isScalar(node) && node.value == null)) return [];
    if (!isSeq(node)) {
      this.error(node, `${what} must be a list`, at);
      return [];
    }
    const maps: YAMLMap[] = [];
    for (const item of node.items) {
      if (isMap(item)) maps.push(item);
      else this.error(item, `config error, yaml file contains list of type other than map: ${isScalar(item) ? String(item.source ?? item.value) : String(item)}`, at);
    }
    return maps;
  }
}

export interface RateLimitParseOptions {
  /**
   * Several documents (files) naming one domain are merged into it, as the reference's
   * MERGE_DOMAIN_CONFIG: their descriptors join the domain's top level, where a composite key defined
   * twice is still an error. Off (the default), a second document for a domain is an error.
   */
  mergeDomains?: boolean;
}

/**
 * Validates envoyproxy/ratelimit domain documents (format unchanged) into the typed model, with the
 * reference's error cases and wording, each tied to file:line:col. Domains must be unique across all
 * sources unless `mergeDomains` (the reference's MERGE_DOMAIN_CONFIG) merges them.
 */
export function parseRateLimitDomains(sources: RateLimitDomainSource[], opts: RateLimitParseOptions = {}): { domains: RateLimitDomain[]; diagnostics: Diagnostic[] } {
  const domains: RateLimitDomain[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, { domain: RateLimitDomain; composite: Set<string> }>();
  for (const source of sources) {
    const r = new Reader(source.file, source.lineCounter);
    readDomain(r, source.node, seen, opts.mergeDomains ?? false, domains);
    diagnostics.push(...r.diagnostics);
  }
  return { domains: hasErrors(diagnostics) ? [] : domains, diagnostics };
}

function readDomain(r: Reader, node: Node, seen: Map<string, { domain: RateLimitDomain; composite: Set<string> }>, merge: boolean, out: RateLimitDomain[]): void {
  if (!isMap(node)) {
    r.error(node, 'a rate limit domain must be a map with "domain" and "descriptors"');
    return;
  }
  const fields = r.pairs(node, DOMAIN_KEYS, 'domain');
  const name = r.string(fields.get('domain')?.value, 'domain', 'domain') ?? '';
  if (name === '') {
    r.error(fields.get('domain')?.value ?? node, 'config file cannot have empty domain');
    return;
  }
  const earlier = seen.get(name);
  if (earlier && !merge) r.error(fields.get('domain')!.value, `duplicate domain '${name}' in config file`);
  if (earlier && merge) {
    // The reference loads the later file's descriptors into the domain already loaded ("patching domain").
    earlier.domain.descriptors.push(...readDescriptors(r, fields.get('descriptors')?.value, `${name}.`, 'descriptors', earlier.composite));
    return;
  }
  const composite = new Set<string>();
  const domain: RateLimitDomain = { domain: name, descriptors: readDescriptors(r, fields.get('descriptors')?.value, `${name}.`, 'descriptors', composite), pos: r.pos(node) };
  const compatNode = fields.get('compat')?.value;
  if (compatNode !== undefined) {
    const compat = r.string(compatNode, 'compat', 'compat');
    if (compat === 'reference') domain.compat = 'reference';
    else if (compat !== undefined) r.error(compatNode, `compat must be "reference" (accept that consumers other than Banyan enforce this domain in the reference's fields), not "${compat}"`);
  }
  if (!earlier) seen.set(name, { domain, composite });
  out.push(domain);
}

function readDescriptors(r: Reader, node: unknown, parentKey: string, at: string, composite = new Set<string>()): RateLimitDescriptor[] {
  const out: RateLimitDescriptor[] = [];
  r.mapList(node, 'descriptors', at).forEach((map, i) => {
    const here = `${at}[${i}]`;
    const f = r.pairs(map, DESCRIPTOR_KEYS, here);
    const key = r.string(f.get('key')?.value, 'key', here) ?? '';
    if (key === '') {
      r.error(f.get('key')?.value ?? map, 'descriptor has empty key', here);
      return;
    }
    const value = r.string(f.get('value')?.value, 'value', here) || undefined;
    const finalKey = value === undefined ? key : `${key}_${value}`;
    if (composite.has(finalKey)) r.error(map, `duplicate descriptor composite key '${parentKey}${finalKey}'`, here);
    composite.add(finalKey);

    const policies: RateLimitPolicy[] = [];
    const rl = f.get('rate_limit')?.value;
    if (rl != null && !(isScalar(rl) && rl.value == null)) {
      const p = readPolicy(r, rl, `${here}.rate_limit`);
      if (p) policies.push(p);
    }
    r.mapList(f.get('limits')?.value, 'limits', `${here}.limits`).forEach((m, j) => {
      const p = readPolicy(r, m, `${here}.limits[${j}]`);
      if (p) policies.push(p);
    });
    if (policies.length > 1 && policies.some((p) => p.unlimited)) r.error(map, 'an unlimited rate_limit cannot be combined with other limits', here);

    const shareThreshold = r.bool(f.get('share_threshold')?.value, 'share_threshold', here);
    if (shareThreshold && !finalKey.endsWith('*')) {
      r.error(f.get('share_threshold')!.value, `share_threshold can only be used with wildcard values (ending with '*'), but found key '${finalKey}'`, here);
    }
    const metadataNode = f.get('metadata')?.value;
    const metadata = metadataNode === undefined ? undefined : readMetadata(r, metadataNode, `${here}.metadata`);

    const failOpenNode = f.get('fail_open')?.value;
    out.push({
      key,
      value,
      rateLimit: policies[0],
      extraLimits: policies.slice(1),
      descriptors: readDescriptors(r, f.get('descriptors')?.value, `${parentKey}${finalKey}.`, `${here}.descriptors`),
      shadowMode: r.bool(f.get('shadow_mode')?.value, 'shadow_mode', here),
      detailedMetric: r.bool(f.get('detailed_metric')?.value, 'detailed_metric', here),
      quotaMode: r.bool(f.get('quota_mode')?.value, 'quota_mode', here),
      ...(shareThreshold ? { shareThreshold } : {}),
      ...(r.bool(f.get('value_to_metric')?.value, 'value_to_metric', here) ? { valueToMetric: true } : {}),
      ...(metadata ? { metadata } : {}),
      failOpen: failOpenNode === undefined ? undefined : r.bool(failOpenNode, 'fail_open', here),
      pos: r.pos(map),
    });
  });
  return out;
}

/**
 * `metadata`: any YAML map, kept as plain JSON values (it becomes a google.protobuf.Struct in the
 * response). Keys inside it are the user's, so they are not checked against the format's keys.
 */
function readMetadata(r: Reader, node: unknown, at: string): { [key: string]: PlainValue } | undefined {
  if (node == null || (isScalar(node) && node.value == null)) return undefined;
  if (!isMap(node)) {
    r.error(node, 'metadata must be a map', at);
    return undefined;
  }
  const value = (node as YAMLMap).toJSON() as unknown;
  const bad = firstNonJson(value);
  if (bad) {
    r.error(node, `metadata ${bad}`, at);
    return undefined;
  }
  return value as { [key: string]: PlainValue };
}

/** What in a YAML value cannot become a google.protobuf.Value (dates, binary, non-finite numbers), or undefined. */
function firstNonJson(v: unknown): string | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `holds ${v}, not a finite number`;
  if (Array.isArray(v)) return v.map(firstNonJson).find((x) => x !== undefined);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).map(firstNonJson).find((x) => x !== undefined);
  return `holds a ${typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v}, not a JSON value`;
}

function readPolicy(r: Reader, node: unknown, at: string): RateLimitPolicy | undefined {
  if (!isMap(node)) {
    r.error(node, 'rate_limit must be a map', at);
    return undefined;
  }
  const f = r.pairs(node, POLICY_KEYS, at);
  const unlimited = r.bool(f.get('unlimited')?.value, 'unlimited', at);
  const unitText = r.string(f.get('unit')?.value, 'unit', at) ?? '';
  const unitLower = unitText.toLowerCase();
  const validUnit = isUnit(unitLower);

  let windowSeconds: number | undefined;
  const windowNode = f.get('window')?.value;
  if (windowNode !== undefined) {
    const ms = parseDuration(r.string(windowNode, 'window', at) ?? '');
    if (ms === undefined || ms < 1000 || ms % 1000 !== 0) r.error(windowNode, 'window must be a whole number of seconds, e.g. 30s, 5m, 1h', at);
    else windowSeconds = ms / 1000;
  }

  if (unlimited) {
    if (validUnit) r.error(f.get('unit')!.value, 'should not specify rate limit unit when unlimited', at);
  } else if (!validUnit && windowSeconds === undefined) {
    r.error(f.get('unit')?.value ?? node, `invalid rate limit unit '${unitText}'`, at);
  }
  const unit: RateLimitUnit = validUnit ? unitLower : windowSeconds !== undefined ? unitForWindow(windowSeconds) : 'second';
  if (windowSeconds !== undefined && windowSeconds === UNIT_SECONDS[unit] && validUnit) windowSeconds = undefined;

  let requestsPerUnit = 0;
  const rpuNode = f.get('requests_per_unit')?.value;
  if (rpuNode !== undefined) {
    const v = isScalar(rpuNode) ? rpuNode.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) r.error(rpuNode, 'requests_per_unit must be an integer from 0 to 4294967295', at);
    else requestsPerUnit = v;
  }

  const algorithmText = r.string(f.get('algorithm')?.value, 'algorithm', at) ?? 'fixed';
  const algorithm = (ALGORITHMS as readonly string[]).includes(algorithmText) ? (algorithmText as RateLimitPolicy['algorithm']) : undefined;
  if (!algorithm) r.error(f.get('algorithm')!.value, `unknown algorithm '${algorithmText}'${didYouMean(algorithmText, ALGORITHMS)}; use fixed, sliding or gcra`, at);

  const name = r.string(f.get('name')?.value, 'name', at) || undefined;
  const replaces: string[] = [];
  r.mapList(f.get('replaces')?.value, 'replaces', `${at}.replaces`).forEach((m, i) => {
    const rf = r.pairs(m, REPLACES_KEYS, `${at}.replaces[${i}]`);
    const replaced = r.string(rf.get('name')?.value, 'name', `${at}.replaces[${i}]`) ?? '';
    if (replaced === '') r.error(m, 'should not have an empty replaces entry', `${at}.replaces[${i}]`);
    else if (replaced === (name ?? '')) r.error(m, 'replaces should not contain name of same descriptor', `${at}.replaces[${i}]`);
    replaces.push(replaced);
  });

  return { unit, requestsPerUnit, unlimited, name, replaces, algorithm: algorithm ?? 'fixed', windowSeconds };
}

/** Parses one envoyproxy/ratelimit config file's text (one domain per YAML document). */
export function parseRateLimitYaml(text: string, file: string, opts: RateLimitParseOptions = {}): { domains: RateLimitDomain[]; diagnostics: Diagnostic[] } {
  return parseRateLimitFiles([{ file, text }], opts);
}

/** Parses several files' texts together, so duplicate domains across files are caught (or merged). */
export function parseRateLimitFiles(files: { file: string; text: string }[], opts: RateLimitParseOptions = {}): { domains: RateLimitDomain[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const sources: RateLimitDomainSource[] = [];
  for (const { file, text } of files) {
    const lineCounter = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
    for (const doc of Array.isArray(parsed) ? parsed : [parsed]) {
      for (const e of doc.errors) {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        diagnostics.push({ severity: 'error', file, line, col, message: `error loading config file: ${e.message.split('\n')[0]}` });
      }
      if (doc.contents) sources.push({ file, lineCounter, node: doc.contents as Node });
    }
  }
  if (hasErrors(diagnostics)) return { domains: [], diagnostics };
  return parseRateLimitDomains(sources, opts);
}
