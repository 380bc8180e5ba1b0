/**
 * Maps the domain's error classes to HTTP statuses, so handlers can let them propagate and every
 * endpoint answers the same failure the same way.
 */
import { formatDiagnostic, type Diagnostic } from '../../config/diagnostics.js';
import { plural } from '../../diff/canonical.js';
import { OverrideError } from '../../config/overrides.js';
import { RolloutError } from '../../rollout/errors.js';
import { ChangeHeldError, ConfigRejectedError } from '../../server/control.js';
import { ActiveRolloutExistsError, RevisionConflictError, StoreUnavailableError } from '../../store/errors.js';
import { HttpError, type Handler } from '../router.js';

const ROLLOUT_STATUS: Record<RolloutError['code'], number> = { 'bad-input': 400, 'not-found': 404, 'bad-state': 409 };

export function toHttpError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  if (err instanceof ConfigRejectedError) {
    return rejected('config rejected', err.diagnostics);
  }
  if (err instanceof ChangeHeldError) {
    return new HttpError(409, 'change held, nothing was changed: it removes much of what is served; repeat with confirmRemoval (banyan apply --confirm-removal) if that is intended', err.findings.map(formatDiagnostic));
  }
  if (err instanceof OverrideError) return new HttpError(/^unknown route/.test(err.message) ? 404 : 400, err.message);
  if (err instanceof RolloutError) return new HttpError(ROLLOUT_STATUS[err.code], err.message);
  if (err instanceof ActiveRolloutExistsError || err instanceof RevisionConflictError) return new HttpError(409, err.message);
  if (err instanceof StoreUnavailableError) {
    return new HttpError(503, `state store unavailable, nothing was changed: ${err.message}`, undefined, { 'retry-after': '5' });
  }
  return err;
}

/** 400 with one formatted `file:line:col: severity: message` per diagnostic, errors first. */
export function rejected(what: string, diagnostics: Diagnostic[]): HttpError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const ordered = [...errors, ...diagnostics.filter((d) => d.severity !== 'error')];
  return new HttpError(400, `${what}: ${plural(errors.length, 'error')}`, ordered.map(formatDiagnostic));
}

/** Wraps a handler so domain errors become HTTP errors. */
export function guard(handler: Handler): Handler {
  return async (ctx) => {
    try {
      return await handler(ctx);
    } catch (err) {
      throw toHttpError(err);
    }
  };
}
