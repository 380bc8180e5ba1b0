import { startBanyan, type RunningBanyan } from '../../src/server/banyan.js';
import { createLogger } from '../../src/telemetry/logger.js';

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
export async function startOpsServer(opts: { config: string; dataDir: string; token: string }): Promise<OpsServer> {
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
    logger: createLogger('banyan-test', process.env.BANYAN_LOG_LEVEL ?? 'silent'),
  });
  return {
    adminUrl: `http://127.0.0.1:${banyan.ports.admin}`,
    xdsAddress: `127.0.0.1:${banyan.ports.xds}`,
    banyan,
    stop: () => banyan.stop(),
  };
}
