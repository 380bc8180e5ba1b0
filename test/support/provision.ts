/**
 * What the test suite needs from the machine, found or installed before any test runs.
 *
 * The README's test command must pass on a fresh machine with nothing installed by hand, so the suite
 * provisions its own system servers: on Debian as root it installs the missing packages with apt-get;
 * anywhere else it stops at once with one line naming what is missing and how to get it — never a
 * 10 s wait on a server that can't start and a stack trace from deep inside a test.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SystemTool {
  /** The executable the tests run. */
  command: string;
  /** The Debian package that ships it. */
  debianPackage: string;
  /** Directories off PATH where the package puts it (Debian's PostgreSQL keeps its binaries per major). */
  extraDirs?: () => string[];
}

const postgresBinDirs = (): string[] => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => path.join(root, major, 'bin'));
};

export const SYSTEM_TOOLS: readonly SystemTool[] = [
  { command: 'redis-server', debianPackage: 'redis-server' },
  { command: 'initdb', debianPackage: 'postgresql', extraDirs: postgresBinDirs },
  { command: 'pg_ctl', debianPackage: 'postgresql', extraDirs: postgresBinDirs },
  // Analysis checks with `source: prometheus` run against a real Prometheus (support/prometheus.ts).
  // The package may start its own service on install; the tests never use it, they start their own.
  { command: 'prometheus', debianPackage: 'prometheus' },
  // `promtool check metrics` lints every server's /metrics (test/telemetry/promtool.test.ts).
  { command: 'promtool', debianPackage: 'prometheus' },
];

/** The absolute path of `command` on `searchPath` or in the tool's extra directories, if any. */
export function locate(tool: SystemTool, searchPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...searchPath.split(path.delimiter).filter(Boolean), ...(tool.extraDirs?.() ?? [])];
  for (const dir of dirs) {
    const candidate = path.join(dir, tool.command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export class MissingToolsError extends Error {
  constructor(readonly missing: readonly SystemTool[], reason: string) {
    const pkgs = [...new Set(missing.map((t) => t.debianPackage))].join(' ');
    const cmds = missing.map((t) => t.command).join(', ');
    super(`banyan tests need ${cmds} (${reason}): install with \`apt-get install -y ${pkgs}\` and run npm test again`);
    this.name = 'MissingToolsError';
  }
}

export interface ProvisionOptions {
  tools?: readonly SystemTool[];
  searchPath?: string;
  /** Whether installing is allowed at all (BANYAN_TEST_NO_INSTALL=1 turns it off). */
  install?: boolean;
  log?: (line: string) => void;
}

/**
 * Finds every tool, installing the missing ones with apt-get when that is possible (root, Debian).
 * Throws MissingToolsError, whose message is one line, when something is still missing.
 */
export async function provision(options: ProvisionOptions = {}): Promise<Map<string, string>> {
  const tools = options.tools ?? SYSTEM_TOOLS;
  const searchPath = options.searchPath ?? process.env.PATH ?? '';
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const found = new Map<string, string>();
  const missing = (): SystemTool[] => tools.filter((t) => !found.has(t.command));
  const look = () => {
    for (const tool of missing()) {
      const at = locate(tool, searchPath);
      if (at) found.set(tool.command, at);
    }
  };
  look();
  if (missing().length === 0) return found;

  const install = options.install ?? process.env.BANYAN_TEST_NO_INSTALL !== '1';
  if (!install) throw new MissingToolsError(missing(), 'installing is turned off by BANYAN_TEST_NO_INSTALL=1');
  if (process.getuid?.() !== 0) throw new MissingToolsError(missing(), 'not root, so the suite cannot install them itself');
  const aptGet = locate({ command: 'apt-get', debianPackage: 'apt' }, `${searchPath}${path.delimiter}/usr/bin`);
  if (!aptGet) throw new MissingToolsError(missing(), 'no apt-get on this machine');

  const pkgs = [...new Set(missing().map((t) => t.debianPackage))];
  log(`banyan tests: installing ${pkgs.join(' ')} with apt-get (missing: ${missing().map((t) => t.command).join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run(aptGet, ['update', '-qq'], { env, timeout: 300_000 });
    await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env, timeout: 600_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const detail = (e.stderr || e.message).trim().split('\n').pop() ?? '';
    throw new MissingToolsError(missing(), `apt-get failed: ${detail}`);
  }
  look();
  if (missing().length > 0) throw new MissingToolsError(missing(), 'apt-get installed the packages but the commands are still not found');
  return found;
}

/** Environment variable the global setup publishes each tool's absolute path under, for the test workers. */
export const toolEnvName = (command: string): string => `BANYAN_TEST_BIN_${command.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;

/** The absolute path the global setup found for `command`, falling back to a PATH lookup. */
export function toolPath(command: string): string {
  const published = process.env[toolEnvName(command)];
  if (published) return published;
  const tool = SYSTEM_TOOLS.find((t) => t.command === command) ?? { command, debianPackage: command };
  const at = locate(tool);
  if (!at) throw new MissingToolsError([tool], 'not found on PATH');
  return at;
}
