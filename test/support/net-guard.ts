/**
 * Preloaded with `node --import` into a process under test: records every attempt to reach a host that
 * is not loopback (TCP/TLS connects, DNS lookups, UDP sends) as a `BANYAN-NET-ATTEMPT {json}` line on
 * stderr, so a test can prove a command works offline. Attempts proceed; this machine has no route out.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.|localhost$)/i;

function report(kind: string, target: unknown): void {
  const host = typeof target === 'string' ? target : '';
  if (host && LOOPBACK.test(host)) return;
  process.stderr.write(`BANYAN-NET-ATTEMPT ${JSON.stringify({ kind, target: String(target) })}\n`);
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    const o = first as { host?: string; path?: string; port?: number };
    if (!o.path) report('tcp', o.host ?? 'localhost');
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    report('tcp', typeof args[1] === 'string' ? args[1] : 'localhost');
  }
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;

const lookup = dns.lookup;
(dns as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  report('dns', hostname);
  return (lookup as (...a: unknown[]) => unknown)(hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
(dns.promises as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  report('dns', hostname);
  return (promisesLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
};

const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
  const address = args.find((a, i) => i > 0 && typeof a === 'string');
  report('udp', address ?? 'unknown');
  return (send as (...a: unknown[]) => void).apply(this, args);
} as typeof send;
