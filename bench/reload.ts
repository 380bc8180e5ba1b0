/**
 * bench:reload — what a config change costs the loader (issue 13, item 4): CPU-ms to load the
 * 1,000-route, 500-cluster file of bench:xds (174 KB, one document) whole, against the same file after
 * a one-line weight edit through the incremental loader (src/config/load-cache.ts), cache cold (the
 * first load, as at startup) and warm (the previous version loaded). Also: the unchanged file, every
 * line moved by one added at the top (pieces built again, none parsed), a route added, and the
 * compile of the whole snapshot for scale. `first` is the first run in this process (JIT cold);
 * `median` is over the rounds after it, each round a different edit (so nothing is a repeat); the
 * garbage collector runs when it does, as in serve.
 * `npx tsx bench/reload.ts [rounds]`, or run() from the bench runner.
 */
import { compile } from '../src/compile/index.js';
import { loadConfigFromFiles, type LoadResult } from '../src/config/load.js';
import { LoadCache } from '../src/config/load-cache.js';
import type { SourceFile } from '../src/config/source.js';
import { fmt, median } from './support/format.js';

const LISTENERS = 10;
const ROUTES_PER_LISTENER = 100;
const CLUSTERS = 500;
const FILE = 'bench.yaml';

/** The config of bench:xds; `weight` is route `edited`'s first weight. */
function configYaml(edited = -1, weight = 90, extra = ''): string {
  const out: string[] = [];
  if (extra) out.push(extra);
  out.push('listeners:');
  for (let l = 0; l < LISTENERS; l++) {
    out.push(`  - name: edge-${l}`, `    port: ${10000 + l}`, '    hosts:', '      - domains: ["*"]', '        routes:');
    for (let r = 0; r < ROUTES_PER_LISTENER; r++) {
      const i = l * ROUTES_PER_LISTENER + r;
      const w = i === edited ? weight : 90;
      out.push(
        `          - name: route-${i}`,
        `            match: { prefix: /svc-${i}/ }`,
        `            to: [{ cluster: c-${i % CLUSTERS}, weight: ${w} }, { cluster: c-${(i + 1) % CLUSTERS}, weight: ${100 - w} }]`,
      );
    }
  }
  out.push('clusters:');
  for (let c = 0; c < CLUSTERS; c++) out.push(`  - name: c-${c}`, `    endpoints: [10.${(c >> 8) & 255}.${c & 255}.1:8080]`);
  return out.join('\n') + '\n';
}

/** The same file with one route more in listener `l` (lines below it move). */
function withRoute(l: number, n: number): string {
  const text = configYaml();
  const at = text.indexOf(`          - name: route-${l * ROUTES_PER_LISTENER + 50}\n`);
  return `${text.slice(0, at)}          - name: added-${n}\n            match: { prefix: /added-${n}/ }\n            to: c-${n % CLUSTERS}\n${text.slice(at)}`;
}

function cpuMs<T>(fn: () => T): { ms: number; value: T } {
  const start = process.cpuUsage();
  const value = fn();
  const d = process.cpuUsage(start);
  return { ms: (d.user + d.system) / 1000, value };
}

const files = (text: string): SourceFile[] => [{ file: FILE, text }];

function valid(r: LoadResult): LoadResult {
  if (!r.config) throw new Error(`bench config invalid: ${r.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('; ')}`);
  return r;
}

interface Row {
  name: string;
  first: number;
  times: number[];
  /** Pieces and routes (parts of long listeners) parsed per change (incremental rows). */
  parsed?: string;
}

export async function run(rounds = 15): Promise<void> {
  const edit = (k: number) => configYaml((k * 97) % (LISTENERS * ROUTES_PER_LISTENER), 10 + (k % 80));
  const base = configYaml();
  const rows: Row[] = [];
  const measure = (name: string, round: (k: number) => { ms: number; parsed?: string }) => {
    const first = round(0);
    const row: Row = { name, first: first.ms, times: [], parsed: first.parsed };
    for (let k = 1; k <= rounds; k++) row.times.push(round(k).ms);
    rows.push(row);
    return row;
  };

  // Whole loads: what every change cost before (and what a cold start costs).
  const full = measure('full load (no cache): any change', (k) => (cpuMs(() => valid(loadConfigFromFiles(files(edit(k + 1)))))));
  measure('full load through an empty cache (first load)', (k) => (cpuMs(() => valid(loadConfigFromFiles(files(edit(k + 1)), {}, new LoadCache())))));

  // Incremental: the previous version is in the cache; the edit is the next version.
  // One cache per row, as serve keeps one: each round loads `before` (the version served, the same
  // each round: a hit after the first), then measures `after`, one edit away from it.
  const incremental = (name: string, before: (k: number) => string, after: (k: number) => string) => {
    const cache = new LoadCache();
    return measure(name, (k) => {
      valid(loadConfigFromFiles(files(before(k)), {}, cache));
      const { pieceParses, partParses } = cache.stats();
      const r = cpuMs(() => valid(loadConfigFromFiles(files(after(k)), {}, cache)));
      const now = cache.stats();
      return { ms: r.ms, parsed: `${now.pieceParses - pieceParses} / ${now.partParses - partParses}` };
    });
  };
  const weight = incremental('one-line weight edit (warm cache)', () => base, (k) => edit(k + 1));
  incremental('file unchanged (warm cache)', () => base, () => base);
  incremental('a comment line added at the top: every line moves', () => base, (k) => configYaml(-1, 90, `# change ${k}`));
  incremental('a route added (3 lines) mid-file', () => base, (k) => withRoute(k % LISTENERS, k));

  // For scale: the rest of a change (pure compile of every group's resources).
  const config = valid(loadConfigFromFiles(files(base))).config!;
  measure('compile (whole snapshot), for scale', () => (cpuMs(() => compile(config))));

  const fullMs = median(full.times);
  console.log(`config: ${LISTENERS} listeners, ${LISTENERS * ROUTES_PER_LISTENER} routes, ${CLUSTERS} clusters, ${fmt(base.length / 1000, 0)} KB, one YAML document; CPU ms per load, first run and median of ${rounds}\n`);
  console.log('| change | CPU ms (first) | CPU ms (median) | vs full load | pieces / routes parsed |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const m = median(r.times);
    console.log(`| ${r.name} | ${fmt(r.first, 1)} | ${fmt(m, 1)} | ${fmt((100 * m) / fullMs, 1)}% | ${r.parsed ?? '—'} |`);
  }
  const w = median(weight.times);
  console.log(`\none-line weight edit: ${fmt(w, 1)} ms vs ${fmt(fullMs, 1)} ms for the full load: ${fmt(fullMs / w, 1)}× less CPU (${fmt((100 * w) / fullMs, 1)}% of a full load)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(Number(process.argv[2] ?? 15)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
