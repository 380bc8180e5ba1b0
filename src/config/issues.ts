import type { z } from 'zod';
import type { Diagnostic } from './diagnostics.js';
import { closest, didYouMean } from './suggest.js';
import { formatPath, type Locator, type PathSegment } from './yaml.js';

type Issue = z.core.$ZodIssue;
// zod's internals are typed per schema class; walking an arbitrary tree only needs the def record.
type AnySchema = { _zod: { def: Record<string, any> } };

/**
 * Turns zod issues into positioned diagnostics. zod knows paths and what it expected; the YAML tree
 * knows where each path is, and the schema knows which keys would have been valid.
 */
export function issuesToDiagnostics(issues: readonly Issue[], schema: AnySchema, locator: Locator): Diagnostic[] {
  const flat = issues.flatMap((issue) => flatten(issue, []));
  // A typo'd key also trips the object's "needs one of" rules and leaves the intended key missing;
  // the typo is the news, so those follow-on issues are dropped.
  const typoAt = new Set<string>();
  const missingBecauseOfTypo = new Set<string>();
  for (const { issue, path } of flat) {
    if (issue.code !== 'unrecognized_keys') continue;
    typoAt.add(formatPath(path));
    const allowed = objectKeysAt(schema, path);
    for (const key of issue.keys) {
      const meant = closest(key, allowed);
      if (meant !== undefined) missingBecauseOfTypo.add(formatPath([...path, meant]));
    }
  }
  const out: Diagnostic[] = [];
  for (const { issue, path } of flat) {
    const owner = issue.code === 'custom' && issue.params?.at === 'key' ? path.slice(0, -1) : path;
    if (issue.code === 'custom' && typoAt.has(formatPath(owner))) continue;
    if (isMissing(issue, path, locator) && missingBecauseOfTypo.has(formatPath(path))) continue;
    explain(issue, path, schema, locator, out);
  }
  return out;
}

/** Issues with absolute paths; a union's issues are replaced by those of the branch that was meant. */
function flatten(issue: Issue, prefix: readonly PathSegment[]): { issue: Issue; path: PathSegment[] }[] {
  const path = [...prefix, ...(issue.path as PathSegment[])];
  if (issue.code === 'invalid_union') {
    // A branch that accepted the value's type (its problems are deeper, or about keys) is what was meant.
    const meant = issue.errors.find((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0 || (i.code !== 'invalid_type' && i.code !== 'invalid_value')));
    if (meant) return meant.flatMap((inner) => flatten(inner, path));
  }
  return [{ issue, path }];
}

function isMissing(issue: Issue, path: readonly PathSegment[], locator: Locator): boolean {
  const input = (issue as { input?: unknown }).input;
  return (issue.code === 'invalid_type' || issue.code === 'invalid_union') && input === undefined && path.length > 0 && !locator.nodeAt(path).found;
}

function explain(issue: Issue, path: PathSegment[], schema: AnySchema, locator: Locator, out: Diagnostic[]): void {
  const at = (where: readonly PathSegment[], message: string, keyOf?: string) => {
    const node = keyOf === undefined ? locator.nodeAt(where).node : locator.keyNode(where, keyOf);
    const { line, col } = locator.posOfNode(node);
    const shown = keyOf === undefined ? where : [...where, keyOf];
    out.push({ severity: 'error', file: locator.file, line, col, message, ...(shown.length ? { path: formatPath(shown) } : {}) });
  };
  const subject = subjectOf(path);
  const input = (issue as { input?: unknown }).input;
  if (isMissing(issue, path, locator)) {
    at(path.slice(0, -1), `missing required key "${String(path[path.length - 1])}"`);
    return;
  }

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = objectKeysAt(schema, path);
      for (const key of issue.keys) at(path, `unknown key "${key}"${didYouMean(key, allowed)}`, key);
      return;
    }
    case 'invalid_type':
      at(path, `${subject}expected ${typeName(issue.expected)}, got ${describe(input)}`);
      return;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const hint = typeof input === 'string' ? didYouMean(input, issue.values.map(String)) : '';
      at(path, `${subject}expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}, got ${describe(input)}${hint}`);
      return;
    }
    case 'invalid_union': {
      // A union given its own message (`error:` in the schema) knows better than a list of types.
      if (!issue.message.startsWith('Invalid input')) {
        at(path, `${subject}${issue.message}, got ${describe(input)}`);
        return;
      }
      const alternatives: string[] = [];
      const values: string[] = [];
      for (const branch of issue.errors) {
        for (const i of branch) {
          if (i.code === 'invalid_type') alternatives.push(typeName(i.expected));
          else if (i.code === 'invalid_value') {
            values.push(...i.values.map(String));
            alternatives.push(...i.values.map((v) => JSON.stringify(v)));
          }
        }
      }
      const hint = typeof input === 'string' ? didYouMean(input, values) : '';
      at(path, `${subject}expected ${joinOr([...new Set(alternatives)])}, got ${describe(input)}${hint}`);
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      if (issue.origin === 'array') {
        at(path, `${subject}needs ${issue.code === 'too_small' ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`);
      } else if (issue.origin === 'string') {
        at(path, bound === 1 && issue.code === 'too_small' ? `${subject}must not be empty` : `${subject}length must be ${issue.code === 'too_small' ? 'at least' : 'at most'} ${bound}`);
      } else {
        const cmp = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'greater than') : issue.inclusive ? 'at most' : 'less than';
        at(path, `${subject}must be ${cmp} ${bound}, got ${describe(input)}`);
      }
      return;
    }
    case 'invalid_format':
      at(path, `${subject}${issue.format === 'url' ? 'expected an http(s) URL' : `expected ${issue.format} format`}, got ${describe(input)}`);
      return;
    case 'custom':
      if (issue.params?.at === 'key' && typeof path[path.length - 1] === 'string') at(path.slice(0, -1), issue.message, String(path[path.length - 1]));
      else at(path, issue.params?.subject ? `${subject}${issue.message}` : issue.message);
      return;
    default:
      at(path, `${subject}${issue.message}`);
  }
}

/** `"port": ` for a keyed value, nothing for list items (their parent key is in the path). */
function subjectOf(path: readonly PathSegment[]): string {
  const last = path[path.length - 1];
  return typeof last === 'string' ? `"${last}": ` : '';
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function joinOr(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? 'something else') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** What the operator wrote, shortly: `string "abc"`, `number 1.5`, `a list`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `number ${value}`;
  return `${typeof value} ${String(value)}`;
}

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s._zod.def;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else return s;
  }
}

/** The keys an object schema at `path` accepts (for "did you mean"). Unions: their object options. */
function objectKeysAt(root: AnySchema, path: readonly PathSegment[]): string[] {
  let candidates: AnySchema[] = [root];
  for (const seg of path) {
    const next: AnySchema[] = [];
    for (const c of candidates.flatMap(expandUnion)) {
      const def = c._zod.def;
      if (def.type === 'object' && typeof seg === 'string' && def.shape[seg]) next.push(def.shape[seg]);
      else if (def.type === 'array' && typeof seg === 'number') next.push(def.element);
      else if (def.type === 'record') next.push(def.valueType);
    }
    candidates = next;
  }
  return candidates.flatMap(expandUnion).flatMap((c) => (c._zod.def.type === 'object' ? Object.keys(c._zod.def.shape) : []));
}

function expandUnion(schema: AnySchema): AnySchema[] {
  const s = unwrap(schema);
  return s._zod.def.type === 'union' ? (s._zod.def.options as AnySchema[]).flatMap(expandUnion) : [s];
}
