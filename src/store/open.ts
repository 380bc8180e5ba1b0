import type { Logger } from '../telemetry/logger.js';
import { EmbeddedStore } from './embedded.js';
import { PostgresStore } from './postgres.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /** PostgreSQL URL; when absent the embedded store is used. */
  postgresUrl?: string;
  /** Embedded store directory; default `.banyan` under the current directory. */
  dataDir?: string;
  logger?: Logger;
}

/** The store `banyan serve` runs on: PostgreSQL when a URL is given (replicas), else the embedded default. */
export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  if (opts.postgresUrl) return PostgresStore.open({ url: opts.postgresUrl, logger: opts.logger });
  return EmbeddedStore.open({ dir: opts.dataDir });
}
