import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './router.js';

/** Reads the admin token from a file (trailing newline ignored) or returns the literal value. */
export function resolveAdminToken(opts: { token?: string; tokenFile?: string }): string | undefined {
  if (opts.tokenFile) return fs.readFileSync(opts.tokenFile, 'utf8').trim();
  return opts.token?.trim() || undefined;
}

/**
 * Every change needs `Authorization: Bearer <token>`. With no token configured, changes are refused
 * outright rather than allowed: an unauthenticated admin API must never be the accidental default.
 */
export function bearerAuthorizer(token: string | undefined): (req: IncomingMessage) => void {
  const expected = token ? Buffer.from(token) : undefined;
  return (req) => {
    const header = req.headers.authorization ?? '';
    const challenge = { 'www-authenticate': 'Bearer realm="banyan-admin"' };
    if (!expected) throw new HttpError(401, 'changes are disabled: start the server with --admin-token or --admin-token-file (or BANYAN_ADMIN_TOKEN)', undefined, challenge);
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new HttpError(401, 'missing bearer token: pass --token or set BANYAN_TOKEN', undefined, challenge);
    const given = Buffer.from(m[1].trim());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'invalid token', undefined, challenge);
    }
  };
}
