/**
 * Why a check was denied. `kind` picks the HTTP answer (RFC 6750 §3): `missing` → 401 without an
 * error attribute, `invalid` → 401 invalid_token, `forbidden` → 403 insufficient_scope, `internal`
 * → 500. `reason` is a short stable label used in metrics; `description` is shown to the client.
 */
export type FailureKind = 'missing' | 'invalid' | 'forbidden' | 'internal';

export class AuthFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly reason: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'AuthFailure';
  }
}

export const invalid = (reason: string, description: string): AuthFailure => new AuthFailure('invalid', reason, description);
export const forbidden = (reason: string, description: string): AuthFailure => new AuthFailure('forbidden', reason, description);
