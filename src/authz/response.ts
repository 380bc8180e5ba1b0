import type { AuthFailure } from './failure.js';

/**
 * CheckResponse objects in protobufjs form. A denial always carries an explicit non-OK status:
 * Envoy treats a missing status as code 0, i.e. allowed.
 */
export interface CheckResponseObject {
  status: { code: number; message?: string };
  ok_response?: {
    headers: { header: { key: string; value: string }; append: { value: boolean } }[];
    headers_to_remove: string[];
  };
  denied_response?: {
    status: { code: string };
    headers: { header: { key: string; value: string }; append: { value: boolean } }[];
    body: string;
  };
}

const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_INTERNAL = 13;
const RPC_UNAUTHENTICATED = 16;

const set = (key: string, value: string) => ({ header: { key, value }, append: { value: false } });

/**
 * Allowed: identity headers are set with append=false (replacing anything the client sent); the
 * ones this token does not fill are removed, so a client can never smuggle its own.
 */
export function allowed(headers: [string, string][], remove: string[]): CheckResponseObject {
  return { status: { code: RPC_OK }, ok_response: { headers: headers.map(([k, v]) => set(k, v)), headers_to_remove: remove } };
}

/** RFC 6750 §3: quoted-string values may not hold '"' or '\\'; keep descriptions to plain printable ASCII. */
function quoted(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
}

/** The WWW-Authenticate challenge. A request with no token gets no error attribute (RFC 6750 §3.1). */
export function challenge(failure: AuthFailure, realm: string, scopes: readonly string[]): string {
  const params = [`realm=${quoted(realm)}`];
  if (failure.kind === 'invalid') params.push('error="invalid_token"', `error_description=${quoted(failure.description)}`);
  if (failure.kind === 'forbidden') {
    params.push('error="insufficient_scope"', `error_description=${quoted(failure.description)}`);
    if (scopes.length) params.push(`scope=${quoted(scopes.join(' '))}`);
  }
  return `Bearer ${params.join(', ')}`;
}

const BODY_ERROR = { missing: 'missing_token', invalid: 'invalid_token', forbidden: 'insufficient_scope', internal: 'server_error' } as const;

export function denied(failure: AuthFailure, realm: string, scopes: readonly string[]): CheckResponseObject {
  const [rpc, http] =
    failure.kind === 'forbidden'
      ? [RPC_PERMISSION_DENIED, 'Forbidden']
      : failure.kind === 'internal'
        ? [RPC_INTERNAL, 'InternalServerError']
        : [RPC_UNAUTHENTICATED, 'Unauthorized'];
  const headers = [set('content-type', 'application/json')];
  if (failure.kind !== 'internal') headers.push(set('www-authenticate', challenge(failure, realm, scopes)));
  return {
    status: { code: rpc, message: failure.reason },
    denied_response: {
      status: { code: http },
      headers,
      body: JSON.stringify({ error: BODY_ERROR[failure.kind], reason: failure.description }),
    },
  };
}
