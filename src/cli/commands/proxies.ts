import type { Command } from 'commander';
import type { FleetProxy } from '../../admin/operations.js';
import type { ProxyTypeRecord } from '../../store/types.js';
import type { RefusalRecord } from '../../xds/status.js';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { ago, color, outputOption, printStructured, table } from '../output.js';

const SHORT: Record<string, string> = {
  'envoy.config.listener.v3.Listener': 'LDS',
  'envoy.config.route.v3.RouteConfiguration': 'RDS',
  'envoy.config.cluster.v3.Cluster': 'CDS',
  'envoy.config.endpoint.v3.ClusterLoadAssignment': 'EDS',
  'ratelimit.config.ratelimit.v3.RateLimitConfig': 'RLS',
};

/** The columns of the table, in istioctl proxy-status's order. */
const COLUMNS = ['CDS', 'LDS', 'EDS', 'RDS'] as const;

/** LDS/RDS/CDS/EDS for the usual types, the message name otherwise. */
function xdsTypeName(typeUrl: string): string {
  const name = typeUrl.slice(typeUrl.indexOf('/') + 1);
  return SHORT[name] ?? name.slice(name.lastIndexOf('.') + 1);
}

function paintState(state: ProxyTypeRecord['state'] | 'NOT SENT'): string {
  if (state === 'SYNCED') return color.green(state);
  if (state === 'NACKED') return color.red(state);
  if (state === 'STALE') return color.yellow(state);
  return color.dim(state);
}

const short = (v: string | undefined) => (v ? v.slice(0, 12) : '-');

function client(p: FleetProxy): string {
  if (!p.userAgent) return '-';
  const { name, version } = p.userAgent;
  return [name || '?', version].filter(Boolean).join('/');
}

/** One row per proxy; a type the proxy has not subscribed to is NOT SENT. */
export function proxyRows(proxies: FleetProxy[], now = Date.now()): string[][] {
  return sorted(proxies).map((p) => {
    const byName = new Map(p.types.map((t) => [xdsTypeName(t.typeUrl), t]));
    return [
      p.nodeId || '-',
      p.replica,
      p.group ?? '-',
      client(p),
      ...COLUMNS.map((c) => paintState(byName.get(c)?.state ?? 'NOT SENT')),
      `${ago(p.connectedSince, now)} ago`,
    ];
  });
}

/** Every rejected type, one line each: what the table cannot hold. */
export function nackLines(proxies: FleetProxy[], now = Date.now()): string[] {
  return sorted(proxies).flatMap((p) =>
    p.types
      .filter((t) => t.state === 'NACKED' && t.lastNack)
      .map((t) => `  ${p.nodeId} (${p.replica}) ${xdsTypeName(t.typeUrl)}: ${t.lastNack!.message} (version ${short(t.lastNack!.version)}, ${ago(t.lastNack!.at, now)} ago)`),
  );
}

/** A refusal as `GET /api/v1/proxies` lists it: the fleet's name their replica (`?scope=local` ones do not). */
export type ListedRefusal = RefusalRecord & { replica?: string };

/**
 * Every refused proxy, one line each, latest first: who claimed what with which identity, and which
 * replica refused it (after the node, as the NACKED lines name theirs).
 */
/** RateLimitConfig consumers that are not Banyan, and what they enforce otherwise than configured (the admin API's rateLimitFindings). */
export function rateLimitConsumerLines(proxies: (FleetProxy & { rateLimitFindings?: string[] })[]): string[] {
  return proxies.flatMap((p) => (p.rateLimitFindings ?? []).map((f) => `  ${p.nodeId || '-'}${p.replica ? ` (${p.replica})` : ''} ${p.userAgent?.name || 'no user agent'}: ${f}`));
}

export function refusedLines(refused: ListedRefusal[], now = Date.now()): string[] {
  return [...refused].reverse().map((r) => `  ${r.nodeId || '-'}${r.replica ? ` (${r.replica})` : ''} group ${r.group} (${r.when === 'regrouped' ? 'after a config change' : 'on connecting'}, ${ago(r.at, now)} ago): ${r.reason}`);
}

function sorted(proxies: FleetProxy[]): FleetProxy[] {
  const key = (p: FleetProxy) => [p.nodeId, p.replica, p.streamId];
  return [...proxies].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('proxies')
    .description('List every proxy of every replica and, per xDS type, whether it has what it should: SYNCED, STALE, NACKED or NOT SENT');
  outputOption(withServerOptions(cmd))
    .option('--local', 'only the proxies connected to the replica --server points at')
    .addHelpText(
      'after',
      `
One row per proxy stream, from every replica sharing the store (REPLICA says which one serves it).
SYNCED: the proxy ACKed what it should have. STALE: a response is in flight or not ACKed yet.
NACKED: it rejected the latest version (it keeps running the previous one); the error is printed
below the table. NOT SENT: the proxy has not subscribed to that type. REFUSED lists the proxies refused because
their client certificate's identity may not join their group, latest first, each with the replica
that refused it (every replica's latest 100; with --local, this replica's). RATE LIMITS AS THE
REFERENCE ENFORCES THEM lists RateLimitConfig consumers that are not Banyan (envoyproxy/ratelimit) and
what they enforce otherwise than the YAML says (domains with compat: reference are not listed).
-o json / -o yaml print the full records: versions sent and ACKed, nonces, subscriptions, last NACK.

Examples:
  $ banyan proxies
  $ banyan proxies --local
  $ banyan proxies -o yaml
  $ banyan proxies -o json | jq '.proxies[] | select(.types[].state == "NACKED") | {nodeId, replica}'`,
    )
    .action(async (o) => {
      const reply = await clientFrom(o).get<{ proxies: FleetProxy[]; refused?: ListedRefusal[]; partial?: boolean; warning?: string }>(o.local ? '/api/v1/proxies?scope=local' : '/api/v1/proxies');
      // the store is unreachable: the server could answer only for itself
      if (reply.warning) process.stderr.write(color.yellow(`warning: ${reply.warning}`) + '\n');
      if (printStructured(reply, o.output)) return;
      // --local (or a replica that could not read the store) lists its own refusals, which carry no replica id
      const refused = refusedLines((reply.refused ?? []).map((r) => ({ ...r, replica: r.replica ?? 'this replica' })));
      const refusedOut = refused.length ? `\n${color.red('REFUSED:')}\n${refused.join('\n')}\n` : '';
      if (reply.proxies.length === 0) return void process.stdout.write(`no proxies connected\n${refusedOut}`);
      // --local asks a replica for its own streams, which carry no replica id
      const proxies = reply.proxies.map((p) => ({ ...p, replica: p.replica ?? 'this replica' }));
      const now = Date.now();
      let out = table(['NODE', 'REPLICA', 'GROUP', 'CLIENT', ...COLUMNS, 'CONNECTED'], proxyRows(proxies, now));
      const nacks = nackLines(proxies, now);
      if (nacks.length) out += `\n${color.red('NACKED:')}\n${nacks.join('\n')}\n`;
      const weaker = rateLimitConsumerLines(proxies);
      if (weaker.length) out += `\n${color.yellow('RATE LIMITS AS THE REFERENCE ENFORCES THEM (not Banyan):')}\n${weaker.join('\n')}\n`;
      process.stdout.write(out + refusedOut);
    });
}
