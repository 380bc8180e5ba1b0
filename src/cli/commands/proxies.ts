import type { Command } from 'commander';
import type { ProxyStatus, SyncState } from '../../xds/status.js';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { ago, color, outputOption, printJson, table } from '../output.js';

const SHORT: Record<string, string> = {
  'envoy.config.listener.v3.Listener': 'LDS',
  'envoy.config.route.v3.RouteConfiguration': 'RDS',
  'envoy.config.cluster.v3.Cluster': 'CDS',
  'envoy.config.endpoint.v3.ClusterLoadAssignment': 'EDS',
  'ratelimit.config.ratelimit.v3.RateLimitConfig': 'RLS',
};

/** LDS/RDS/CDS/EDS for the usual types, the message name otherwise. */
function xdsTypeName(typeUrl: string): string {
  const name = typeUrl.slice(typeUrl.indexOf('/') + 1);
  return SHORT[name] ?? name.slice(name.lastIndexOf('.') + 1);
}

function paintState(state: SyncState): string {
  return state === 'SYNCED' ? color.green(state) : state === 'NACKED' ? color.red(state) : color.yellow(state);
}

const short = (v: string | undefined) => (v ? v.slice(0, 12) : '-');

export function register(program: Command): void {
  const cmd = program
    .command('proxies')
    .description('List connected proxies and, per xDS type, the version sent and ACKed: SYNCED, STALE or NACKED');
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
SYNCED: the proxy ACKed what it should have. STALE: a response is in flight or not ACKed yet.
NACKED: it rejected the latest version (it keeps running the previous one); see LAST NACK.

Examples:
  $ banyan proxies
  $ banyan proxies -o json | jq '.proxies[] | select(.types[].state == "NACKED")'`,
    )
    .action(async (o) => {
      const reply = await clientFrom(o).get<{ proxies: ProxyStatus[] }>('/api/v1/proxies');
      if (o.output === 'json') return printJson(reply);
      const rows = reply.proxies.flatMap((p) =>
        (p.types.length ? p.types : [undefined]).map((t, i) => [
          i === 0 ? p.nodeId : '',
          i === 0 ? (p.group ?? '-') : '',
          t ? xdsTypeName(t.typeUrl) : '-',
          short(t?.versionSent),
          short(t?.versionAcked),
          t ? paintState(t.state) : '-',
          t?.lastNack ? `${t.lastNack.message} (v ${short(t.lastNack.version)}, ${ago(t.lastNack.at)} ago)` : '',
          i === 0 ? `${p.connectedSince} (${ago(p.connectedSince)})` : '',
        ]),
      );
      if (rows.length === 0) return void process.stdout.write('no proxies connected\n');
      process.stdout.write(table(['NODE', 'GROUP', 'TYPE', 'SENT', 'ACKED', 'STATE', 'LAST NACK', 'CONNECTED SINCE'], rows));
    });
}
