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
export function parseYaml(file: string, text: string, firstLine = 1): { docs: SourceDoc[]; diagnostics: Diagnostic[] } {
  const lineCounter = shiftLines(new LineCounter(), firstLine - 1);
  const parsed = parseAllDocuments(text, { lineCounter, ...PARSE_OPTIONS });
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

// merge: YAML 1.1 `<<` merge keys, which operators use with anchors to share route fragments.
const PARSE_OPTIONS = { prettyErrors: false, merge: true, uniqueKeys: true } as const;

/**
 * A LineCounter for a text that starts `lines` lines into its file (a document or a list item parsed
 * on its own): it counts the text's lines, and answers positions as lines of the whole file.
 */
export function shiftLines(counter: LineCounter, lines: number): LineCounter {
  if (lines === 0) return counter;
  const shifted = new LineCounter();
  // The same array: lines the parser adds to `counter` are the shifted counter's too.
  shifted.lineStarts = counter.lineStarts;
  shifted.addNewLine = counter.addNewLine;
  shifted.linePos = (offset) => {
    const { line, col } = counter.linePos(offset);
    return { line: line + lines, col };
  };
  return shifted;
}

/**
 * One piece of a document parsed on its own (load-cache.ts: a top-level key, or one item of a
 * top-level list), when it parses cleanly into exactly one document: no error, no warning.
 * Anything else is for the whole document's parse to report.
 */
export function parseYamlPiece(text: string): { doc: Document.Parsed; lineCounter: LineCounter } | undefined {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, ...PARSE_OPTIONS });
  if (!Array.isArray(parsed) || parsed.length !== 1) return undefined;
  const doc = parsed[0];
  if (doc.errors.length || doc.warnings.length) return undefined;
  return { doc: doc as Document.Parsed, lineCounter };
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
    const { node, found, pair } = this.resolve(path);
    return pair ? { node, found, pair } : { node, found };
  }

  /** nodeAt, with the LineCounter of the text the node was parsed from (PieceLocator: not always the document's). */
  protected resolve(path: readonly PathSegment[]): Resolved {
    let node = this.source.doc.contents as Node | null;
    let lineCounter = this.source.lineCounter;
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
      if (next === undefined) return { node, found: false, lineCounter };
      node = next;
      const inner = node ? this.enter(node) : undefined;
      if (inner) ({ node, lineCounter } = inner);
    }
    return { node: this.deref(node), found: true, pair, lineCounter };
  }

  /** A node that stands for a node parsed from another text (PieceLocator), or undefined. */
  protected enter(_node: Node): { node: Node; lineCounter: LineCounter } | undefined {
    return undefined;
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
    const { node, lineCounter } = this.resolve(path);
    const offset = node?.range ? node.range[0] : 0;
    const { line, col } = lineCounter.linePos(offset);
    return { file: this.source.file, line, col };
  }

  private deref(node: Node | null): Node | null {
    return isAlias(node) ? ((node.resolve(this.source.doc) as Node | undefined) ?? node) : node;
  }
}

/**
 * The Locator of item `index` of the top-level list `section`, parsed on its own as a one-item list:
 * it takes the whole document's paths (`[section, index, ...]`) and knows nothing of other items.
 */
export class ItemLocator extends Locator {
  constructor(
    source: SourceDoc,
    readonly section: string,
    readonly index: number,
  ) {
    super(source);
  }

  protected override resolve(path: readonly PathSegment[]): Resolved {
    if (path.length === 0 || path[0] !== this.section) return { node: null, found: false, lineCounter: this.source.lineCounter };
    if (path.length === 1) return super.resolve([]);
    if (path[1] !== this.index) return { ...super.resolve([]), found: false };
    return super.resolve([0, ...path.slice(2)]);
  }
}

/**
 * An ItemLocator over an item parsed in parts (load-cache.ts): its skeleton, in which each part
 * (a route) is a placeholder scalar, and the parts parsed on their own. A path that reaches a
 * placeholder goes on in its part, and positions come from the text the node was parsed from.
 * Aliases are not followed across parts (the cache parses such an item whole).
 */
export class PieceLocator extends ItemLocator {
  constructor(
    source: SourceDoc,
    section: string,
    index: number,
    private readonly parts: ReadonlyMap<string, { node: Node; lineCounter: LineCounter }>,
  ) {
    super(source, section, index);
  }

  protected override enter(node: Node): { node: Node; lineCounter: LineCounter } | undefined {
    return isScalar(node) && typeof node.value === 'string' ? this.parts.get(node.value) : undefined;
  }
}

interface Resolved {
  node: Node | null;
  found: boolean;
  pair?: Pair;
  lineCounter: LineCounter;
}

/** `listeners[0].hosts[1].routes[2].to` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}
