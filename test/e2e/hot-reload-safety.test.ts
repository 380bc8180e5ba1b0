/**
 * Hot reload never serves a file read mid-write. A real Banyan watches real files; a scripted ADS
 * proxy records every push it receives; each scenario writes configs the way editors and tools do
 * and checks that every pushed CDS cluster set and RDS weight split is one of the versions the
 * operator wrote whole — never a half — and that the last version written is the one served.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_FILE_MESSAGE, loadConfigFromString } from '../../src/config/load.js';
import type { RunningBanyan, ServeOptions } from '../../src/server/banyan.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import { CDS, LDS, RDS, namesOf, type Resp } from '../conformance/harness.js';
import { AdsRecorder } from '../support/ads-recorder.js';
import { servedWeights, startTestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';

/**
 * One config the operator writes: the `checkout` split, and extra backends that each get a route of
 * their own (Banyan only sends a proxy the clusters its routes use, so an extra cluster shows in CDS
 * only with its route).
 */
interface Version {
  monolith: number;
  v2: number;
  extra?: string[];
}

const clusterYaml = (name: string, i: number) => `  - name: ${name}\n    endpoints: [10.0.${i}.1:8080]\n`;
const clustersYaml = (names: string[]) => `clusters:\n${names.map(clusterYaml).join('')}`;
const routeYaml = (cluster: string) => `          - name: ${cluster}\n            match: { prefix: /${cluster} }\n            to: ${cluster}\n`;
const listenersYaml = (v: Version) => `listeners:
  - name: edge
    port: 10000
    hosts:
      - domains: ["*"]
        routes:
          - name: checkout
            match: { prefix: /checkout }
            to:
              - { cluster: monolith, weight: ${v.monolith} }
              - { cluster: checkout-v2, weight: ${v.v2} }
${(v.extra ?? []).map(routeYaml).join('')}`;
const allClusters = (v: Version) => ['monolith', 'checkout-v2', ...(v.extra ?? [])];
/** Clusters first, routes last: so that a file cut after any route is still a valid config. */
const fileYaml = (v: Version) => clustersYaml(allClusters(v)) + listenersYaml(v);

/** What a proxy should see of a version: sorted cluster names (CDS); edge's routes and the checkout split (RDS). */
const cdsOf = (v: Version) => [...allClusters(v)].sort().join(',');
const rdsOf = (v: Version) => `${['checkout', ...(v.extra ?? [])].join(',')} checkout=monolith:${v.monolith},checkout-v2:${v.v2}`;

type EnvoyRoute = { name: string; route?: { cluster?: string; weighted_clusters?: { clusters: { name: string; weight: number | { value: number } }[] } } };

const cdsSeen = (r: Resp) => namesOf(r).join(',');
const ldsSeen = (r: Resp) => namesOf(r).join(',');
function rdsSeen(r: Resp): string {
  const edge = r.resources.find((x) => x.name === 'edge') as { virtual_hosts: { routes: EnvoyRoute[] }[] } | undefined;
  if (!edge) return `(no edge RouteConfiguration in RDS push: ${JSON.stringify(r.names)})`;
  const routes = edge.virtual_hosts.flatMap((vh) => vh.routes);
  const split = routes.find((x) => x.name === 'checkout')?.route?.weighted_clusters?.clusters ?? [];
  return `${routes.map((x) => x.name).join(',')} checkout=${split.map((c) => `${c.name}:${typeof c.weight === 'number' ? c.weight : c.weight.value}`).join(',')}`;
}
const summary = (r: Resp) => (r.type_url === RDS ? `RDS ${rdsSeen(r)}` : r.type_url === CDS ? `CDS ${cdsSeen(r)}` : `${r.type_url} ${r.names}`);
/** The checkout split in servedWeights' terms (what Banyan's compiled RouteConfiguration holds now). */
const splitOf = (v: Version) => `monolith=${v.monolith},checkout-v2=${v.v2}`;

const servedClusters = (b: RunningBanyan) => [...b.pipeline.current!.snapshot.groups.get('default')!.get(TypeUrl.Cluster)!.keys()].sort().join(',');

async function loadErrors(b: RunningBanyan): Promise<number> {
  const m = (await b.registry.getMetricsAsJSON()).find((x) => x.name === 'banyan_config_load_errors_total');
  return (m?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
}

async function status(b: RunningBanyan): Promise<{ lastRejected: { errors: string[] } | null }> {
  return (await fetch(`http://127.0.0.1:${b.ports.admin}/api/v1/status`)).json();
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hot reload serves only configs written whole', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  interface Served {
    banyan: RunningBanyan;
    /** The path Banyan serves: the file, or the directory. */
    target: string;
    recorder: AdsRecorder;
  }

  /**
   * Banyan serving `files` (one name → `serve FILE`, more → `serve DIR`) with the default debounce,
   * and a recorder that has received the initial version.
   */
  async function serve(files: Record<string, string>, initial: Version, overrides: Partial<ServeOptions> = {}): Promise<Served> {
    const names = Object.keys(files);
    const dir = names.length > 1 ? fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-reload-dir-')) : undefined;
    if (dir) {
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      for (const n of names) fs.writeFileSync(path.join(dir, n), files[n]);
    }
    // With a directory, the test Banyan's own routes.yaml is not served.
    const t = await startTestBanyan(dir ? '{}\n' : files[names[0]], { debounceMs: 100, ...(dir ? { config: dir } : {}), ...overrides });
    cleanups.push(() => t.stop());
    const target = dir ?? t.file;
    const recorder = new AdsRecorder(`127.0.0.1:${t.banyan.ports.xds}`, { id: `recorder-${cleanups.length}` }, { [CDS]: [], [LDS]: [], [RDS]: ['edge'] });
    cleanups.push(() => recorder.close());
    await eventually(() => {
      expect(cdsSeen(recorder.latest(CDS))).toBe(cdsOf(initial));
      expect(rdsSeen(recorder.latest(RDS))).toBe(rdsOf(initial));
    });
    return { banyan: t.banyan, target, recorder };
  }

  /** Every CDS and RDS push so far is one of `versions`; the last of each, and what is served, is `final`. */
  async function expectOnlyWhole(s: Served, versions: Version[], final: Version): Promise<void> {
    await eventually(() => {
      expect(cdsSeen(s.recorder.latest(CDS))).toBe(cdsOf(final));
      expect(rdsSeen(s.recorder.latest(RDS))).toBe(rdsOf(final));
    }, 15_000);
    const cds = new Set(versions.map(cdsOf));
    const rds = new Set(versions.map(rdsOf));
    expect(s.recorder.pushes(CDS).map(cdsSeen).filter((x) => !cds.has(x)), 'CDS pushes that match no version written whole').toEqual([]);
    expect(s.recorder.pushes(RDS).map(rdsSeen).filter((x) => !rds.has(x)), 'RDS pushes that match no version written whole').toEqual([]);
    expect(s.recorder.pushes(LDS).map(ldsSeen), 'LDS pushes').toEqual(['edge']);
    expect(servedClusters(s.banyan)).toBe(cdsOf(final));
    expect(servedWeights(s.banyan, 'checkout')).toBe(splitOf(final));
  }

  it('an empty file written over a valid one: nothing is pushed, the old config serves, status shows the rejection', async () => {
    const v1: Version = { monolith: 90, v2: 10 };
    const v2: Version = { monolith: 80, v2: 20 };
    // A short max wait: the watcher holds an empty file back as a write in progress until then.
    const s = await serve({ 'routes.yaml': fileYaml(v1) }, v1, { watchMaxWaitMs: 1_000 });
    const mark = s.recorder.received.length;
    fs.writeFileSync(s.target, '');
    await eventually(async () => expect((await status(s.banyan)).lastRejected?.errors).toEqual([`${s.target}:1:1: error: ${EMPTY_FILE_MESSAGE}`]));
    expect(servedWeights(s.banyan, 'checkout')).toBe(splitOf(v1));
    // The positive marker: the next version written whole is the very next push, nothing before it.
    fs.writeFileSync(s.target, fileYaml(v2));
    await eventually(() => expect(rdsSeen(s.recorder.latest(RDS))).toBe(rdsOf(v2)));
    expect(s.recorder.received.slice(mark).map(summary)).toEqual([`RDS ${rdsOf(v2)}`]);
    expect((await status(s.banyan)).lastRejected).toBeNull();
  });

  it('a file in a directory truncated and written back 150 ms later: never tried half, the end state served', async () => {
    // edge.yaml holds the only listener: without it a proxy would get no routes and no clusters.
    const v1: Version = { monolith: 90, v2: 10, extra: ['search-v1'] };
    const v2: Version = { monolith: 70, v2: 30, extra: ['search-v1'] };
    const s = await serve(
      { 'monolith.yaml': clustersYaml(['monolith']), 'backends.yaml': clustersYaml(['checkout-v2', 'search-v1']), 'edge.yaml': listenersYaml(v1) },
      v1,
    );
    const errorsBefore = await loadErrors(s.banyan);
    const edge = path.join(s.target, 'edge.yaml');
    fs.truncateSync(edge, 0);
    await pause(150);
    fs.writeFileSync(edge, listenersYaml(v2));
    await expectOnlyWhole(s, [v1, v2], v2);
    // The empty file was never even handed to validation.
    expect(await loadErrors(s.banyan)).toBe(errorsBefore);
    expect((await status(s.banyan)).lastRejected).toBeNull();
  });

  it('a file written in two parts 300 ms apart through one descriptor: only the whole file is served', async () => {
    const v1: Version = { monolith: 90, v2: 10 };
    const v2: Version = { monolith: 60, v2: 40, extra: ['search-v2'] };
    // The first half: all of v2 but its last route. Alone it is a valid, smaller config (new weights,
    // no /search-v2 route) — serving it would be a real outage of that route.
    const half = clustersYaml(allClusters(v2)) + listenersYaml({ ...v2, extra: [] });
    const rest = routeYaml('search-v2');
    expect(half + rest).toBe(fileYaml(v2));
    expect(loadConfigFromString(half, 'half.yaml').diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const halfRds = rdsOf({ ...v2, extra: [] });
    expect([rdsOf(v1), rdsOf(v2)]).not.toContain(halfRds);

    const s = await serve({ 'routes.yaml': fileYaml(v1) }, v1);
    const fd = fs.openSync(s.target, 'w');
    cleanups.push(() => fs.closeSync(fd));
    fs.writeSync(fd, half);
    await pause(300);
    fs.writeSync(fd, rest);
    cleanups.pop()!();
    await expectOnlyWhole(s, [v1, v2], v2);
  });

  for (const layout of ['file', 'dir'] as const) {
    it(`atomic saves (temp file in the same directory renamed over the config), serve ${layout.toUpperCase()}`, async () => {
      const versions: Version[] = [90, 70, 50, 30].map((m) => ({ monolith: m, v2: 100 - m }));
      const files: Record<string, string> =
        layout === 'file' ? { 'routes.yaml': fileYaml(versions[0]) } : { 'clusters.yaml': clustersYaml(allClusters(versions[0])), 'listeners.yaml': listenersYaml(versions[0]) };
      const s = await serve(files, versions[0]);
      const target = layout === 'file' ? s.target : path.join(s.target, 'listeners.yaml');
      for (const v of versions.slice(1)) {
        const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp`);
        // The temp file is itself written in two parts; it is not config, so that must not matter.
        const text = layout === 'file' ? fileYaml(v) : listenersYaml(v);
        const fd = fs.openSync(tmp, 'w');
        fs.writeSync(fd, text.slice(0, 40));
        fs.writeSync(fd, text.slice(40));
        fs.closeSync(fd);
        fs.renameSync(tmp, target);
        // Each save is served before the next: the watcher keeps following the new inode.
        await eventually(() => expect(rdsSeen(s.recorder.latest(RDS))).toBe(rdsOf(v)));
      }
      await expectOnlyWhole(s, versions, versions.at(-1)!);
      expect(s.recorder.pushes(RDS).map(rdsSeen)).toEqual(versions.map(rdsOf));
    });
  }

  it('100 whole edits in 1 s: every push is one of them and the last one is served', async () => {
    const v0: Version = { monolith: 500, v2: 500 };
    const edits: Version[] = Array.from({ length: 100 }, (_, i) => ({ monolith: i + 1, v2: 100 - i }));
    const s = await serve({ 'routes.yaml': fileYaml(v0) }, v0);
    const started = Date.now();
    for (const v of edits) {
      fs.writeFileSync(s.target, fileYaml(v));
      await pause(10);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    await expectOnlyWhole(s, [v0, ...edits], edits.at(-1)!);
    expect(s.recorder.pushes(CDS).length).toBe(1);
  });
});
