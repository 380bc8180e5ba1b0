import type { Command } from 'commander';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured, table } from '../output.js';

interface Weight {
  cluster: string;
  weight: number;
}
interface RouteRow {
  ref: string;
  listener: string;
  backends: Weight[];
  yamlBackends: Weight[];
  percent: Record<string, number>;
  override: { author: string; reason: string; updatedAt: number } | null;
  rollout: { id: string; state: string; toBackend: string; percent: number } | null;
}

export function register(program: Command): void {
  const cmd = program.command('routes').description('List routes with their effective weights, YAML weights, overrides and rollouts');
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
WEIGHTS is what proxies are sent now; YAML is what the files say. SOURCE is "override" when a
runtime override (banyan shift, a rollout) replaces the YAML weights.

Examples:
  $ banyan routes
  $ banyan routes -o json | jq '.routes[] | select(.override)'`,
    )
    .action(async (o) => {
      const reply = await clientFrom(o).get<{ routes: RouteRow[] }>('/api/v1/routes');
      if (printStructured(reply, o.output)) return;
      const weights = (ws: Weight[]) => ws.map((w) => `${w.cluster}=${w.weight}`).join(' ');
      const rows = reply.routes.map((r) => [
        r.ref,
        Object.entries(r.percent).map(([c, p]) => `${c}=${p}%`).join(' '),
        r.override ? color.yellow('override') : 'yaml',
        weights(r.yamlBackends),
        // The short id is enough to recognise it; rollout commands take the route anyway.
        r.rollout ? `${r.rollout.id.slice(0, 8)} ${r.rollout.state} → ${r.rollout.toBackend} ${r.rollout.percent}%` : '-',
      ]);
      process.stdout.write(table(['ROUTE', 'WEIGHTS', 'SOURCE', 'YAML', 'ROLLOUT'], rows));
    });
}
