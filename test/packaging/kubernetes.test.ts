/**
 * Every Kubernetes YAML in the repository, and what the Helm chart renders for its default values and
 * for each worked example (charts/banyan/ci/*.yaml), decoded strictly against the Kubernetes API's Go
 * types by test/go/k8scheck (k8s.io/api v0.37, sigs.k8s.io/yaml UnmarshalStrict: an unknown field, a
 * duplicate or a wrong type fails). A ServiceMonitor is a CRD with no type in k8s.io/api: k8scheck
 * decodes it, as strictly, against the subset of the Prometheus Operator's schema the chart writes.
 *
 * helm is built from the Go module proxy by scripts/render-manifests.mjs, k8scheck by support/go.ts;
 * both are cached in node_modules/.cache/ (the first run takes several minutes more). Nothing here
 * needs the network once they are built.
 *
 * Beyond decoding: manifests/ is what the chart renders (no drift), the chart refuses replicas > 1
 * without PostgreSQL, every workload runs non-root with a read-only root filesystem and no
 * capabilities, every example's route config passes `banyan validate`, every edge bootstrap equals
 * (structurally) what `banyan bootstrap` prints for the same values and is a valid Envoy Bootstrap (go-control-plane's protojson and ValidateAll, test/go/oracle), and the control
 * plane's rendered arguments are accepted by `banyan serve`, which becomes ready with them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { goBinary } from '../support/go.js';
import { startOracle, type Oracle } from '../support/oracle.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = path.join(ROOT, 'charts', 'banyan');
const RENDER = path.join(ROOT, 'scripts', 'render-manifests.mjs');
const KUBE_VERSION = '1.37.0';
const BUILD_TIMEOUT = 1_200_000;

interface CheckedDoc {
  file: string;
  index: number;
  line: number;
  kind?: string;
  name?: string;
  decoder?: string;
  errors?: string[];
}
interface Report {
  documents: CheckedDoc[];
  failed: number;
}

type Obj = Record<string, any>;

/** Files in the repository holding Kubernetes objects: YAML with a top-level apiVersion and kind. */
function kubernetesFiles(): string[] {
  const out: string[] = [];
  const skip = new Set(['node_modules', 'dist', '.git', '.banyan', 'coverage']);
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(ROOT, full);
      if (entry.isDirectory()) {
        // Chart templates are Go templates, not YAML: they are checked through what they render.
        if (!skip.has(entry.name) && rel !== path.join('charts', 'banyan', 'templates')) walk(full);
      } else if (/\.ya?ml$/.test(entry.name)) {
        const text = fs.readFileSync(full, 'utf8');
        if (/^apiVersion:/m.test(text) && /^kind:/m.test(text)) out.push(rel);
      }
    }
  };
  walk(ROOT);
  return out.sort();
}

/** Helm's values merge: maps merge key by key, a null deletes, anything else replaces. */
function mergeValues(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' && !Array.isArray(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = v;
  }
  return out;
}

const QUANTITY: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
/** Bytes of a Kubernetes memory quantity (512Mi, 1Gi, 536870912). */
function bytesOf(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|Ki|Mi|Gi)?$/.exec(String(q));
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  return Math.floor(Number(m[1]) * QUANTITY[m[2] ?? '']);
}

/**
 * The `banyan bootstrap` arguments the chart's edge bootstrap stands for, from the values alone (not
 * from anything the chart renders): the README's and values.yaml's description of the ConfigMap.
 */
function edgeBootstrapArgs(v: Obj, namespace: string): string[] {
  const e = v.edge;
  const fullname = v.fullnameOverride || (v.nameOverride ? `banyan-${v.nameOverride}` : 'banyan');
  const maxHeap = e.overload.maxHeap ? bytesOf(e.overload.maxHeap) : Math.floor(bytesOf(e.resources.limits.memory) / 16) * 15;
  return [
    'bootstrap', '--node', 'edge', '--kind', 'edge', '--group', e.group,
    '--xds', `${fullname}.${namespace}.svc.${v.clusterDomain}:${v.service.ports.xds}`,
    '--admin-port', String(e.adminPort), '--probe-port', String(e.probePort),
    '--stats-sink', e.statsSink, '--stats-flush-interval', e.statsFlushInterval, '--log-format', e.logFormat,
    ...(e.overload.enabled ? ['--max-heap', String(maxHeap), '--shrink-heap-at', String(e.overload.shrinkHeapAt), '--stop-requests-at', String(e.overload.stopRequestsAt)] : ['--no-overload']),
    ...(v.tls.enabled ? ['--xds-tls-ca', '/etc/envoy/tls/ca.crt', ...(v.tls.clientCA ? ['--xds-client-cert', '/etc/envoy/tls/tls.crt', '--xds-client-key', '/etc/envoy/tls/tls.key'] : [])] : []),
    '-o', 'json',
  ];
}

const examples = fs
  .readdirSync(path.join(CHART, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('Kubernetes manifests and the Helm chart', () => {
  let helm = '';
  let k8scheck = '';
  let oracle: Oracle | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-k8s-'));
  /** Rendered output per case: 'default' and each example file name. */
  const rendered = new Map<string, string>();
  const servers: ChildProcess[] = [];

  const template = async (args: string[], namespace = 'banyan') =>
    (await run(helm, ['template', 'banyan', CHART, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })).stdout;

  const check = async (files: string[]): Promise<Report> => {
    try {
      const { stdout } = await run(k8scheck, files, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
      return JSON.parse(stdout) as Report;
    } catch (err) {
      const e = err as Error & { stdout?: string; code?: number };
      if (e.code === 1 && e.stdout) return JSON.parse(e.stdout) as Report;
      throw err;
    }
  };

  const objects = (text: string): Obj[] =>
    parseAllDocuments(text)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => !!o && typeof o === 'object');

  beforeAll(async () => {
    const [helmOut, checker] = await Promise.all([
      run(process.execPath, [RENDER, '--helm-path'], { cwd: ROOT, timeout: BUILD_TIMEOUT, maxBuffer: 16 * 1024 * 1024 }),
      goBinary('k8scheck', '.', BUILD_TIMEOUT),
    ]);
    helm = helmOut.stdout.trim();
    k8scheck = checker;
    rendered.set('default', await template([]));
    for (const example of examples) rendered.set(example, await template(['-f', path.join(CHART, 'ci', example)]));
  }, BUILD_TIMEOUT + 120_000);

  afterAll(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await oracle?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('finds the repository\'s Kubernetes YAML (manifests/) and decodes every document strictly against its kind\'s Go type', async () => {
    const files = kubernetesFiles();
    expect(files).toEqual(expect.arrayContaining(['manifests/control-plane.yaml', 'manifests/edge-envoy.yaml', 'manifests/postgresql.yaml', 'manifests/redis.yaml']));
    const report = await check(files.map((f) => path.join(ROOT, f)));
    expect(report.documents.filter((d) => d.errors?.length)).toEqual([]);
    const kinds = new Set(report.documents.map((d) => d.kind));
    for (const kind of ['Deployment', 'StatefulSet', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'NetworkPolicy']) expect(kinds).toContain(kind);
    // Decoded with the k8s.io/api types, not a generic map.
    expect(report.documents.find((d) => d.kind === 'Deployment')?.decoder).toBe('k8s.io/api/apps/v1.Deployment');
  });

  it('manifests/ is what the chart renders with its default values (scripts/render-manifests.mjs --check)', async () => {
    await run(process.execPath, [RENDER, '--check'], { cwd: ROOT, env: { ...process.env, HELM: helm }, timeout: 60_000 });
  });

  it.each(['default', ...examples])('helm template with %s values decodes strictly, every document', async (name) => {
    const file = path.join(tmp, `rendered-${name}`);
    fs.writeFileSync(file, rendered.get(name)!);
    const report = await check([file]);
    expect(report.documents.filter((d) => d.errors?.length)).toEqual([]);
    expect(report.documents.length).toBeGreaterThan(2);
    const sm = report.documents.find((d) => d.kind === 'ServiceMonitor');
    if (sm) expect(sm.decoder).toMatch(/minimal ServiceMonitor/);
  });

  it('k8scheck is strict: an unknown field, a wrong type, an unknown kind and a selector that misses its pods all fail', async () => {
    const planted = path.join(tmp, 'planted.yaml');
    const pod = 'template:\n    metadata: { labels: { app: x } }\n    spec: { containers: [{ name: c, image: i }] }';
    fs.writeFileSync(
      planted,
      [
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: typo }\nspec:\n  replica: 2\n  selector: { matchLabels: { app: x } }\n  ${pod}\n`,
        `apiVersion: v1\nkind: Service\nmetadata: { name: wrong-type }\nspec:\n  ports: [{ port: "eighty" }]\n`,
        `apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: unknown-kind }\n`,
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: misses }\nspec:\n  selector: { matchLabels: { app: other } }\n  ${pod}\n`,
        `apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: { name: sm }\nspec:\n  selector: {}\n  endpoints: [{ port: admin, intervall: 30s }]\n`,
        `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: fine }\ndata: { a: b }\n`,
      ].join('---\n'),
    );
    const report = await check([planted]);
    const errors = Object.fromEntries(report.documents.map((d) => [d.index, (d.errors ?? []).join('; ')]));
    expect(errors[0]).toMatch(/unknown field "spec.replica"/);
    expect(errors[1]).toMatch(/strict decoding/);
    expect(errors[2]).toMatch(/no Kubernetes API type for example.com\/v1, Kind=Widget/);
    expect(errors[3]).toMatch(/selector does not match/);
    expect(errors[4]).toMatch(/unknown field "spec.endpoints\[0\].intervall"/);
    expect(errors[5]).toBe('');
    expect(report.failed).toBe(5);
  });

  it.each(['default', ...examples])('helm lint --strict passes with %s values', async (name) => {
    const values = name === 'default' ? [] : ['-f', path.join(CHART, 'ci', name)];
    await run(helm, ['lint', '--strict', '--kube-version', KUBE_VERSION, CHART, ...values], { timeout: 60_000 });
  });

  it('refuses values the chart does not know (values.schema.json), replicas > 1 without PostgreSQL, and TLS without its Secret', async () => {
    await expect(template(['--set', 'replicas=3'])).rejects.toThrow(/additional properties 'replicas' not allowed/);
    await expect(template(['--set', 'edge.grup=edge-eu'])).rejects.toThrow(/additional properties 'grup' not allowed/);
    await expect(template(['--set', 'postgresql.enabled=false', '--set', 'replicaCount=2'])).rejects.toThrow(/replicaCount > 1 needs PostgreSQL/);
    await expect(template(['--set', 'tls.enabled=true'])).rejects.toThrow(/tls.enabled needs tls.secretName/);
  });

  it('runs every workload non-root, read-only, without capabilities, with resources and probes', () => {
    for (const [name, text] of rendered) {
      for (const o of objects(text).filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
        const where = `${name}: ${o.kind}/${o.metadata.name}`;
        const spec = o.spec.template.spec;
        expect(spec.securityContext?.runAsNonRoot, where).toBe(true);
        expect(spec.automountServiceAccountToken, where).toBe(false);
        for (const c of spec.containers) {
          expect(c.securityContext, `${where} ${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
          expect(c.resources?.requests, `${where} ${c.name}`).toBeDefined();
          expect(c.readinessProbe, `${where} ${c.name}`).toBeDefined();
          expect(c.livenessProbe, `${where} ${c.name}`).toBeDefined();
          expect(c.image, `${where} ${c.name}`).not.toMatch(/:latest$|^[^:]+$/);
        }
      }
    }
    // The control plane's probes: /healthz and /readyz on the admin port (TCP under mTLS, as the kubelet has no client certificate).
    const cp = objects(rendered.get('default')!).find((o) => o.kind === 'Deployment' && o.metadata.name === 'banyan')!;
    const c = cp.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'admin' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'admin' });
    const mtls = objects(rendered.get('production-mtls-values.yaml')!).find((o) => o.kind === 'Deployment' && o.metadata.name === 'banyan')!;
    const args: string[] = mtls.spec.template.spec.containers[0].args;
    expect(args).toEqual(expect.arrayContaining(['--tls-cert=/etc/banyan/tls/tls.crt', '--tls-key=/etc/banyan/tls/tls.key', '--tls-client-ca=/etc/banyan/tls/ca.crt', '--admin-tokens-file=/etc/banyan/admin/tokens.yaml']));
    expect(args).not.toContain('--insecure');
    // The edge Envoy: a current Envoy (not v1.31, out of its support window) joining the group the config matches.
    const edge = objects(rendered.get('default')!).find((o) => o.kind === 'Deployment' && o.metadata.name === 'banyan-edge')!;
    expect(edge.spec.template.spec.containers[0].image).toMatch(/^envoyproxy\/envoy:v1\.(3[7-9]|[4-9]\d)\.\d+$/);
  });

  it("every example's route config passes `banyan validate`, and its edge group matches one of the config's groups", async () => {
    for (const [name, text] of rendered) {
      const cm = objects(text).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'banyan-config');
      if (!cm) continue; // existingConfigMap: the user's own
      const dir = path.join(tmp, `config-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      for (const [key, value] of Object.entries(cm.data as Record<string, string>)) fs.writeFileSync(path.join(dir, key), value);
      const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'banyan.js'), 'validate', dir], { timeout: 60_000 });
      expect(stdout, name).toMatch(/valid/);
      const bootstrap = objects(text).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'banyan-edge-bootstrap');
      if (!bootstrap) continue;
      const cluster: string = (objects(bootstrap.data['envoy.yaml'])[0] as Obj).node.cluster;
      const groups = (objects(Object.values(cm.data as Record<string, string>).join('\n---\n')).flatMap((o) => o.groups ?? []) as { match?: { cluster?: string | string[] } }[]).flatMap((g) => [g.match?.cluster ?? []].flat());
      const glob = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      expect(groups.some((g) => glob(g).test(cluster)), `${name}: node.cluster ${cluster} matches a group (${groups.join(', ')})`).toBe(true);
    }
  }, 120_000);

  it('every edge bootstrap is what `banyan bootstrap` prints for the same values (structurally), and its probes port is the one probed and scraped', async () => {
    const defaults = parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Obj;
    // The examples, and values reaching every other branch of the template.
    const variant = { fullnameOverride: 'gw', clusterDomain: 'k8s.example', edge: { statsSink: 'prometheus', logFormat: 'text', probePort: 9912, adminPort: 9911, overload: { maxHeap: '1.5Gi', shrinkHeapAt: 0.9 } } };
    const variantFile = path.join(tmp, 'edge-variant-values.yaml');
    fs.writeFileSync(variantFile, JSON.stringify(variant));
    const cases: [string, string, Obj][] = [...rendered].map(([name, text]) => [name, text, name === 'default' ? defaults : mergeValues(defaults, parse(fs.readFileSync(path.join(CHART, 'ci', name), 'utf8')) as Obj)]);
    cases.push(['variant', await template(['-f', variantFile]), mergeValues(defaults, variant)]);
    cases.push(['no-overload', await template(['--set', 'edge.overload.enabled=false', '--set', 'edge.resources.limits=null']), mergeValues(defaults, { edge: { overload: { enabled: false } } })]);
    let compared = 0;
    for (const [name, text, values] of cases) {
      const docs = objects(text);
      const cm = docs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-edge-bootstrap'));
      if (!values.edge.enabled) {
        expect(cm, name).toBeUndefined();
        continue;
      }
      const args = edgeBootstrapArgs(values, 'banyan');
      const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'banyan.js'), ...args], { timeout: 60_000 });
      expect(objects(cm!.data['envoy.yaml'])[0], `${name}: banyan ${args.join(' ')}`).toEqual(JSON.parse(stdout));
      compared++;
      // The kubelet probes and Prometheus scrapes go to that listener's port, never to the admin.
      const port = values.edge.probePort;
      const deployment = docs.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-edge'))!;
      const c = deployment.spec.template.spec.containers[0];
      expect(c.ports.find((p: Obj) => p.name === 'probes')?.containerPort, name).toBe(port);
      expect(c.readinessProbe.httpGet, name).toMatchObject({ path: '/ready', port: 'probes' });
      expect(c.livenessProbe.tcpSocket, name).toMatchObject({ port: 'probes' });
      expect(c.args, name).not.toContain('--log-format');
      const svc = docs.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-edge-probes'))!;
      expect(svc.spec.ports, name).toEqual([{ name: 'probes', port, targetPort: 'probes' }]);
      expect(svc.spec.type, name).toBe('ClusterIP');
      const listenerSvc = docs.find((o) => o.kind === 'Service' && o.metadata.name === deployment.metadata.name)!;
      expect(listenerSvc.spec.ports.map((p: Obj) => p.targetPort), name).toEqual(['http']);
      const sm = docs.find((o) => o.kind === 'ServiceMonitor' && o.metadata.name === deployment.metadata.name);
      if (values.serviceMonitor.enabled) {
        expect(sm?.spec.endpoints, name).toEqual([expect.objectContaining({ port: 'probes', path: '/stats/prometheus' })]);
        expect(Object.entries(sm!.spec.selector.matchLabels).every(([k, l]) => svc.metadata.labels[k] === l), `${name}: the edge ServiceMonitor selects the probes Service`).toBe(true);
        expect(Object.entries(sm!.spec.selector.matchLabels).every(([k, l]) => listenerSvc.metadata.labels[k] === l), `${name}: and not the listener's`).toBe(false);
      } else expect(sm, name).toBeUndefined();
    }
    expect(compared).toBeGreaterThanOrEqual(4);
    // The heap limit follows the container's memory limit: 480Mi under the default 512Mi.
    const cm = objects(rendered.get('default')!).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'banyan-edge-bootstrap')!;
    expect((objects(cm.data['envoy.yaml'])[0] as Obj).overload_manager.resource_monitors[0].typed_config.max_heap_size_bytes).toBe(String(480 * 1024 ** 2));
    await expect(template(['--set', 'edge.resources.limits=null'])).rejects.toThrow(/needs edge.overload.maxHeap or edge.resources.limits.memory/);
    await expect(template(['--set', 'edge.probePort=9901'])).rejects.toThrow(/edge.probePort and edge.adminPort cannot be the same port/);
  }, 120_000);

  it('every edge bootstrap is a valid Envoy Bootstrap (protojson, unknown fields rejected, and ValidateAll)', async () => {
    oracle = await startOracle(BUILD_TIMEOUT);
    const inputs = [...rendered].flatMap(([name, text]) =>
      objects(text)
        .filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'banyan-edge-bootstrap')
        .map((o) => ({ id: name, typeUrl: 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap', json: objects(o.data['envoy.yaml'])[0] })),
    );
    expect(inputs.length).toBeGreaterThanOrEqual(3);
    const results = await oracle.validateJson(inputs);
    expect(results.filter((r) => !r.ok || r.unknownFields.length)).toEqual([]);
  }, BUILD_TIMEOUT);

  it('`banyan serve` accepts the control plane\'s rendered arguments and becomes ready (single replica, embedded store)', async () => {
    const text = rendered.get('single-replica-embedded-values.yaml')!;
    const deployment = objects(text).find((o) => o.kind === 'Deployment')!;
    const container = deployment.spec.template.spec.containers[0];
    const config = path.join(tmp, 'serve-config');
    const data = path.join(tmp, 'serve-data');
    fs.mkdirSync(config, { recursive: true });
    fs.mkdirSync(data, { recursive: true });
    const cm = objects(text).find((o) => o.kind === 'ConfigMap')!;
    for (const [key, value] of Object.entries(cm.data as Record<string, string>)) fs.writeFileSync(path.join(config, key), value);
    const admin = await freePort();
    const ports: Record<string, number> = { xds: await freePort(), admin, ratelimit: await freePort(), authz: await freePort() };
    // The pod's paths to temp dirs, its ports to free ones, 0.0.0.0 to loopback, $(POD_NAME) to a name.
    const args = (container.args as string[]).map((a) =>
      a
        .replace('/etc/banyan/config', config)
        .replace('/var/lib/banyan', data)
        .replace('0.0.0.0', '127.0.0.1')
        .replace('$(POD_NAME)', 'banyan-test-0')
        .replace(/^--(xds|admin|ratelimit|authz)-port=\d+$/, (_, p: string) => `--${p}-port=${ports[p]}`),
    );
    expect(args[0]).toBe('serve');
    const server = spawn(process.execPath, [path.join(ROOT, 'bin', 'banyan.js'), ...args], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BANYAN_LOG_LEVEL: 'warn' } });
    servers.push(server);
    let stderr = '';
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const probe = container.readinessProbe.httpGet as { path: string };
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline && server.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${admin}${probe.path}`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status, `serve ${args.join(' ')} ready on ${probe.path} (exit ${server.exitCode}; stderr: ${stderr.slice(-2000)})`).toBe(200);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }, 60_000);
});
