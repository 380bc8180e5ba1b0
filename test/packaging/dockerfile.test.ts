/**
 * The Dockerfile, checked without a Docker daemon (CI has none, so the image build itself is not
 * exercised): its structure (multi-stage, pinned LTS base by tag, non-root user, HEALTHCHECK on /readyz
 * of the admin port), that every file it copies from the context exists and is let through by
 * .dockerignore, that the final stage holds the layout the npm package ships (which
 * test/packaging/npm-pack.test.ts installs and runs), and that its ENTRYPOINT + CMD and HEALTHCHECK
 * work: the image's command is run from the repository with the data directory moved to a temp dir,
 * and the health check command, run as the image would, passes once serve is ready.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PORTS } from '../../src/ports.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i].trim();
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${line}`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 });
  }
  return out;
}

/** An exec-form (JSON array) argument list. */
const execForm = (args: string): string[] => {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed as string[];
};

/** Whether .dockerignore's patterns (a `*` then `!path` exceptions, as ours is written) let `file` into the context. */
function inContext(patterns: string[], file: string): boolean {
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const re = new RegExp(
      '^' +
        pattern
          .split('/')
          .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')))
          .join('/') +
        '(/.*)?$',
    );
    if (re.test(file)) included = negate;
  }
  return included;
}

const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = fs
  .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = (() => {
  const result: Instruction[][] = [];
  for (const ins of dockerfile) {
    if (ins.op === 'FROM') result.push([]);
    result.at(-1)?.push(ins);
  }
  return result;
})();
const finalStage = stages.at(-1) ?? [];
const args = new Map(dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
const resolve = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '');

describe('Dockerfile', () => {
  it('is multi-stage on a Node.js LTS base pinned by its full version tag', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      const image = resolve(stage[0].args.split(/\s+/)[0]);
      // node:<major>.<minor>.<patch>-<variant>: never latest, lts or a bare major.
      const m = /^node:(\d+)\.\d+\.\d+(-[a-z-]+)?$/.exec(image);
      expect(m, `FROM ${image} (line ${stage[0].line})`).not.toBeNull();
      // Even majors are LTS lines; 22 and 24 are the supported ones.
      expect([22, 24]).toContain(Number(m![1]));
    }
  });

  it('runs as a non-root user in the final stage, with production dependencies only', () => {
    const user = finalStage.filter((i) => i.op === 'USER').at(-1);
    expect(user, 'USER in the final stage').toBeDefined();
    expect(user!.args).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/); // numeric, so runAsNonRoot can verify it
    const deps = stages.find((s) => s.some((i) => i.op === 'RUN' && /npm ci .*--omit=dev/.test(i.args)));
    expect(deps, 'a stage installing with npm ci --omit=dev').toBeDefined();
    const depsName = / AS (\w+)$/i.exec(deps![0].args)?.[1];
    const copies = finalStage.filter((i) => i.op === 'COPY');
    expect(copies.find((c) => c.args.includes(`--from=${depsName}`) && c.args.includes('node_modules'))).toBeDefined();
    // No npm install of anything in the final stage, and no source, tests or benchmarks copied in.
    expect(finalStage.filter((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args))).toEqual([]);
    expect(copies.filter((c) => /(^|\s)(src|test|bench)\//.test(c.args) && !c.args.includes('--from'))).toEqual([]);
  });

  it('copies from the context only files that exist and that .dockerignore lets through', () => {
    const sources = dockerfile
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from'))
      .flatMap((i) => {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        return parts.slice(0, -1);
      });
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const rel = src.replace(/\/$/, '');
      expect(fs.existsSync(path.join(ROOT, rel)), `COPY ${src}`).toBe(true);
      expect(inContext(ignore, rel), `.dockerignore keeps ${src} in the context`).toBe(true);
    }
    // What must stay out of the context.
    for (const out of ['node_modules', 'dist', '.git', 'test', 'bench', '.banyan', 'src/proto/generated']) expect(inContext(ignore, out), out).toBe(false);
  });

  it("holds in its final stage the npm package's layout: package.json and every `files` entry", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    const targets = finalStage.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/).at(-1)!.replace(/^\.\/$/, '').replace(/\/$/, ''));
    for (const entry of pkg.files.filter((f) => !f.startsWith('!'))) expect(targets, `COPY … ${entry}`).toContain(entry.replace(/\/$/, ''));
    expect(finalStage.some((i) => i.op === 'COPY' && /^package\.json\s+\.\/$/.test(i.args))).toBe(true);
  });

  const servers: ChildProcess[] = [];
  const tmpDirs: string[] = [];
  afterAll(() => {
    for (const s of servers) s.kill('SIGKILL');
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("runs the bin as ENTRYPOINT; CMD serves the quick start, and the HEALTHCHECK passes on the admin port's /readyz once it is ready", async () => {
    const entrypoint = execForm(finalStage.find((i) => i.op === 'ENTRYPOINT')!.args);
    const cmd = execForm(finalStage.find((i) => i.op === 'CMD')!.args);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(entrypoint).toEqual(['node', pkg.bin.banyan]);
    expect(cmd[0]).toBe('serve');
    const healthcheck = finalStage.find((i) => i.op === 'HEALTHCHECK')!;
    const hc = /CMD\s+(\[.*\])$/.exec(healthcheck.args);
    expect(hc, 'HEALTHCHECK … CMD [exec form]').not.toBeNull();
    const check = execForm(hc![1]);
    const env = new Map(finalStage.filter((i) => i.op === 'ENV').map((i) => i.args.split('=') as [string, string]));
    const url = new URL(env.get('BANYAN_HEALTHCHECK_URL')!);
    expect(url.pathname).toBe('/readyz');
    expect(Number(url.port)).toBe(DEFAULT_PORTS.admin);

    // The image's command, from the repository: data dir in a temp dir, ports free ones.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-docker-cmd-'));
    tmpDirs.push(dataDir);
    const argv = cmd.map((a) => (a === '/var/lib/banyan' ? dataDir : a));
    const ports = { xds: await freePort(), admin: await freePort(), ratelimit: await freePort(), authz: await freePort() };
    const extra = ['--xds-port', `${ports.xds}`, '--admin-port', `${ports.admin}`, '--ratelimit-port', `${ports.ratelimit}`, '--authz-port', `${ports.authz}`];
    const healthEnv = { ...process.env, BANYAN_HEALTHCHECK_URL: `http://127.0.0.1:${ports.admin}/readyz` };
    const probe = () =>
      run(check[0] === 'node' ? process.execPath : check[0], check.slice(1), { env: healthEnv, timeout: 5_000 }).then(
        () => true,
        () => false,
      );
    expect(await probe(), 'nothing serves yet: the check fails').toBe(false);
    const server = spawn(process.execPath, [...entrypoint.slice(1), ...argv, ...extra], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(server);
    let stderr = '';
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 30_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline && server.exitCode === null) {
      healthy = await probe();
      if (!healthy) await new Promise((r) => setTimeout(r, 200));
    }
    expect(healthy, `HEALTHCHECK passes within 30 s (serve stderr: ${stderr.slice(-2000)})`).toBe(true);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }, 60_000);
});
