/**
 * Errors a Store raises. Callers (admin API, CLI) map them to HTTP statuses and exit codes by class,
 * so each failure mode has its own type rather than a message to parse.
 */

/** The backing database cannot be reached. Nothing was applied; retrying later is safe. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Optimistic concurrency: the record changed since the caller read it. Re-read and retry. */
export class RevisionConflictError extends Error {
  constructor(
    readonly id: string,
    readonly expected: number,
    readonly actual: number | undefined,
  ) {
    super(
      actual === undefined
        ? `rollout ${id} does not exist`
        : `rollout ${id} changed concurrently (expected revision ${expected}, found ${actual})`,
    );
    this.name = 'RevisionConflictError';
  }
}

/** A route already has a running or paused rollout. */
export class ActiveRolloutExistsError extends Error {
  constructor(
    readonly route: string,
    readonly existingId: string,
  ) {
    super(`route ${route} already has an active rollout (${existingId}); abort or finish it first`);
    this.name = 'ActiveRolloutExistsError';
  }
}

/** Another process holds the embedded store's data directory. */
export class StoreLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLockedError';
  }
}

/** The on-disk or in-database state is not something this version can read. */
export class StoreCorruptError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreCorruptError';
  }
}
