#!/usr/bin/env node
// Renders manifests/*.yaml from the Helm chart (charts/banyan) with its default values, so the plain
// manifests and the chart never drift. The chart's generated secrets (the trial PostgreSQL password,
// the CA key passphrase) would be random on every render, so they are pinned to CHANGE-ME
// placeholders here: replace them before applying manifests/ anywhere that matters.
//
//   node scripts/render-manifests.mjs            # writes manifests/*.yaml
//   node scripts/render-manifests.mjs --check    # exit 1 when manifests/ differs from the chart
//   node scripts/render-manifests.mjs --helm-path  # prints the helm binary (building it if missing)
//
// helm is built from the Go module proxy (`go install helm.sh/helm/v3/cmd/helm@HELM_VERSION`) into
// node_modules/.cache/banyan-helm/, once; HELM=/path/to/helm uses another one.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HELM_VERSION = 'v3.22.0';
// `go install` leaves helm's own default (v1.20) in place of the Kubernetes version its Makefile
// stamps in, so every render names one: the minor of the k8s.io/api the suite decodes with.
export const KUBE_VERSION = '1.37.0';
export const RELEASE = 'banyan';
export const NAMESPACE = 'default';
export const PLACEHOLDERS = {
  'postgresql.auth.password': 'CHANGE-ME-trial-postgresql-password',
  'caPassphrase.value': 'CHANGE-ME-ca-key-passphrase',
};

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chart = path.join(repo, 'charts', 'banyan');
const outDir = path.join(repo, 'manifests');

/** Which manifests/ file each chart template goes to. */
const fileFor = (template) => {
  if (template.startsWith('edge-')) return 'edge-envoy.yaml';
  if (template === 'postgresql.yaml') return 'postgresql.yaml';
  if (template === 'redis.yaml') return 'redis.yaml';
  return 'control-plane.yaml';
};

const HEADER = {
  'control-plane.yaml': 'Banyan control plane: xDS (18000), admin API (18001), rate limit (8081), authz (9191), two replicas sharing state through PostgreSQL and rate-limit counters through Redis.',
  'edge-envoy.yaml': 'An edge Envoy taking everything from Banyan over ADS, with its bootstrap ConfigMap.',
  'postgresql.yaml': 'A trial PostgreSQL for the shared store (one pod, data in an emptyDir): use your own in production.',
  'redis.yaml': 'A trial Redis for shared rate-limit counters (one pod, nothing persisted).',
};

export function helmPath() {
  if (process.env.HELM) return process.env.HELM;
  const dir = path.join(repo, 'node_modules', '.cache', 'banyan-helm', HELM_VERSION);
  const bin = path.join(dir, 'helm');
  if (fs.existsSync(bin)) return bin;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.mkdirSync(tmp, { recursive: true });
  process.stderr.write(`render-manifests: building helm ${HELM_VERSION} from the Go module proxy (a few minutes, once)\n`);
  try {
    execFileSync('go', ['install', '-trimpath', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
      env: { ...process.env, GOBIN: tmp, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 1_200_000,
    });
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(tmp, 'helm'), bin);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

/** `helm template` of the chart with the given extra arguments (values files, --set). */
export function helmTemplate(helm, args = [], namespace = NAMESPACE) {
  return execFileSync(helm, ['template', RELEASE, chart, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The manifests/ files: rendered documents grouped by template, each file with a header. */
export function render(helm) {
  const sets = Object.entries(PLACEHOLDERS).flatMap(([k, v]) => ['--set-string', `${k}=${v}`]);
  const out = helmTemplate(helm, sets);
  const files = new Map();
  for (const doc of out.split(/^---\s*$/m)) {
    const m = /^# Source: [^/]+\/templates\/(.+)$/m.exec(doc);
    if (!m) continue;
    const file = fileFor(m[1]);
    const body = doc.replace(/^\s*\n/, '').replace(/^# Source: .*\n/m, '').trimEnd();
    files.set(file, [...(files.get(file) ?? []), body]);
  }
  const result = new Map();
  for (const [file, docs] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const header =
      `# ${HEADER[file] ?? ''}\n` +
      `# Rendered from charts/banyan with its default values by scripts/render-manifests.mjs (helm ${HELM_VERSION}):\n` +
      `# do not edit, change the chart and run \`node scripts/render-manifests.mjs\`. Secrets the chart would\n` +
      `# generate are CHANGE-ME placeholders here; see README "Deployment".\n`;
    result.set(file, header + docs.join('\n---\n') + '\n');
  }
  return result;
}

function main(argv) {
  if (argv.includes('--helm-path')) {
    process.stdout.write(`${helmPath()}\n`);
    return 0;
  }
  const files = render(helmPath());
  const existing = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith('.yaml')) : [];
  if (argv.includes('--check')) {
    const problems = [];
    for (const [file, text] of files) {
      const full = path.join(outDir, file);
      if (!fs.existsSync(full)) problems.push(`manifests/${file} is missing`);
      else if (fs.readFileSync(full, 'utf8') !== text) problems.push(`manifests/${file} differs from the chart`);
    }
    for (const file of existing) if (!files.has(file)) problems.push(`manifests/${file} is not rendered from the chart`);
    for (const p of problems) process.stderr.write(`render-manifests: ${p}\n`);
    if (problems.length) process.stderr.write('render-manifests: run `node scripts/render-manifests.mjs` and commit manifests/\n');
    return problems.length ? 1 : 0;
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const file of existing) if (!files.has(file)) fs.rmSync(path.join(outDir, file));
  for (const [file, text] of files) fs.writeFileSync(path.join(outDir, file), text);
  process.stdout.write(`render-manifests: wrote ${[...files.keys()].map((f) => `manifests/${f}`).join(', ')}\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
