import { watch, type FSWatcher } from 'chokidar';
import type { AuthProvider } from '../config/model.js';
import type { Logger } from '../telemetry/logger.js';
import { KeyStore } from './key-store.js';
import { fileLoader, oidcLoader, uriLoader } from './jwks-loaders.js';
import type { AuthzMetrics } from './metrics.js';

/** Cooldown between unknown-kid rereads of a local key file (the watcher normally wins the race). */
const FILE_KID_COOLDOWN_MS = 1000;

export interface ProviderRuntime {
  config: AuthProvider;
  keys: KeyStore;
  /** Identity of the key source: a reload keeps the KeyStore (and its keys) when this is unchanged. */
  source: string;
  close(): Promise<void>;
}

export function keySourceOf(p: AuthProvider): string {
  return JSON.stringify(p.jwks.kind === 'oidc' ? { ...p.jwks, issuer: p.issuer } : p.jwks);
}

/** Builds a provider's key store and starts its first load, background refresh and file watch. */
export function startProvider(config: AuthProvider, deps: { metrics?: AuthzMetrics; logger?: Logger }): ProviderRuntime {
  const { jwks } = config;
  const load = jwks.kind === 'uri' ? uriLoader(jwks.uri) : jwks.kind === 'oidc' ? oidcLoader(config.issuer) : fileLoader(jwks.path);
  const keys = new KeyStore({
    load,
    refreshMs: jwks.kind === 'file' ? undefined : jwks.cacheMs,
    cooldownMs: jwks.kind === 'file' ? FILE_KID_COOLDOWN_MS : jwks.cooldownMs,
    onLoad(outcome) {
      deps.metrics?.jwksFetches.inc({ provider: config.name });
      if (outcome.ok) return;
      deps.metrics?.jwksFailures.inc({ provider: config.name });
      deps.logger?.warn({ provider: config.name, err: String(outcome.error) }, 'JWKS load failed; keeping the last good keys');
    },
  });
  void keys.start();
  let watcher: FSWatcher | undefined;
  if (jwks.kind === 'file') {
    watcher = watch(jwks.path, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
    watcher.on('all', () => void keys.reload());
  }
  return {
    config,
    keys,
    source: keySourceOf(config),
    async close() {
      keys.stop();
      await watcher?.close();
    },
  };
}
