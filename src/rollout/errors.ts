import { BanyanError } from '../errors.js';

/** A rollout request that cannot be carried out: malformed, about no such rollout, or not allowed in the rollout's state. */
export class RolloutError extends BanyanError<'bad-input' | 'not-found' | 'bad-state'> {
  constructor(code: RolloutError['code'], message: string) {
    super(code, message);
    this.name = 'RolloutError';
  }
}
