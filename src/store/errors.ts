/**
 * Errors a Store raises. Each is a BanyanError whose code the admin API and the CLI map to a status
 * and an exit code; the classes stay for the fields some carry and for callers that retry on one.
 */
import { BanyanError } from '../errors.js';

/** The backing database cannot be reached. Nothing was applied; retrying later is safe. */
export class StoreUnavailableError extends BanyanError<'store-unavailable'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store-unavailable', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Optimistic concurrency: the record changed since the caller read it. Re-read and retry. */
export class RevisionConflictError extends BanyanError<'conflict'> {
  constructor(
    readonly id: string,
    readonly expected: number,
    readonly actual: number | undefined,
  ) {
    super(
      'conflict',
      actual === undefined
        ? `rollout ${id} does not exist`
        : `rollout ${id} changed concurrently (expected revision ${expected}, found ${actual})`,
    );
    this.name = 'RevisionConflictError';
  }
}

/** A route already has a running or paused rollout. */
export class ActiveRolloutExistsError extends BanyanError<'busy-route'> {
  constructor(
    readonly route: string,
    readonly existingId: string,
  ) {
    super('busy-route', `route ${route} already has an active rollout (${existingId}); abort or finish it first`);
    this.name = 'ActiveRolloutExistsError';
  }
}

/** Another process holds the embedded store's data directory. */
export class StoreLockedError extends BanyanError<'store-locked'> {
  constructor(message: string) {
    super('store-locked', message);
    this.name = 'StoreLockedError';
  }
}

/** The on-disk or in-database state is not something this version can read. */
export class StoreCorruptError extends BanyanError<'store-corrupt'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store-corrupt', message, options);
    this.name = 'StoreCorruptError';
  }
}
