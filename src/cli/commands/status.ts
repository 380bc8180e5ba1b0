import type { Command } from 'commander';
import type { ProxyStatus } from '../../xds/status.js';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured } from '../output.js';

interface StatusReply {
  config: { hash: string; files: string[]; appliedAt: string; warnings: string[] } | null;
  lastRejected: { at: string; errors: string[] } | null;
  lastHeld: { at: string; reasons: string[] } | null;
  groups: string[];
}
interface RoutesReply {
  routes: { ref: string; percent: Record<string, number>; override: { author: string; reason: string } | null; rollout: { id: string; state: string } | null }[];
}

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('What the control plane serves: config, rejected edits, runtime overrides, rollouts and proxy sync');
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan status
  $ banyan status -o json | jq .lastRejected`,
    )
    .action(async (o) => {
      const client = clientFrom(o);
      const [status, routes, proxies] = await Promise.all([
        client.get<StatusReply>('/api/v1/status'),
        client.get<RoutesReply>('/api/v1/routes'),
        client.get<{ proxies: ProxyStatus[] }>('/api/v1/proxies'),
      ]);
      const overrides = routes.routes.filter((r) => r.override);
      const rollouts = routes.routes.filter((r) => r.rollout);
      const states = { SYNCED: 0, STALE: 0, NACKED: 0 };
      for (const p of proxies.proxies) {
        const worst = p.types.some((t) => t.state === 'NACKED') ? 'NACKED' : p.types.some((t) => t.state === 'STALE') ? 'STALE' : 'SYNCED';
        states[worst]++;
      }
      if (printStructured({ ...status, overrides, rollouts, proxies: { total: proxies.proxies.length, ...states } }, o.output)) return;

      const out: string[] = [];
      const c = status.config;
      out.push(c ? `config:    ${c.hash.slice(0, 12)} from ${c.files.join(', ')}, applied ${c.appliedAt}` : color.red('config:    none applied'));
      out.push(`groups:    ${status.groups.join(', ') || '-'}`);
      for (const w of c?.warnings ?? []) out.push(color.yellow(w));
      if (status.lastRejected) {
        out.push(color.red(`last edit rejected at ${status.lastRejected.at}; still serving the config above:`));
        out.push(...status.lastRejected.errors.map((e) => `  ${e}`));
      }
      if (status.lastHeld) {
        out.push(color.yellow(`last edit held at ${status.lastHeld.at} (apply it with \`banyan apply --confirm-removal\`); still serving the config above:`));
        out.push(...status.lastHeld.reasons.map((e) => `  ${e}`));
      }
      out.push(overrides.length ? 'overrides:' : 'overrides: none');
      for (const r of overrides) {
        const shares = Object.entries(r.percent).map(([k, v]) => `${k}=${v}%`).join(' ');
        out.push(`  ${r.ref}: ${shares} (by ${r.override!.author}${r.override!.reason ? `: ${r.override!.reason}` : ''})`);
      }
      out.push(`rollouts:  ${rollouts.length ? rollouts.map((r) => `${r.rollout!.id} on ${r.ref} (${r.rollout!.state})`).join(', ') : 'none active'}`);
      out.push(
        `proxies:   ${proxies.proxies.length} connected: ${color.green(`${states.SYNCED} synced`)}, ${color.yellow(`${states.STALE} stale`)}, ${color.red(`${states.NACKED} nacked`)}`,
      );
      process.stdout.write(out.join('\n') + '\n');
    });
}
