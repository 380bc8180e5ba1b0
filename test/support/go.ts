/**
 * Builds the suite's small Go helpers (real grpc-go xDS clients, go-control-plane's validators as an
 * oracle) from their modules under test/go/, fetching dependencies from the Go module proxy.
 *
 * A binary is built once per content of its module (go.mod, go.sum, *.go) and kept in
 * node_modules/.cache/banyan-go/, so a second run of the suite and parallel test files reuse it; a
 * lock file serialises builds of the same module across the suite's worker processes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withLock } from './lock.js';

const run = promisify(execFile);

/** The repository root, from test/support/ or dist/test/support/ (the benches import this built). */
function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above test/support');
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'banyan-go');

function moduleHash(moduleDir: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(go|mod|sum|proto)$/.test(entry.name)) hash.update(path.relative(moduleDir, full)).update('\0').update(fs.readFileSync(full));
    }
  };
  walk(moduleDir);
  return hash.digest('hex').slice(0, 16);
}


/**
 * The path of a built binary for package `pkg` (e.g. "./cmd/oracle") of the module in test/go/<module>.
 * Builds it when missing; throws with go's own output when the build fails.
 */
export function goBinary(module: string, pkg = '.', timeoutMs = 600_000): Promise<string> {
  return goModuleBinary(`test/go/${module}`, `${module}-${pkg.replace(/[^A-Za-z0-9]+/g, '_')}`, pkg, timeoutMs);
}

/**
 * The built binary of package `pkg` of the Go module at `module` (a path from the repository root: the
 * suite's under test/go, the benches' under bench/go), cached as `<name>-<hash of the module>`; builds
 * of one binary are serialised.
 */
export async function goModuleBinary(module: string, name: string, pkg = '.', timeoutMs = 600_000): Promise<string> {
  const moduleDir = path.join(ROOT, module);
  const out = path.join(CACHE, `${name}-${moduleHash(moduleDir)}`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(CACHE, { recursive: true });
  return withLock(
    `${out}.lock`,
    async () => {
      if (fs.existsSync(out)) return out;
      const tmp = `${out}.tmp-${process.pid}`;
      try {
        await run('go', ['build', '-trimpath', '-o', tmp, pkg], {
          cwd: moduleDir,
          env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' },
          timeout: timeoutMs,
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (err) {
        const e = err as Error & { stderr?: string };
        throw new Error(`go build ${pkg} in ${module} failed: ${e.stderr || e.message}`);
      }
      fs.renameSync(tmp, out);
      return out;
    },
    timeoutMs,
  );
}
