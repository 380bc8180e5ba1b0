import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { RdsWatcher } from './ads.js';
import { routesYaml } from './config.yaml.js';

export interface OpsServer {
  adminUrl: string;
  xdsAddress: string;
  banyan: RunningBanyan;
  stop(): Promise<void>;
}

/**
 * `banyan serve` in this process on free ports, over an embedded store in `dataDir` (so a restart
 * keeps the state); no rate limit or authz service, which these tests do not need.
 */
export async function startOpsServer(opts: { config: string; dataDir: string; token: string; logger?: Logger }): Promise<OpsServer> {
  const banyan = await startBanyan({
    config: opts.config,
    dataDir: opts.dataDir,
    host: '127.0.0.1',
    xdsPort: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: opts.token,
    debounceMs: 50,
    watch: false,
    logger: opts.logger ?? createLogger('banyan-test', process.env.BANYAN_LOG_LEVEL ?? 'silent'),
  });
  return {
    adminUrl: `http://127.0.0.1:${banyan.ports.admin}`,
    xdsAddress: `127.0.0.1:${banyan.ports.xds}`,
    banyan,
    stop: () => banyan.stop(),
  };
}

export interface CliFixture {
  /** Temp dir holding routes.yaml and the store; tests may write candidate files here. */
  dir: string;
  server: OpsServer;
  /** A scripted Envoy-like proxy subscribed to RDS, already holding the YAML's weights. */
  proxy: RdsWatcher;
  stop(): Promise<void>;
}

/** The setup every CLI end-to-end test shares: YAML in a temp dir, a server on it (logging to `logger`, silent by default), one connected proxy. */
export async function startCliFixture(token: string, opts: { logger?: Logger } = {}): Promise<CliFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-cli-'));
  const stops: (() => Promise<void> | void)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn();
  };
  try {
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml());
    const server = await startOpsServer({ config: path.join(dir, 'routes.yaml'), dataDir: path.join(dir, 'data'), token, logger: opts.logger });
    stops.push(() => server.stop());
    const proxy = new RdsWatcher(server.xdsAddress, 'edge-proxy-1');
    stops.push(() => proxy.close());
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([90, 10]));
    return { dir, server, proxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
