/**
 * Provisions the suite's Python helpers (gRPC C-core through grpcio as a real xDS client) without
 * touching the system Python: the packages of a requirements file under test/python/ are installed
 * with pip --target into node_modules/.cache/banyan-py/<hash>, once per content of that file and
 * interpreter, and a lock directory serialises installs across the suite's worker processes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { provision } from './provision.js';
import { withLock } from './lock.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'banyan-py');

export interface PythonEnv {
  /** The interpreter to run. */
  python: string;
  /** Environment for it: the installed packages on PYTHONPATH, nothing from the user's site dir. */
  env: Record<string, string>;
  /** A script under test/python/, absolute. */
  script(name: string): string;
}


async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** python3 with a working pip, installed with apt-get on Debian as root when missing (as provision.ts does). */
async function interpreter(): Promise<string> {
  const python = (await provision({ tools: [{ command: 'python3', debianPackage: 'python3' }] })).get('python3')!;
  if (await succeeds(python, ['-m', 'pip', '--version'])) return python;
  await provision({ tools: [{ command: 'pip3', debianPackage: 'python3-pip' }] });
  if (await succeeds(python, ['-m', 'pip', '--version'])) return python;
  throw new Error(`${python} has no pip: install it (Debian: \`apt-get install -y python3-pip\`) and run npm test again`);
}

let cached: Promise<string> | undefined;

/**
 * An interpreter and environment in which test/python/<requirements> is importable. Installs it when
 * missing (needs PyPI); throws with pip's own output when that fails.
 */
export async function pythonEnv(requirements = 'requirements.txt', timeoutMs = 600_000): Promise<PythonEnv> {
  cached ??= interpreter();
  const python = await cached;
  const reqFile = path.join(ROOT, 'test', 'python', requirements);
  // Wheels are built per interpreter version and machine, so both are part of the key.
  const { stdout: tag } = await run(python, ['-c', 'import sys, platform; print(sys.implementation.cache_tag, platform.machine())']);
  const hash = createHash('sha256').update(tag.trim()).update('\0').update(fs.readFileSync(reqFile)).digest('hex').slice(0, 16);
  const target = path.join(CACHE, `${path.basename(requirements, '.txt')}-${hash}`);
  if (!fs.existsSync(target)) {
    fs.mkdirSync(CACHE, { recursive: true });
    await withLock(
      `${target}.lock`,
      async () => {
        if (fs.existsSync(target)) return;
        const tmp = `${target}.tmp-${process.pid}`;
        fs.rmSync(tmp, { recursive: true, force: true });
        try {
          await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--no-warn-script-location', '--target', tmp, '-r', reqFile], {
            timeout: timeoutMs,
            maxBuffer: 16 * 1024 * 1024,
            env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
          });
        } catch (err) {
          fs.rmSync(tmp, { recursive: true, force: true });
          const e = err as Error & { stderr?: string };
          throw new Error(`pip install -r test/python/${requirements} failed: ${e.stderr || e.message}`);
        }
        fs.renameSync(tmp, target);
      },
      timeoutMs,
    );
  }
  return {
    python,
    env: { PYTHONPATH: target, PYTHONNOUSERSITE: '1', PYTHONUNBUFFERED: '1' },
    script: (name) => path.join(ROOT, 'test', 'python', name),
  };
}
