/**
 * The admin API depends on the interface it defines (src/admin/operations.ts), never on the server
 * that implements it: no module under src/admin/ may import from src/server/, and the modules under
 * src/admin/ import each other without a cycle. Type-only imports count: they couple modules all
 * the same.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');
const ADMIN = path.join(SRC, 'admin');
const SERVER = path.join(SRC, 'server');

/** Specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
export function specifiers(text: string): string[] {
  const re = /(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)['"]/g;
  return [...text.matchAll(re)].map((m) => m[1]);
}

/** The file a relative specifier names (ESM spells `.ts` sources `.js`); undefined for packages. */
function resolve(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.resolve(path.dirname(fromFile), spec).replace(/\.js$/, '.ts');
}

/** One cycle of `graph` as a path that starts and ends at the same node, or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const at = onPath.indexOf(node);
    if (at >= 0) return [...onPath.slice(at), node];
    if (done.has(node)) return undefined;
    onPath.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    onPath.pop();
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

const rel = (file: string) => path.relative(SRC, file);
const inside = (dir: string, file: string) => file.startsWith(dir + path.sep);

function adminImports(): Map<string, string[]> {
  return new Map(
    sources(ADMIN).map((file) => [file, specifiers(readFileSync(file, 'utf8')).flatMap((s) => resolve(file, s) ?? [])]),
  );
}

describe('src/admin imports', () => {
  const graph = adminImports();

  it('finds the admin modules and their imports', () => {
    expect([...graph.keys()].map(rel)).toContain('admin/routes/ops.ts');
    expect(graph.get(path.join(ADMIN, 'routes/ops.ts'))!.map(rel)).toContain('admin/routes/weights.ts');
  });

  it('never reach into src/server/', () => {
    const upward = [...graph].flatMap(([file, targets]) => targets.filter((t) => inside(SERVER, t)).map((t) => `${rel(file)} → ${rel(t)}`));
    expect(upward).toEqual([]);
  });

  it('form no cycle', () => {
    const internal = new Map([...graph].map(([file, targets]) => [file, targets.filter((t) => inside(ADMIN, t))]));
    expect(findCycle(internal)?.map(rel)).toBeUndefined();
  });
});

describe('the scan itself', () => {
  it('reads every import form, type-only ones included', () => {
    const text = [
      "import type { ControlPlane } from '../../server/control.js';",
      "import { a,\n  b } from './a.js';",
      "export { c } from './c.js';",
      "import './side-effect.js';",
      "const d = await import('./d.js');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(specifiers(text)).toEqual(['../../server/control.js', './a.js', './c.js', './side-effect.js', './d.js', 'zod']);
  });

  it('finds a planted cycle and passes a tree', () => {
    const tree = new Map([['ops', ['weights', 'history']], ['weights', ['body']], ['history', ['body']], ['body', []]]);
    expect(findCycle(tree)).toBeUndefined();
    tree.set('weights', ['body', 'ops']);
    expect(findCycle(tree)).toEqual(['ops', 'weights', 'ops']);
  });
});
