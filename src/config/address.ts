import { isIP } from 'node:net';

/** RFC 1123 host names (what strict_dns clusters can resolve). */
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

/** Why `host` is not usable as an endpoint address, or undefined when it is. */
export function hostProblem(host: string): string | undefined {
  if (isIpLiteral(host) || HOSTNAME.test(host)) return undefined;
  return `"${host}" is neither an IP address nor a valid DNS name`;
}

export function portProblem(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : `port ${port} is out of range 1-65535`;
}

/**
 * Splits `host:port` (IPv6 as `[::1]:8080`). Returns the parts or the reason the text is not an
 * address, so callers can report it where it was written.
 */
export function parseHostPort(text: string): { host: string; port: number } | { error: string } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) return { error: `"${text}" is not host:port (IPv6 as [addr]:port)` };
  const host = m[1];
  const port = Number(m[2]);
  const problem = hostProblem(host) ?? portProblem(port);
  if (problem) return { error: `${problem} in "${text}"` };
  if (text.startsWith('[') && isIP(host) !== 6) return { error: `"${host}" in brackets is not an IPv6 address` };
  return { host, port };
}
