/**
 * Builds grpc-java's client helper (test/clients/java) with Maven, once per content of its pom and
 * sources, into node_modules/.cache/banyan-java/<hash>/ (classes/ and lib/); dependencies come from
 * Maven Central into the usual ~/.m2. A lock serialises builds across the suite's worker processes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { provision } from '../support/provision.js';
import { withLock } from '../support/lock.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROJECT = path.join(ROOT, 'test', 'clients', 'java');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'banyan-java');

function projectHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(java|xml)$/.test(entry.name)) hash.update(path.relative(PROJECT, full)).update('\0').update(fs.readFileSync(full));
    }
  };
  walk(PROJECT);
  return hash.digest('hex').slice(0, 16);
}

export interface JavaClient {
  java: string;
  /** Arguments before the client's own flags. */
  args: string[];
}

export async function javaClient(timeoutMs = 600_000): Promise<JavaClient> {
  const tools = await provision({
    tools: [
      { command: 'java', debianPackage: 'default-jdk-headless' },
      { command: 'javac', debianPackage: 'default-jdk-headless' },
      { command: 'mvn', debianPackage: 'maven' },
    ],
  });
  const out = path.join(CACHE, `xdsclient-${projectHash()}`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(CACHE, { recursive: true });
    await withLock(
      `${out}.lock`,
      async () => {
        if (fs.existsSync(out)) return;
        const tmp = `${out}.tmp-${process.pid}`;
        fs.rmSync(tmp, { recursive: true, force: true });
        try {
          await run(tools.get('mvn')!, ['-B', '-q', `-DbuildDir=${tmp}`, 'compile', 'dependency:copy-dependencies', `-DoutputDirectory=${path.join(tmp, 'lib')}`, '-DincludeScope=runtime'], {
            cwd: PROJECT,
            timeout: timeoutMs,
            maxBuffer: 16 * 1024 * 1024,
          });
        } catch (err) {
          fs.rmSync(tmp, { recursive: true, force: true });
          const e = err as Error & { stdout?: string; stderr?: string };
          throw new Error(`mvn build of test/clients/java failed: ${e.stdout || ''}${e.stderr || e.message}`);
        }
        fs.renameSync(tmp, out);
      },
      timeoutMs,
    );
  }
  // Short-lived JVM on a small machine: quick start over peak speed, one GC thread.
  return { java: tools.get('java')!, args: ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${path.join(out, 'classes')}:${path.join(out, 'lib', '*')}`, 'banyan.XdsClient'] };
}
