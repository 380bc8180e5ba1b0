/** A rollout request that cannot be carried out. `code` lets the admin API pick 400 / 404 / 409 without parsing messages. */
export class RolloutError extends Error {
  constructor(
    readonly code: 'bad-input' | 'not-found' | 'bad-state',
    message: string,
  ) {
    super(message);
    this.name = 'RolloutError';
  }
}
