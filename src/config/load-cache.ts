import { isMap, isScalar, isSeq, LineCounter, type Node } from 'yaml';
import { buildFragment } from './build.js';
import type { Diagnostic } from './diagnostics.js';
import { concatFragments, type Fragment } from './fragment.js';
import { listenerMoved, loadDocument, loadFile, type FileLoad } from './load.js';
import { configSchema, type ConfigInput } from './schema.js';
import { ItemLocator, Locator, PieceLocator, parseYaml, parseYamlPiece, shiftLines, type SourceDoc } from './yaml.js';

/**
 * Incremental loading (loadConfigFromFiles with a cache): what a file contributes is remembered by
 * its text, and within a file by the text of its pieces, so an edit re-parses only what it touched.
 *
 * A document is cut, by its text alone, into pieces: each top-level key (`services:`, `ca:`,
 * `auth:`), and each item of a top-level block list (`listeners:`, `clusters:`, ...). A piece is
 * parsed, converted and validated on its own, remembered by (section, text), and built into model
 * elements with positions remembered by (file, section, index, text) and the first line they were
 * built at: a piece that only moved (lines added above it) has its positions moved, a piece whose
 * index changed (items added before it) is built again; neither is parsed again.
 * The pieces' fragments, in buildFragment's order of sections, make the document's fragment.
 *
 * Cutting by text is exact only when every piece means on its own what it means in the document,
 * so anything that could make them differ takes the whole document's path (loadDocument, which is
 * what a cold load runs): a piece that does not parse cleanly into one list item or one key (an
 * alias to another piece's anchor, a flow collection or quoted string cut in two, tabs), a piece the
 * schema refuses (the document's diagnostics then say exactly what a cold load says), an empty or
 * unusual document (a flow mapping, a scalar). A file with a syntax error or YAML warning anywhere,
 * a directive (`%`), a document end marker (`...`), content on a `---` line, a byte order mark or a
 * top-level key written twice is loaded whole (loadFile). Either way the result deep-equals a cold
 * load's, diagnostics and their file:line:col included (test/config/load-cache.test.ts).
 *
 * Memory: only what the current and the previous load used is kept (endLoad).
 */
export class LoadCache {
  private generation = 0;
  private readonly files = new Map<string, Entry<FileLoad>>();
  private readonly documents = new Map<string, Entry<DocumentLoad | undefined>>();
  private readonly parsed = new Map<string, Entry<ParsedPiece | undefined>>();
  private readonly parts = new Map<string, Entry<ParsedPart | undefined>>();
  private readonly built = new Map<string, Entry<{ firstLine: number; fragment: Fragment }>>();
  private counts = { fileHits: 0, pieceParses: 0, partParses: 0, pieceBuilds: 0, pieceRebases: 0, documentLoads: 0, wholeFileLoads: 0 };

  /** What `file` contributes (loadFile's answer, from what is remembered where it can). */
  file(file: string, text: string): FileLoad {
    const key = `${file}\0${text}`;
    const hit = this.get(this.files, key);
    if (hit) {
      this.counts.fileHits++;
      // What it was made from is kept with it: the next edit of this text needs its pieces.
      for (const entry of hit.deps ?? []) entry.generation = this.generation;
      return hit.value;
    }
    this.used = [];
    const value = this.compute(file, text);
    const deps = this.used;
    this.used = undefined;
    this.files.set(key, { value, generation: this.generation, deps });
    return value;
  }

  /** The entries the file being computed uses (file's deps). */
  private used?: Entry<unknown>[];

  private put<T>(map: Map<string, Entry<T>>, key: string, value: T): Entry<T> {
    const entry: Entry<T> = { value, generation: this.generation };
    map.set(key, entry);
    this.used?.push(entry);
    return entry;
  }

  /** Ends one load: forgets everything neither this load nor the one before it used. */
  endLoad(): void {
    for (const map of [this.files, this.documents, this.parsed, this.parts, this.built] as Map<string, Entry<unknown>>[]) {
      for (const [key, entry] of map) if (entry.generation < this.generation - 1) map.delete(key);
    }
    this.generation++;
  }

  /** How many entries are remembered, and what the loads so far did (bench, tests). */
  stats(): { files: number; documents: number; pieces: number; built: number } & LoadCache['counts'] {
    return { files: this.files.size, documents: this.documents.size, pieces: this.parsed.size, built: this.built.size, ...this.counts };
  }

  private get<T>(map: Map<string, Entry<T>>, key: string): Entry<T> | undefined {
    const entry = map.get(key);
    if (entry) {
      entry.generation = this.generation;
      this.used?.push(entry);
    }
    return entry;
  }

  private compute(file: string, text: string): FileLoad {
    const docs = splitFile(text);
    if (docs) {
      const diagnostics: Diagnostic[] = [];
      const fragments: Fragment[] = [];
      let contributes = false;
      let whole = false;
      for (const doc of docs) {
        const loaded = this.document(file, doc);
        if (!loaded) {
          whole = true;
          break;
        }
        diagnostics.push(...loaded.diagnostics);
        fragments.push(...loaded.fragments);
        contributes ||= loaded.contributes;
      }
      // An empty file's diagnostic is loadFile's to make.
      if (!whole && contributes) return { diagnostics, fragments };
    }
    this.counts.wholeFileLoads++;
    return loadFile(file, text);
  }

  /** One document, from its pieces or whole; undefined when the whole file must be loaded at once. */
  private document(file: string, doc: DocumentText): DocumentLoad | undefined {
    if (doc.pieces) {
      const parts: { order: number; index: number; fragment: Fragment }[] = [];
      for (const piece of doc.pieces) {
        const fragment = this.piece(file, piece);
        if (!fragment) {
          parts.length = 0;
          break;
        }
        parts.push({ order: SECTION_ORDER.indexOf(piece.section), index: piece.index, fragment });
      }
      if (parts.length) {
        parts.sort((a, b) => a.order - b.order || a.index - b.index);
        const fragment = concatFragments(parts.map((p) => p.fragment));
        return { diagnostics: [...fragment.diagnostics], fragments: [fragment], contributes: true };
      }
    }
    const key = `${file}\0${doc.firstLine}\0${doc.text}`;
    const hit = this.get(this.documents, key);
    if (hit) return hit.value;
    this.counts.documentLoads++;
    const value = wholeDocument(file, doc);
    this.put(this.documents, key, value);
    return value;
  }

  /** One route of a long listener, parsed on its own and remembered by its text. */
  private part(text: string): ParsedPart | undefined {
    const hit = this.get(this.parts, text);
    if (hit) return hit.value;
    this.counts.partParses++;
    const value = parsePart(text);
    this.put(this.parts, text, value);
    return value;
  }

  /** One piece's fragment, or undefined when its document must be loaded whole. */
  private piece(file: string, piece: Piece): Fragment | undefined {
    // Parsing and validating does not depend on where the piece is (an item keeps its parse when
    // items are added before it); building does (positions and diagnostic paths).
    const id = `${piece.section}\0${piece.index < 0 ? 'key' : 'item'}\0${piece.text}`;
    const builtKey = `${file}\0${piece.index}\0${id}`;
    const built = this.get(this.built, builtKey);
    let parsed = this.get(this.parsed, id); // kept with what was built from it: the piece may move next time
    for (const key of parsed?.value?.partKeys ?? []) this.get(this.parts, key);
    if (built && built.value.firstLine === piece.firstLine) return built.value.fragment;
    if (built && built.value.fragment.rateLimitNodes.length === 0) {
      // Only moved (lines added or removed above it): the same elements, every position moved as much.
      this.counts.pieceRebases++;
      const fragment = shiftFragment(built.value.fragment, piece.firstLine - built.value.firstLine);
      built.value = { firstLine: piece.firstLine, fragment };
      return fragment;
    }
    if (!parsed) {
      this.counts.pieceParses++;
      parsed = this.put(this.parsed, id, parsePiece(piece, (text) => this.part(text)));
    }
    if (!parsed.value) return undefined;
    this.counts.pieceBuilds++;
    const fragment = buildPiece(file, piece, parsed.value);
    this.put(this.built, builtKey, { firstLine: piece.firstLine, fragment });
    return fragment;
  }
}

interface Entry<T> {
  value: T;
  /** The last load that used it. */
  generation: number;
  /** A file's: the entries it was made from. */
  deps?: Entry<unknown>[];
}

type DocumentLoad = FileLoad & { contributes: boolean };

/** The order in which buildFragment builds a document's sections: the pieces' fragments are concatenated in it. */
const SECTION_ORDER = ['ratelimit', 'listeners', 'secrets', 'ca', 'clusters', 'groups', 'auth', 'rollouts', 'services'];
/** Top-level keys that hold lists, cut into one piece per item. */
const LIST_SECTIONS = new Set(['listeners', 'clusters', 'groups', 'secrets', 'rollouts', 'ratelimit']);

/** A top-level key (`index` -1) or one item of a top-level list, as written. */
interface Piece {
  section: string;
  index: number;
  text: string;
  /** 1-based line of the file where `text` starts. */
  firstLine: number;
}

interface DocumentText {
  text: string;
  firstLine: number;
  /** Undefined when the document cannot be cut (it is loaded whole). */
  pieces?: Piece[];
}

interface ParsedPiece {
  doc: SourceDoc['doc'];
  lineCounter: SourceDoc['lineCounter'];
  /** The schema's output for the piece's value. */
  data: unknown;
  /** A piece parsed in parts (a listener's routes): `doc` is its skeleton; each part's node and lines, by placeholder. */
  parts?: Map<string, { node: Node; lineCounter: LineCounter }>;
  /** The parts' cache keys, kept while the piece is. */
  partKeys?: string[];
}

/** One route item parsed on its own: its node, the lines of its text, its plain value. */
interface ParsedPart {
  node: Node;
  lineCounter: LineCounter;
  value: unknown;
}

const DOCUMENT_START = /^---(?:[ \t\r]|$)/;
const DOCUMENT_END = /^\.\.\.(?:[ \t\r]|$)/;
const TOP_KEY = /^([A-Za-z_][A-Za-z0-9_-]*):(?:[ \t]+(.*?))?\r?$/;

/** A line that starts a block list item: `-` then a space, a tab or the line's end. */
function isItem(line: string, indent: number): boolean {
  if (line.charCodeAt(indent) !== 45 /* - */) return false;
  const next = line.charCodeAt(indent + 1);
  return Number.isNaN(next) || next === 32 || next === 9 || next === 13;
}

/** The file's documents, each cut into pieces where it can be; undefined when the file must be loaded whole. */
function splitFile(text: string): DocumentText[] | undefined {
  if (text.charCodeAt(0) === 0xfeff) return undefined;
  const docs: DocumentText[] = [];
  let start = 0; // offset where the current document starts
  let firstLine = 1;
  let lines: { line: string; offset: number; number: number }[] = [];
  let offset = 0;
  let number = 1;
  const flush = (end: number) => {
    const doc: DocumentText = { text: text.slice(start, end), firstLine };
    const cut = cutDocument(text, lines, end);
    if (cut === 'file') return false;
    if (cut) doc.pieces = cut;
    docs.push(doc);
    return true;
  };
  while (offset < text.length) {
    let nl = text.indexOf('\n', offset);
    if (nl < 0) nl = text.length;
    const line = text.slice(offset, nl);
    const c = line.charCodeAt(0);
    if (c === 37 /* % */ || (c === 46 && DOCUMENT_END.test(line))) return undefined;
    if (c === 45 && DOCUMENT_START.test(line)) {
      const rest = line.slice(3).trim();
      if (rest !== '' && !rest.startsWith('#')) return undefined;
      if (offset > start || docs.length > 0) {
        if (!flush(offset)) return undefined;
      }
      start = offset;
      firstLine = number;
      lines = [];
    } else {
      lines.push({ line, offset, number });
    }
    offset = nl + 1;
    number++;
  }
  if (!flush(text.length)) return undefined;
  return docs;
}

/**
 * A document's pieces, from its lines (the `---` line left out); undefined when it cannot be cut
 * (it is loaded whole), 'file' when a top-level key is written twice (a duplicate key: the whole
 * file's parse reports it).
 */
function cutDocument(text: string, lines: { line: string; offset: number; number: number }[], end: number): Piece[] | undefined | 'file' {
  const pieces: Piece[] = [];
  const starts: { section: string | undefined; index: number; offset: number; number: number }[] = [];
  const seen = new Set<string>();
  let section: string | undefined;
  let mode: 'pending' | 'list' | 'block' | 'inline' = 'block';
  let listIndent = 0;
  let index = 0;
  for (const { line, offset, number } of lines) {
    let indent = 0;
    while (line.charCodeAt(indent) === 32) indent++;
    const c = line.charCodeAt(indent);
    if (indent === line.length || c === 13 || c === 35 /* # */) continue; // blank or comment: part of the piece before it
    if (c === 9) return undefined; // a tab in the indentation
    if (indent === 0 && !isItem(line, 0)) {
      const m = TOP_KEY.exec(line);
      if (!m) return undefined;
      if (mode === 'pending') return undefined; // `key:` with nothing under it: null, the schema's to report
      section = m[1];
      if (seen.has(section)) return 'file';
      seen.add(section);
      const rest = (m[2] ?? '').trim();
      const keyAt = { offset, number };
      if (rest === '' || rest.startsWith('#')) {
        mode = 'pending';
        // The piece before ends here, whatever this key turns out to hold.
        starts.push({ section: undefined, index: -1, ...keyAt });
      } else {
        mode = 'inline';
        starts.push({ section, index: -1, ...keyAt });
      }
      continue;
    }
    if (section === undefined) return undefined;
    if (mode === 'pending') {
      if (isItem(line, indent) && LIST_SECTIONS.has(section)) {
        mode = 'list';
        listIndent = indent;
        index = 0;
        starts.push({ section, index: index++, offset, number });
      } else {
        mode = 'block';
        starts[starts.length - 1].section = section;
      }
      continue;
    }
    if (mode === 'list') {
      if (indent < listIndent) return undefined;
      if (indent === listIndent) {
        if (!isItem(line, indent)) return undefined;
        starts.push({ section, index: index++, offset, number });
      }
      continue;
    }
    if (indent === 0) return undefined; // a list item at column 0 under a key that is not a list's
  }
  if (mode === 'pending' || starts.length === 0) return undefined;
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i];
    if (s.section === undefined) continue; // a list's key line
    const to = i + 1 < starts.length ? starts[i + 1].offset : end;
    pieces.push({ section: s.section, index: s.index, text: text.slice(s.offset, to), firstLine: s.number });
  }
  return pieces;
}

/** A listener this long is parsed in parts: its routes one by one (each remembered), and the rest. */
const PARTS_OVER_CHARS = 4096;
/** Placeholders no operator writes: a nonce of this process. */
const PLACEHOLDER = `__banyan_part_${Math.random().toString(36).slice(2)}_`;
const ROUTES_KEY = /^( *)routes:[ \t]*(?:#.*)?\r?$/;

/**
 * Parses, converts and validates one piece; undefined when it does not stand on its own. A long
 * listener is parsed in parts when it can be (`part` parses one route, remembered by its text).
 */
function parsePiece(piece: Piece, part: (text: string) => ParsedPart | undefined): ParsedPiece | undefined {
  if (piece.section === 'listeners' && piece.index >= 0 && piece.text.length > PARTS_OVER_CHARS) {
    const inParts = parseInParts(piece, part);
    if (inParts) return inParts;
  }
  const parsed = parseYamlPiece(piece.text);
  if (!parsed) return undefined;
  return validatePiece(piece, parsed);
}

/** The schema's view of a parsed piece; undefined when it refuses it (the document's load says why). */
function validatePiece(piece: Piece, parsed: { doc: SourceDoc['doc']; lineCounter: LineCounter }, stitch?: (plain: unknown) => unknown): ParsedPiece | undefined {
  const root = parsed.doc.contents;
  if (piece.index >= 0) {
    if (!isSeq(root) || root.items.length !== 1) return undefined;
  } else if (!isMap(root) || root.items.length !== 1 || !isScalar(root.items[0].key) || root.items[0].key.value !== piece.section) {
    return undefined;
  }
  let plain: unknown;
  try {
    plain = parsed.doc.toJS();
  } catch {
    return undefined;
  }
  if (stitch) plain = stitch(plain);
  if (plain === undefined) return undefined;
  const value = piece.index >= 0 ? (plain as unknown[])[0] : (plain as Record<string, unknown>)[piece.section];
  const result = configSchema.safeParse({ [piece.section]: piece.index >= 0 ? [value] : value }, { reportInput: true });
  if (!result.success) return undefined;
  const out = (result.data as Record<string, unknown>)[piece.section];
  return { ...parsed, data: piece.index >= 0 ? (out as unknown[])[0] : out };
}

/**
 * A listener item parsed in parts: each item of each block `routes:` list on its own, and the
 * skeleton (the item with each route replaced by a one-line placeholder, its lines mapped back to the
 * item's). The plain values are stitched together and validated as one listener, and PieceLocator
 * answers positions from the text each node was parsed from. Undefined (parse it whole) when a part
 * or the skeleton does not parse cleanly, a part holds an anchor, alias or merge key, or a
 * placeholder is not found exactly once.
 */
function parseInParts(piece: Piece, part: (text: string) => ParsedPart | undefined): ParsedPiece | undefined {
  const lines = piece.text.split('\n');
  const skeleton: string[] = [];
  /** Skeleton line (0-based) → the item's line (1-based). */
  const lineOf: number[] = [];
  const parts: { text: string; line: number; indent: number }[] = [];
  let list: { key: number; item: number } | undefined; // indents of the `routes:` key and its items
  let current: { start: number; indent: number } | undefined;
  const close = (end: number) => {
    if (!current) return;
    parts.push({ text: lines.slice(current.start, end).join('\n') + '\n', line: current.start + 1, indent: current.indent });
    skeleton.push(`${' '.repeat(current.indent)}- ${PLACEHOLDER}${parts.length - 1}`);
    lineOf.push(current.start + 1);
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let indent = 0;
    while (line.charCodeAt(indent) === 32) indent++;
    const c = line.charCodeAt(indent);
    const blank = indent === line.length || c === 13 || c === 35;
    if (list && !blank) {
      const item = isItem(line, indent);
      if (list.item < 0) {
        if (item && indent >= list.key) list.item = indent;
        else list = undefined;
      }
      if (list && indent === list.item && item) {
        close(i);
        current = { start: i, indent };
        continue;
      }
      if (list && indent > list.item) continue; // inside the current route
      close(i);
      list = undefined;
    }
    if (current) continue; // a blank or comment line inside a route
    skeleton.push(line);
    lineOf.push(i + 1);
    const m = blank ? null : ROUTES_KEY.exec(line);
    if (m) list = { key: m[1].length, item: -1 };
  }
  close(lines.length);
  if (parts.length < 2) return undefined;
  const parsedParts: ParsedPart[] = [];
  for (const p of parts) {
    const parsed = part(p.text);
    if (!parsed) return undefined;
    parsedParts.push(parsed);
  }
  const sk = parseYamlPiece(skeleton.join('\n'));
  if (!sk) return undefined;
  const base = sk.lineCounter;
  const mapped = new LineCounter();
  mapped.lineStarts = base.lineStarts;
  mapped.linePos = (offset) => {
    const { line, col } = base.linePos(offset);
    return { line: lineOf[line - 1] ?? line, col };
  };
  const byPlaceholder = new Map(parsedParts.map((p, i) => [`${PLACEHOLDER}${i}`, p]));
  const seen = new Set<string>();
  let bad = false;
  const stitch = (v: unknown): unknown => {
    if (typeof v === 'string' && v.startsWith(PLACEHOLDER)) {
      const p = byPlaceholder.get(v);
      if (!p || seen.has(v)) bad = true;
      seen.add(v);
      return p?.value;
    }
    if (Array.isArray(v)) return v.map(stitch);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = stitch(x);
      return out;
    }
    return v;
  };
  const result = validatePiece(piece, { doc: sk.doc, lineCounter: mapped }, (plain) => {
    const out = stitch(plain);
    return bad || seen.size !== parts.length ? undefined : out;
  });
  if (!result) return undefined;
  result.parts = new Map(parsedParts.map((p, i) => [`${PLACEHOLDER}${i}`, { node: p.node, lineCounter: shiftLines(p.lineCounter, parts[i].line - 1) }]));
  result.partKeys = parts.map((p) => p.text);
  return result;
}

/** One route item on its own: a one-item block list, no anchor, alias or merge key. */
function parsePart(text: string): ParsedPart | undefined {
  if (/[&*]|<</.test(text)) return undefined;
  const parsed = parseYamlPiece(text);
  if (!parsed) return undefined;
  const root = parsed.doc.contents;
  if (!isSeq(root) || root.items.length !== 1) return undefined;
  let plain: unknown;
  try {
    plain = parsed.doc.toJS();
  } catch {
    return undefined;
  }
  return { node: root.items[0] as Node, lineCounter: parsed.lineCounter, value: (plain as unknown[])[0] };
}

/** One piece's model elements, with the file's positions. */
function buildPiece(file: string, piece: Piece, parsed: ParsedPiece): Fragment {
  const source: SourceDoc = { file, doc: parsed.doc, lineCounter: shiftLines(parsed.lineCounter, piece.firstLine - 1) };
  if (piece.index < 0) return buildFragment({ [piece.section]: parsed.data } as ConfigInput, new Locator(source));
  // A sparse list with the item at its own index: buildFragment's paths (and so every position and
  // diagnostic path) are the whole document's, and forEach skips the holes.
  const list: unknown[] = [];
  list[piece.index] = parsed.data;
  const locator = parsed.parts
    ? new PieceLocator(source, piece.section, piece.index, new Map([...parsed.parts].map(([k, p]) => [k, { node: p.node, lineCounter: shiftLines(p.lineCounter, piece.firstLine - 1) }])))
    : new ItemLocator(source, piece.section, piece.index);
  return buildFragment({ [piece.section]: list } as ConfigInput, locator);
}

/**
 * A built piece moved by `lines` lines: a copy in which every position (any plain object with a
 * string `file` and numeric `line` and `col`: model positions, diagnostics) is that many lines
 * further. The model is plain data (objects, arrays, primitives); objects shared inside the
 * fragment stay shared in the copy (a rollout site's spec is the rollout itself). Pieces holding
 * YAML nodes (the `ratelimit:` items, read again by their own parser) are built again instead.
 */
function shiftFragment(fragment: Fragment, lines: number): Fragment {
  const copies = new Map<object, unknown>();
  const shift = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const done = copies.get(value);
    if (done !== undefined) return done;
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      copies.set(value, out);
      for (const v of value) out.push(shift(v));
      return out;
    }
    const out: Record<string, unknown> = {};
    copies.set(value, out);
    const from = value as Record<string, unknown>;
    for (const k in from) out[k] = shift(from[k]);
    if (typeof from.file === 'string' && typeof from.line === 'number' && typeof from.col === 'number') out.line = from.line + lines;
    return out;
  };
  const moved = shift(fragment) as Fragment;
  fragment.listeners.forEach((l, i) => listenerMoved(l, moved.listeners[i]));
  return moved;
}

/**
 * A document that cannot be cut, parsed on its own with the file's line numbers: what a cold load
 * makes of it, or undefined when it has a syntax error or a warning (the whole file is then loaded
 * at once, so that the parser's view of the file is a cold load's).
 */
function wholeDocument(file: string, doc: DocumentText): DocumentLoad | undefined {
  const parsed = parseYaml(file, doc.text, doc.firstLine);
  if (parsed.diagnostics.length || parsed.docs.length > 1) return undefined;
  if (parsed.docs.length === 0) return { diagnostics: [], fragments: [], contributes: false };
  return loadDocument(parsed.docs[0]);
}
