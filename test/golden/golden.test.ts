import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/index.js';
import { compile } from '../../src/compile/index.js';
import type { NodeInfo } from '../../src/compile/types.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { encodeMessage } from '../../src/proto/envoy.js';
import { snapshotToJson } from './snapshot-json.js';

/**
 * Golden tests: in/NAME.yaml → out/NAME.json. `UPDATE_GOLDEN=1 npx vitest run test/golden` rewrites
 * the outputs; read every changed output against Envoy's docs before committing it.
 */
const dir = path.dirname(fileURLToPath(import.meta.url));
const cases = fs
  .readdirSync(path.join(dir, 'in'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

/**
 * Secret files (in/certs/) are named relative to the YAML, which the loader resolves against the
 * working directory because the cases are loaded as `in/NAME.yaml`: read them from this directory.
 */
export const readGoldenFile = (file: string): string => fs.readFileSync(path.join(dir, path.relative(process.cwd(), file)), 'utf8');

/** Optional in/NAME.nodes.json: proxies whose group (snapshot.groupOf) the output records. */
function nodeProbes(name: string): NodeInfo[] {
  const file = path.join(dir, 'in', `${name}.nodes.json`);
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<NodeInfo>[]).map((n) => ({ id: '', cluster: '', metadata: {}, userAgentName: '', ...n }));
}

const admission = new Admission();
/**
 * Cases that show what the compiler does with what admission then refuses for proxyless gRPC (a `*`
 * inside a domain, routes gRPC cannot honour): golden for the compiler, never published by serve.
 */
const REFUSED_BY_ADMISSION = new Set(['groups-api', 'warnings']);

describe('golden', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  for (const name of cases) {
    it(name, () => {
      const file = `in/${name}.yaml`;
      const loaded = loadConfigFromString(fs.readFileSync(path.join(dir, file), 'utf8'), file, { readFile: readGoldenFile });
      expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
      const config = loaded.config!;
      const snapshot = compile(config);
      // What is golden is also what serve would publish: admission (PGV, wire round trip, gRPC capabilities) has no error.
      const admitted = admission.admit(config, { file, line: 1, col: 1 }).diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      if (REFUSED_BY_ADMISSION.has(name)) expect(admitted).not.toEqual([]);
      else expect(admitted).toEqual([]);
      for (const set of snapshot.groups.values()) {
        for (const [typeUrl, resources] of set) for (const r of resources.values()) encodeMessage(typeUrl, r);
      }
      const probes = nodeProbes(name).map((node) => ({ node, group: snapshot.groupOf(node) }));
      const extra = probes.length ? { groupOf: probes } : {};
      const actual = snapshotToJson(snapshot, extra);
      expect(snapshotToJson(compile(config), extra), 'compile is deterministic').toBe(actual);
      const outFile = path.join(dir, 'out', `${name}.json`);
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(outFile, actual);
      expect(actual).toBe(fs.readFileSync(outFile, 'utf8'));
    });
  }
});
