/**
 * Banyan's domain errors. Every failure an operator can cause or meet carries a `code` from one
 * closed set, so the admin API (src/admin/routes/errors.ts) and the CLI (src/cli/admin-client.ts)
 * each decide status and exit code from one table keyed by code, never by reading message text.
 *
 * This file sits at the top of src/ and imports nothing, so every layer (config, store, rollout,
 * server, admin, cli) can throw and recognise these without an import that points back up.
 */

export type BanyanCode =
  // Addressing a route (config/routes.ts).
  | 'unknown-route'
  | 'ambiguous-route'
  | 'not-forward'
  // Backends and weights (config/weights.ts).
  | 'unknown-backend'
  | 'bad-weights'
  // Other malformed requests (rollout steps and intervals).
  | 'bad-input'
  // The request is fine but the state refuses it.
  | 'busy-route'
  | 'file-owned'
  | 'bad-state'
  | 'conflict'
  | 'not-found'
  // Candidate configs (server/control.ts).
  | 'rejected-config'
  | 'held-change'
  | 'no-config'
  // The state store (store/errors.ts).
  | 'store-unavailable'
  | 'store-locked'
  | 'store-corrupt';

export class BanyanError<C extends BanyanCode = BanyanCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BanyanError';
  }
}
