/**
 * Layers point down only. Each top-level part of src/ has a rank; a file may import from its own part
 * or from parts of a lower rank, never from an equal or higher one. The README's architecture section
 * shows the same table; this test is what keeps them true.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '../../src');

/** Lower imports nothing above it. Parts of one rank do not import each other either. */
export const RANK: Record<string, number> = {
  errors: 0, // typed domain errors, no imports
  ports: 0, // default ports, no imports
  version: 0, // Banyan's version from package.json, no imports
  proto: 1, // Envoy's and Banyan's protos, wire helpers
  telemetry: 1, // logging, metrics
  grpc: 1, // gRPC server lifecycle
  config: 2, // source → model: YAML, schema, positions, the envoyproxy/ratelimit format
  ca: 2, // the certificate authority: CA, leaf certificates, keys at rest (errors only)
  compile: 3, // model → Envoy resources (pure)
  store: 3, // durable state
  service: 3, // process concerns: config watching, shutdown
  admission: 4, // compiled snapshot → admitted or refused
  diff: 4, // what a change changes
  rollout: 4, // the rollout state machine and runner
  xds: 5, // servers: the xDS protocol
  ratelimit: 5, // servers: the rate limit service
  authz: 5, // servers: the authz service
  loadstats: 5, // servers: LRS and Envoy's metrics service, the load samples analysis reads
  admin: 6, // the admin API, over an interface it defines
  server: 7, // wiring of `banyan serve`
  cli: 8, // commands
};

interface SourceFile {
  file: string; // relative to src/
  text: string;
}

function sources(dir = SRC): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'generated' ? [] : sources(full);
    return name.endsWith('.ts') ? [{ file: path.relative(SRC, full), text: readFileSync(full, 'utf8') }] : [];
  });
}

const partOf = (file: string) => file.split(path.sep)[0].replace(/\.(ts|js)$/, '');

/** Every import that points up (or sideways between two parts of one rank), as "from → to". */
export function upwardImports(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const { file, text } of files) {
    const from = partOf(file);
    for (const m of text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)'/g)) {
      const target = path.normalize(path.join(path.dirname(file), m[1]));
      if (target.startsWith('..')) continue; // outside src/ (protos/, package.json)
      const to = partOf(target);
      if (to === from) continue;
      if (RANK[from] === undefined || RANK[to] === undefined) out.push(`${file} → ${target} (part without a rank)`);
      else if (RANK[to] >= RANK[from]) out.push(`${file} → ${target} (${from} ${RANK[from]} imports ${to} ${RANK[to]})`);
    }
  }
  return out;
}

describe('layers', () => {
  const files = sources();

  it('every part of src/ has a rank', () => {
    expect([...new Set(files.map((f) => partOf(f.file)))].filter((p) => RANK[p] === undefined)).toEqual([]);
  });

  it('no import points up', () => {
    expect(upwardImports(files)).toEqual([]);
  });

  it('an upward import planted in the tree is caught', () => {
    const planted = [...files, { file: path.join('config', 'planted.ts'), text: "import { startBanyan } from '../server/banyan.js';\n" }];
    expect(upwardImports(planted)).toEqual([`${path.join('config', 'planted.ts')} → ${path.join('server', 'banyan.js')} (config 2 imports server 7)`]);
  });
});
