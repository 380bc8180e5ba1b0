import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node, type Pair } from 'yaml';
import type { Diagnostic } from './diagnostics.js';
import type { SourcePos } from './model.js';

export type PathSegment = string | number;

/** One YAML document of one file, with what it takes to point back into the text. */
export interface SourceDoc {
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/**
 * Parses every document of a file (`---` separated). Syntax errors, duplicate keys and YAML warnings
 * come back as positioned diagnostics; documents with errors are not returned, since their trees
 * may be partial and must not be half-applied.
 */
export function parseYaml(file: string, text: string): { docs: SourceDoc[]; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // merge: YAML 1.1 `<<` merge keys, which operators use with anchors to share route fragments.
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const all = Array.isArray(parsed) ? parsed : [parsed];
  const docs: SourceDoc[] = [];
  const diagnostics: Diagnostic[] = [];
  const report = (severity: Diagnostic['severity'], offset: number, message: string) => {
    const { line, col } = lineCounter.linePos(offset);
    diagnostics.push({ severity, file, line, col, message });
  };
  for (const doc of all) {
    for (const e of doc.errors) report('error', e.pos[0], yamlMessage(e.code, e.message));
    for (const w of doc.warnings) report('warning', w.pos[0], yamlMessage(w.code, w.message));
    if (doc.errors.length === 0) docs.push({ file, doc: doc as Document.Parsed, lineCounter });
  }
  return { docs, diagnostics };
}

function yamlMessage(code: string, message: string): string {
  const text = message.replace(/\s+at line \d+, column \d+[\s\S]*$/, '').trim();
  return code === 'DUPLICATE_KEY' ? `duplicate key: ${text}` : `YAML syntax error: ${text}`;
}

/** Answers "where in the file is this path" for one document. */
export class Locator {
  constructor(readonly source: SourceDoc) {}

  get file(): string {
    return this.source.file;
  }

  /** The node at `path`, or the deepest existing ancestor when the path does not exist (missing key). */
  nodeAt(path: readonly PathSegment[]): { node: Node | null; found: boolean; pair?: Pair } {
    let node = this.source.doc.contents as Node | null;
    let pair: Pair | undefined;
    for (const seg of path) {
      node = this.deref(node);
      let next: Node | null | undefined;
      pair = undefined;
      if (isMap(node)) {
        pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg)) as Pair | undefined;
        next = pair ? ((pair.value as Node | null) ?? (pair.key as Node)) : undefined;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg] as Node | undefined;
      }
      if (next === undefined) return { node, found: false };
      node = next;
    }
    return { node: this.deref(node), found: true, pair };
  }

  /** The key node of `key` inside the map at `path` (for unknown-key diagnostics). */
  keyNode(path: readonly PathSegment[], key: string): Node | null {
    const { node } = this.nodeAt(path);
    if (!isMap(node)) return node;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    return (pair?.key as Node | undefined) ?? node;
  }

  /** The source text of a non-string scalar at `path` (a number or boolean as written), else undefined. */
  scalarText(path: readonly PathSegment[]): string | undefined {
    const { node, found } = this.nodeAt(path);
    if (!found || !isScalar(node) || typeof node.value === 'string') return undefined;
    return typeof node.source === 'string' ? node.source : undefined;
  }

  posOfNode(node: Node | null): SourcePos {
    const offset = node?.range ? node.range[0] : 0;
    const { line, col } = this.source.lineCounter.linePos(offset);
    return { file: this.source.file, line, col };
  }

  pos(path: readonly PathSegment[]): SourcePos {
    return this.posOfNode(this.nodeAt(path).node);
  }

  private deref(node: Node | null): Node | null {
    return isAlias(node) ? ((node.resolve(this.source.doc) as Node | undefined) ?? node) : node;
  }
}

/** `listeners[0].hosts[1].routes[2].to` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}
