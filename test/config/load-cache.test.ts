import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFromFiles, type LoadResult } from '../../src/config/load.js';
import { LoadCache } from '../../src/config/load-cache.js';
import type { SourceFile } from '../../src/config/source.js';

const root = join(import.meta.dirname, '../..');
const example = readFileSync(join(root, 'examples/banyan.yaml'), 'utf8');
/** A second file that refers across files: clusters and a listener of the first. */
const other = [
  'listeners:',
  '  - name: b-edge',
  '    port: 10100',
  '    routes:',
  '      - name: b-one',
  '        match: { prefix: /b/ }',
  '        to: [{ cluster: gen-c-2, weight: 50 }, { cluster: monolith, weight: 50 }]',
  '      - name: b-two',
  '        match: { path: /b/two }',
  '        to: auth-v2',
  'groups:',
  '  - name: b-group',
  '    match: { cluster: "b-*" }',
  '    listeners: [b-edge, gen-1]',
  '',
].join('\n');

/** A small deterministic PRNG (mulberry32): every failure names its seed and step. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Listeners with routes, in a document of their own, and the clusters they send to in another. */
function generated(listeners: number, routes: number): string {
  const out: string[] = ['# generated', 'listeners:'];
  for (let l = 0; l < listeners; l++) {
    out.push(`  - name: gen-${l}`, `    port: ${20000 + l}`, '    hosts:', '      - domains: ["*"]', '        routes:');
    for (let r = 0; r < routes; r++) {
      const i = l * routes + r;
      out.push(`          - name: gen-route-${i}`, `            match: { prefix: /gen-${i}/ }`, `            to: [{ cluster: gen-c-${i % 7}, weight: 70 }, { cluster: gen-c-${(i + 1) % 7}, weight: 30 }]`);
    }
  }
  out.push('---', 'clusters:');
  for (let c = 0; c < 7; c++) out.push(`  - name: gen-c-${c}`, `    endpoints: [10.9.0.${c + 1}:8080]`);
  out.push('services:', '  ratelimit: 127.0.0.1:8081');
  return out.join('\n') + '\n';
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/**
 * One random edit of one line (or a few): most keep the config valid (a weight, an inserted comment
 * that moves everything below, a new route), some break it in every way a cache could get wrong
 * (syntax, schema, duplicate keys, a document marker, an anchor and its alias in two pieces, a tab,
 * an unknown cluster, an unreachable route, a directive).
 */
function edit(text: string, r: () => number): string {
  const lines = text.split('\n');
  const at = Math.floor(r() * lines.length);
  const weighted = lines.map((l, i) => (/weight: \d+.*weight: \d+/.test(l) ? i : -1)).filter((i) => i >= 0);
  const kind = Math.floor(r() * 20) - 4;
  switch (kind) {
    case -4:
    case -3:
    case -2:
    case -1:
    case 0:
    case 1:
    case 2: {
      if (!weighted.length) break;
      const i = pick(r, weighted);
      const w = Math.floor(r() * 101);
      lines[i] = lines[i].replace(/weight: \d+(.*)weight: \d+/, `weight: ${w}$1weight: ${100 - w}`);
      break;
    }
    case 3:
      lines.splice(at, 0, pick(r, ['', '# a comment', '    # indented comment']));
      break;
    case 4:
      lines.splice(at, 1);
      break;
    case 5:
      lines.splice(at, 0, lines[at] ?? '');
      break;
    case 6: {
      const i = lines.findIndex((l) => /^ {10}- name: /.test(l));
      if (i < 0) break;
      const n = Math.floor(r() * 1000);
      lines.splice(i, 0, `          - name: added-${n}`, `            match: { prefix: /added-${n}/ }`, `            to: ${pick(r, ['monolith', 'gen-c-1', 'nowhere'])}`);
      break;
    }
    case 7:
      lines.splice(at, 0, '---');
      break;
    case 8:
      if (weighted.length) {
        const i = pick(r, weighted);
        lines[i] = lines[i].replace(/weight: \d+/, 'weight: 250');
      }
      break;
    case 9: {
      const ends = lines.map((l, i) => (/endpoints: \[/.test(l) ? i : -1)).filter((i) => i >= 0);
      if (ends.length < 2) break;
      const a = pick(r, ends);
      const b = pick(r, ends);
      lines[a] = lines[a].replace('endpoints: [', 'endpoints: &eps [').replace(/&eps \[.*$/, '&eps [10.1.1.1:80]');
      lines[b] = lines[b].replace(/endpoints: .*$/, 'endpoints: *eps');
      break;
    }
    case 10:
      lines[at] = `\t${lines[at] ?? ''}`;
      break;
    case 11:
      lines[at] = (lines[at] ?? '').replace(/cluster: ([\w-]+)/, 'cluster: $1-gone');
      break;
    case 12:
      lines[at] = (lines[at] ?? '').replace(/^(\s*)/, '$1 ');
      break;
    case 13:
      lines.splice(at, 0, pick(r, ['groups:', 'listeners: []', 'bogus: 1', '  - name: stray', '"quoted": 1']));
      break;
    case 14: {
      const i = lines.findIndex((l) => /match: \{ prefix: \/gen-/.test(l));
      if (i >= 0) lines[i] = lines[i].replace(/prefix: \/gen-\d+\//, 'prefix: /');
      break;
    }
    default:
      lines.splice(at, 0, pick(r, ['%YAML 1.2', '...', '--- # next', '--- {a: 1}', 'x: "unterminated']));
  }
  return lines.join('\n');
}

/** The parts of a result a caller sees, as plain data (positions, messages, the model). */
const plain = (r: LoadResult) => JSON.parse(JSON.stringify(r)) as unknown;

describe('incremental load (LoadCache)', () => {
  it('deep-equals a cold load after every random edit of a multi-document file, diagnostics and positions included', () => {
    let withErrors = 0;
    let valid = 0;
    const totals: Record<string, number> = {};
    for (const seed of [1, 2, 3, 4]) {
      const r = rng(seed);
      const cache = new LoadCache();
      let files: SourceFile[] = [
        { file: 'a.yaml', text: `${example}---\n${generated(2, 30)}` }, // listeners over 4 KB: parsed in parts
        { file: 'b.yaml', text: other },
      ];
      // Valid edits pile up; broken files are kept for a few edits, then the last valid texts come back.
      let good = files.map((f) => f.text);
      for (let step = 0; step < 70; step++) {
        const which = r() < 0.8 ? 0 : 1;
        files = step % 5 === 4 ? files.map((f, i) => ({ ...f, text: good[i] })) : files.map((f, i) => (i === which ? { ...f, text: edit(f.text, r) } : f));
        const cold = loadConfigFromFiles(files);
        const warm = loadConfigFromFiles(files, {}, cache);
        expect(plain(warm), `seed ${seed} step ${step}`).toEqual(plain(cold));
        if (cold.config) {
          valid++;
          good = files.map((f) => f.text);
        } else withErrors++;
      }
      for (const [k, v] of Object.entries(cache.stats())) totals[k] = (totals[k] ?? 0) + v;
    }
    // Every path ran: pieces built and moved, routes parsed as parts, documents and files loaded whole.
    expect(totals.pieceBuilds).toBeGreaterThan(100);
    expect(totals.pieceRebases).toBeGreaterThan(100);
    expect(totals.partParses).toBeGreaterThan(100);
    expect(totals.documentLoads).toBeGreaterThan(0);
    expect(totals.wholeFileLoads).toBeGreaterThan(0);
    // The edits exercise both sides.
    expect(valid).toBeGreaterThan(40);
    expect(withErrors).toBeGreaterThan(40);
  }, 120_000);

  it('keeps exact positions for a document reused below lines that were added', () => {
    const second = 'clusters:\n  - name: c\n    endpoints: [10.0.0.1:80]\n    discovery: eds\n  - name: d\n    endpoints: [dns.example:80]\n    discovery: eds\n';
    const cache = new LoadCache();
    const first = (n: number) => `listeners:\n${'  # pad\n'.repeat(n)}  - name: l\n    port: 1\n    routes:\n      - name: r\n        match: { prefix: / }\n        to: nowhere\n---\n`;
    for (const n of [0, 3, 1, 7, 7, 0]) {
      const files = [{ file: 'x.yaml', text: first(n) + second }];
      const warm = loadConfigFromFiles(files, {}, cache);
      const cold = loadConfigFromFiles(files);
      expect(warm).toEqual(cold);
      // The unknown cluster of route r, and the DNS endpoint of cluster d (line 6 of the second document).
      expect(warm.diagnostics.map((d) => `${d.line}:${d.col} ${d.path}`)).toEqual([`${7 + n}:13 listeners[0].routes[0].to`, `${14 + n}:17 clusters[1].endpoints[0]`]);
    }
  });

  it('re-parses only what an edit touched: one weight in a 1,000-route file parses one route and its listener\'s skeleton', () => {
    const cache = new LoadCache();
    const text = generated(10, 100);
    loadConfigFromFiles([{ file: 'big.yaml', text }], {}, cache);
    const before = cache.stats();
    const edited = text.replace('weight: 70 }, { cluster: gen-c-4', 'weight: 71 }, { cluster: gen-c-4');
    expect(edited).not.toBe(text);
    const warm = loadConfigFromFiles([{ file: 'big.yaml', text: edited }], {}, cache);
    const after = cache.stats();
    expect(after.pieceParses - before.pieceParses).toBe(1);
    // ...and of that listener (100 routes, parsed in parts), only the route that changed.
    expect(after.partParses - before.partParses).toBe(1);
    expect(after.pieceBuilds - before.pieceBuilds).toBe(1);
    expect(after.documentLoads + after.wholeFileLoads).toBe(0);
    expect(warm).toEqual(loadConfigFromFiles([{ file: 'big.yaml', text: edited }]));
    // An unchanged file is not even cut again.
    loadConfigFromFiles([{ file: 'big.yaml', text: edited }], {}, cache);
    expect(cache.stats().fileHits).toBe(after.fileHits + 1);
    // Lines added at the top move every piece: positions moved, nothing parsed or built again.
    const moved = `# one more line\n${edited}`;
    const beforeMove = cache.stats();
    expect(loadConfigFromFiles([{ file: 'big.yaml', text: moved }], {}, cache)).toEqual(loadConfigFromFiles([{ file: 'big.yaml', text: moved }]));
    expect(cache.stats().pieceParses).toBe(beforeMove.pieceParses);
    expect(cache.stats().pieceBuilds).toBe(beforeMove.pieceBuilds);
    expect(cache.stats().pieceRebases - beforeMove.pieceRebases).toBe(10 + 7 + 1);
    // A cluster added first: every cluster after it has a new index and new lines, and only the new one is parsed.
    const added = moved.replace('clusters:\n', 'clusters:\n  - name: gen-c-new\n    endpoints: [10.9.9.9:80]\n');
    const beforeAdd = cache.stats();
    expect(loadConfigFromFiles([{ file: 'big.yaml', text: added }], {}, cache)).toEqual(loadConfigFromFiles([{ file: 'big.yaml', text: added }]));
    expect(cache.stats().pieceParses - beforeAdd.pieceParses).toBe(1);
    // A text loaded again (a revert) keeps what it was made from, however many loads it stays:
    // the next edit of it parses one route again.
    for (let i = 0; i < 4; i++) loadConfigFromFiles([{ file: 'big.yaml', text: added }], {}, cache);
    const again = added.replace('weight: 70 }, { cluster: gen-c-6', 'weight: 72 }, { cluster: gen-c-6');
    const beforeAgain = cache.stats();
    expect(loadConfigFromFiles([{ file: 'big.yaml', text: again }], {}, cache)).toEqual(loadConfigFromFiles([{ file: 'big.yaml', text: again }]));
    expect(cache.stats().partParses - beforeAgain.partParses).toBe(1);
  });

  it('keeps only what the current and the previous load used', () => {
    const cache = new LoadCache();
    const text = generated(4, 5);
    const pieces = 4 + 7 + 1; // listeners, clusters, services
    let sizes = cache.stats();
    for (let k = 0; k < 30; k++) {
      // Every load changes a different route's weight and adds a line: each is new content.
      const edited = `${'#\n'.repeat(k)}${text.replace(`gen-route-${k % 20}\n            match: { prefix: /gen-${k % 20}/ }\n            to: [{ cluster: gen-c-${k % 20 % 7}, weight: 70`, `gen-route-${k % 20}\n            match: { prefix: /gen-${k % 20}/ }\n            to: [{ cluster: gen-c-${k % 20 % 7}, weight: ${k}`)}`;
      const result = loadConfigFromFiles([{ file: 'm.yaml', text: edited }, { file: 'n.yaml', text: `${'#\n'.repeat(k)}${example}` }], {}, cache);
      expect(result.config).toBeDefined();
      sizes = cache.stats();
      expect(sizes.files).toBeLessThanOrEqual(4);
      expect(sizes.built).toBeLessThanOrEqual(2 * (pieces + 10));
      expect(sizes.pieces).toBeLessThanOrEqual(2 * (pieces + 10));
    }
    expect(sizes.pieceParses).toBeLessThan(30 * 3);
  });
});
