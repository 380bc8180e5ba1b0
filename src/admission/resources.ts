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
import type { WireForm } from '../proto/wire-form.js';
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

/** Checks one resource: what is wrong with it (empty when it may be served) and, if it encodes, its bytes. */
export function checkResource(typeUrl: string, resource: EnvoyResource): { findings: ResourceFinding[]; bytes?: Uint8Array } {
  const name = resource.name ?? resource.cluster_name ?? '';
  const finding = (path: string, rule: string, message: string): ResourceFinding => ({ typeUrl, name, path, rule, message });
  let bytes: Uint8Array;
  let decoded: Record<string, unknown>;
  try {
    bytes = encodeMessage(typeUrl, resource);
    decoded = decodeMessage(typeUrl, bytes);
  } catch (err) {
    return { findings: [finding('', 'wire.encode', `cannot be encoded for the wire: ${(err as Error).message}`)] };
  }
  const findings = roundTripMismatches(typeUrl, resource, decoded).map((m) =>
    finding(m.path, 'wire.roundtrip', `${show(m.written)} does not fit the proxy's ${m.protoType} field: it would be sent as ${show(m.sent)}`),
  );
  for (const v of validateMessage(typeUrl, decoded)) findings.push(finding(v.path, v.rule, v.message));
  return { findings, bytes };
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

interface Verdict {
  findings: ResourceFinding[];
  wire?: WireForm;
}

/**
 * Remembers the verdicts of resource contents already checked, with their wire form. Bounded by what
 * the last snapshot held: each run keeps only the contents it saw, so memory follows the config, not
 * its history (and the bytes are the same objects the xDS cache keeps).
 */
export class ResourceAdmission {
  /** By type URL, then canonical JSON (kept apart: concatenating megabyte JSON strings into one key costs more than the check). */
  private verdicts = new Map<string, Map<string, Verdict>>();

  check(config: Config, snapshot: CompiledSnapshot, fallback: SourcePos): { diagnostics: Diagnostic[]; wire: Map<object, WireForm> } {
    const next = new Map<string, Map<string, Verdict>>();
    const wire = new Map<object, WireForm>();
    const diagnostics: Diagnostic[] = [];
    const reported = new Set<string>();
    for (const set of snapshot.groups.values()) {
      for (const [typeUrl, resources] of set) {
        for (const resource of resources.values()) {
          if (wire.has(resource)) continue;
          const json = JSON.stringify(resource);
          let nextOfType = next.get(typeUrl);
          if (!nextOfType) next.set(typeUrl, (nextOfType = new Map()));
          let verdict = nextOfType.get(json) ?? this.verdicts.get(typeUrl)?.get(json);
          if (!verdict) {
            const checked = checkResource(typeUrl, resource);
            verdict = { findings: checked.findings, wire: checked.bytes && { json, bytes: checked.bytes } };
          }
          nextOfType.set(json, verdict);
          if (verdict.wire) wire.set(resource, verdict.wire);
          for (const f of verdict.findings) {
            const d = findingToDiagnostic(config, f, fallback);
            const id = `${d.file}:${d.line}:${d.col}:${d.message}`;
            if (!reported.has(id)) diagnostics.push(d);
            reported.add(id);
          }
        }
      }
    }
    this.verdicts = next;
    return { diagnostics, wire };
  }
}
