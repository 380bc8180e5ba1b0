/**
 * The two ways admission refuses a candidate. They live here, beside the rules that produce their
 * diagnostics, so that the control plane (which throws them) and the admin API (which maps them to
 * HTTP) both import them downwards, neither through the other.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import { BanyanError } from '../errors.js';

/** A candidate config was invalid: nothing was stored or applied. */
export class ConfigRejectedError extends BanyanError<'rejected-config'> {
  constructor(readonly diagnostics: Diagnostic[]) {
    super('rejected-config', `config rejected: ${diagnostics.filter((d) => d.severity === 'error').length} error(s)`);
    this.name = 'ConfigRejectedError';
  }
}

/** A valid change that removes much of what is served: held until the operator confirms it. */
export class ChangeHeldError extends BanyanError<'held-change'> {
  constructor(readonly findings: Diagnostic[]) {
    super('held-change', `change held: ${findings.map((f) => f.message).join('; ')}`);
    this.name = 'ChangeHeldError';
  }
}
