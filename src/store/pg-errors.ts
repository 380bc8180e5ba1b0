import { StoreUnavailableError } from './errors.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception) and 57P01-03 (server shutting down / starting up)
const SQLSTATE = /^(08...|57P0[123])$/;
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|not queryable|Client was closed/i;

/** Whether `err` means "the database is unreachable" rather than "the request was wrong". */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  return MESSAGES.test(err.message);
}

export function unavailable(err: unknown, what: string): StoreUnavailableError {
  return new StoreUnavailableError(`PostgreSQL is unavailable (${(err as Error).message || (err as { code?: string }).code}); ${what}`, { cause: err });
}
