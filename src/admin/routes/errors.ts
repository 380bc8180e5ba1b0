/**
 * Maps Banyan's domain errors to HTTP, so handlers let them propagate and every endpoint answers
 * the same failure the same way. The status is decided by the error's code alone (HTTP_STATUS);
 * a few codes also carry what the operator needs to read (diagnostics, a retry hint).
 */
import { ChangeHeldError, ConfigRejectedError } from '../../admission/errors.js';
import { formatDiagnostic, type Diagnostic } from '../../config/diagnostics.js';
import { plural } from '../../diff/canonical.js';
import { BanyanError, type BanyanCode } from '../../errors.js';
import { OverloadedError } from '../operations.js';
import { HttpError, type Handler } from '../router.js';

export const HTTP_STATUS: Record<BanyanCode, number> = {
  'unknown-route': 404,
  'ambiguous-route': 400,
  'not-forward': 400,
  'unknown-backend': 400,
  'bad-weights': 400,
  'bad-input': 400,
  'busy-route': 409,
  'file-owned': 409,
  'bad-state': 409,
  conflict: 409,
  'not-found': 404,
  'rejected-config': 400,
  'held-change': 409,
  'no-config': 503,
  'store-unavailable': 503,
  'store-locked': 500,
  'store-corrupt': 500,
};

export function toHttpError(err: unknown): unknown {
  if (err instanceof OverloadedError) return new HttpError(503, err.message, undefined, { 'retry-after': String(err.retryAfterSeconds) });
  if (!(err instanceof BanyanError)) return err;
  const code: BanyanCode = err.code;
  const status = HTTP_STATUS[code];
  if (err instanceof ConfigRejectedError) return rejected('config rejected', err.diagnostics);
  if (err instanceof ChangeHeldError) {
    return new HttpError(status, 'change held, nothing was changed: it removes much of what is served; repeat with confirmRemoval (banyan apply --confirm-removal) if that is intended', err.findings.map(formatDiagnostic));
  }
  if (code === 'store-unavailable') {
    return new HttpError(status, `state store unavailable, nothing was changed: ${err.message}`, undefined, { 'retry-after': '5' });
  }
  return new HttpError(status, err.message);
}

/** 400 with one formatted `file:line:col: severity: message` per diagnostic, errors first. */
export function rejected(what: string, diagnostics: Diagnostic[]): HttpError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const ordered = [...errors, ...diagnostics.filter((d) => d.severity !== 'error')];
  return new HttpError(HTTP_STATUS['rejected-config'], `${what}: ${plural(errors.length, 'error')}`, ordered.map(formatDiagnostic));
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
