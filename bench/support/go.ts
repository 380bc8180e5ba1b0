/**
 * Builds the bench's Go helpers (bench/go/<module>) from the Go module proxy, as test/support/go.ts
 * does for the suite's: once per content of the module (go.mod, go.sum, *.go), kept in
 * node_modules/.cache/banyan-go/ next to the suite's, so later runs reuse the binary.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The repository root, from bench/support/ or dist/bench/support/. */
function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the repository root');
    dir = up;
  }
  return dir;
}

function moduleHash(moduleDir: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(go|mod|sum)$/.test(entry.name)) hash.update(path.relative(moduleDir, full)).update('\0').update(fs.readFileSync(full));
    }
  };
  walk(moduleDir);
  return hash.digest('hex').slice(0, 16);
}

/** The path of the built binary of bench/go/<module>; builds it when missing (go's output on failure). */
export async function benchGoBinary(module: string, timeoutMs = 600_000): Promise<string> {
  const root = repoRoot();
  const moduleDir = path.join(root, 'bench', 'go', module);
  const cache = path.join(root, 'node_modules', '.cache', 'banyan-go');
  const out = path.join(cache, `bench-${module}-${moduleHash(moduleDir)}`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await run('go', ['build', '-trimpath', '-o', tmp, '.'], {
      cwd: moduleDir,
      env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`go build in bench/go/${module} failed (it needs go and the Go module proxy): ${e.stderr || e.message}`);
  }
  fs.renameSync(tmp, out);
  return out;
}
