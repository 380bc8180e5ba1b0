import { BanyanError } from '../errors.js';

/** A rollout request that cannot be carried out: malformed, about no such rollout, or not allowed in the rollout's state. */
export class RolloutError extends BanyanError<'bad-input' | 'not-found' | 'bad-state'> {
  constructor(code: RolloutError['code'], message: string) {
    super(code, message);
    this.name = 'RolloutError';
  }
}

/**
 * An analysis metric source could not measure. `bad-input`: the query is wrong for the source (a
 * PromQL syntax or type error, a result that is not one value, a template variable it cannot fill);
 * `bad-state`: the source did not answer usefully (unreachable, timed out, failed). The message
 * always ends with the query, and `query` holds it too.
 */
export class MetricSourceError extends BanyanError<'bad-input' | 'bad-state'> {
  constructor(
    code: MetricSourceError['code'],
    message: string,
    readonly query: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'MetricSourceError';
  }
}
