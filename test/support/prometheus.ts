import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import { toolPath } from './provision.js';

export interface PrometheusOptions {
  /** `host:port` targets scraped at `/metrics`, as one job. */
  targets: string[];
  /** Seconds between scrapes (default 1); fractions are fine (0.5 is written as 500ms). */
  scrapeIntervalSec?: number;
}

/**
 * A real Prometheus for a test file, started by the test itself (never the system's service, which
 * the Debian package may have set up): its own config and TSDB in a temp directory, on a free
 * loopback port, ready when `/-/ready` answers 200. stop() kills it and removes the directory; call
 * it in afterAll. A start that fails kills what it started before throwing. Prometheus 2.42 applies
 * new scrape targets about 5 s after it starts (discovery updates are throttled): the first scrape
 * comes that late, so wait on scraped data, not on readiness.
 */
export class PrometheusServer {
  private proc?: ChildProcess;
  private log: string[] = [];

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: PrometheusOptions): Promise<PrometheusServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-prometheus-'));
    const server = new PrometheusServer(await freePort(), dir);
    try {
      await server.run(opts);
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private async run(opts: PrometheusOptions): Promise<void> {
    // Prometheus durations are whole numbers of a unit: 0.5s is refused, 500ms is not.
    const interval = `${Math.max(1, Math.round((opts.scrapeIntervalSec ?? 1) * 1000))}ms`;
    const config = [
      'global:',
      `  scrape_interval: ${interval}`,
      // must not exceed the interval (Prometheus refuses the config otherwise)
      `  scrape_timeout: ${interval}`,
      '  evaluation_interval: 1m',
      'scrape_configs:',
      '  - job_name: banyan-test',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n');
    const configFile = path.join(this.dir, 'prometheus.yml');
    await writeFile(configFile, config);
    const proc = spawn(
      toolPath('prometheus'),
      [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir },
    );
    this.proc = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      this.log.push(...chunk.split('\n').filter(Boolean));
      this.log.splice(0, Math.max(0, this.log.length - 20));
    });
    // 'error' too: a spawn that fails never emits 'exit', and waiting for /-/ready would only time out.
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`prometheus could not start: ${err.message}`)));
      proc.once('exit', (code, signal) => reject(new Error(`prometheus exited with ${code ?? signal}: ${this.log.slice(-5).join(' | ')}`)));
    });
    exited.catch(() => {});
    await Promise.race([
      exited,
      eventually(
        async () => {
          const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          if (res.status !== 200) throw new Error(`prometheus not ready: HTTP ${res.status}`);
        },
        20_000,
        50,
      ),
    ]);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await gone;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
