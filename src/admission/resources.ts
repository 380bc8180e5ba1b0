/**
 * Admission of compiled resources: each one must encode, come back from the wire exactly as compiled,
 * and satisfy Envoy's protoc-gen-validate rules as decoded. A resource shared by several groups is
 * the same object in each and is checked once; a resource whose content was admitted before (the
 * common case on a change: one route edited among a thousand) is not checked again.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Config, SourcePos } from '../config/model.js';
import type { CompiledSnapshot, EnvoyResource } from '../compile/types.js';
import { decodeMessage, encodeMessage, TYPE_URL_PREFIX } from '../proto/envoy.js';
import { originOf } from './origin.js';
import { validateMessage } from './pgv.js';
import { roundTripMismatches } from './roundtrip.js';

export interface ResourceFinding {
  typeUrl: string;
  name: string;
  path: string;
  rule: string;
  message: string;
}

/** Checks one resource; returns what is wrong with it (empty when it may be served). */
export function checkResource(typeUrl: string, resource: EnvoyResource): ResourceFinding[] {
  const name = resource.name ?? resource.cluster_name ?? '';
  const finding = (path: string, rule: string, message: string): ResourceFinding => ({ typeUrl, name, path, rule, message });
  let bytes: Uint8Array;
  let decoded: Record<string, unknown>;
  try {
    bytes = encodeMessage(typeUrl, resource);
    decoded = decodeMessage(typeUrl, bytes);
  } catch (err) {
    return [finding('', 'wire.encode', `cannot be encoded for the wire: ${(err as Error).message}`)];
  }
  const findings = roundTripMismatches(typeUrl, resource, decoded).map((m) =>
    finding(m.path, 'wire.roundtrip', `${show(m.written)} does not fit the proxy's ${m.protoType} field: it would be sent as ${show(m.sent)}`),
  );
  for (const v of validateMessage(typeUrl, decoded)) findings.push(finding(v.path, v.rule, v.message));
  return findings;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

const shortType = (typeUrl: string) => typeUrl.slice(TYPE_URL_PREFIX.length).split('.').pop();

/** A finding as an operator reads it: at the YAML element that produced the value. */
export function findingToDiagnostic(config: Config, f: ResourceFinding, fallback: SourcePos): Diagnostic {
  const pos = originOf(config, f.typeUrl, f.name, f.path) ?? fallback;
  return {
    severity: 'error',
    file: pos.file,
    line: pos.line,
    col: pos.col,
    message: `${shortType(f.typeUrl)} "${f.name}"${f.path ? ` ${f.path}` : ''}: ${f.message}${f.rule.startsWith('wire.') ? '' : ` (Envoy rule ${f.rule})`}`,
  };
}

/**
 * Remembers the verdicts of resource contents already checked. Bounded by what the last snapshots
 * held: each run keeps only the contents it saw, so memory follows the config, not its history.
 */
export class ResourceAdmission {
  private verdicts = new Map<string, ResourceFinding[]>();

  check(config: Config, snapshot: CompiledSnapshot, fallback: SourcePos): Diagnostic[] {
    const next = new Map<string, ResourceFinding[]>();
    const seen = new Set<EnvoyResource>();
    const diagnostics: Diagnostic[] = [];
    const reported = new Set<string>();
    for (const set of snapshot.groups.values()) {
      for (const [typeUrl, resources] of set) {
        for (const resource of resources.values()) {
          if (seen.has(resource)) continue;
          seen.add(resource);
          const key = `${typeUrl}\0${JSON.stringify(resource)}`;
          const findings = next.get(key) ?? this.verdicts.get(key) ?? checkResource(typeUrl, resource);
          next.set(key, findings);
          for (const f of findings) {
            const d = findingToDiagnostic(config, f, fallback);
            const id = `${d.file}:${d.line}:${d.col}:${d.message}`;
            if (!reported.has(id)) diagnostics.push(d);
            reported.add(id);
          }
        }
      }
    }
    this.verdicts = next;
    return diagnostics;
  }
}
