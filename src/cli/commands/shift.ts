import type { Command } from 'commander';
import { parseWeights } from '../../config/weights.js';
import { clientFrom, CliError, EXIT, orExit, withServerOptions } from '../admin-client.js';
import { outputOption, printStructured } from '../output.js';
import { defaultAuthor, withAuthor } from './apply.js';

interface ShiftReply {
  override: { route: string; backends: { cluster: string; weight: number }[] };
  percent: Record<string, number>;
}

export function register(program: Command): void {
  const cmd = program
    .command('shift')
    .description("Set a route's backend weights at runtime (an override on top of the YAML; survives restarts)")
    .argument('<route>', 'route name, or listener/route, or listener/host/route when the name is ambiguous')
    .argument('[weights...]', 'BACKEND=WEIGHT pairs; percentages that sum to 100 unless --relative')
    .option('--relative', 'weights are proportions (e.g. a=3 b=1), not percentages')
    .option('--clear', "remove the override: the route goes back to its YAML weights")
    .option('--reason <text>', 'why: recorded in the audit log');
  outputOption(withAuthor(withServerOptions(cmd)))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan shift checkout monolith=90 checkout-v2=10
  $ banyan shift edge/checkout checkout-v2=100 --reason "v2 is healthy"
  $ banyan shift search monolith=3 search-v2=1 --relative
  $ banyan shift checkout --clear`,
    )
    .action(async (route: string, args: string[], o) => {
      const client = clientFrom(o);
      const path = `/api/v1/routes/${encodeURIComponent(route)}/weights`;
      const meta = { author: o.author ?? defaultAuthor(), reason: o.reason ?? '' };
      if (o.clear) {
        if (args.length > 0) throw new CliError('--clear takes no BACKEND=WEIGHT arguments', EXIT.usage);
        const reply = await client.request<{ route: string; cleared: boolean }>('DELETE', path, meta);
        if (printStructured(reply, o.output)) return;
        process.stdout.write(reply.cleared ? `${reply.route}: override cleared; YAML weights apply\n` : `${reply.route}: had no override\n`);
        return;
      }
      if (args.length === 0) throw new CliError('give BACKEND=WEIGHT pairs (or --clear)', EXIT.usage);
      // Checked here too, so bad weights exit as a usage error before anything is sent.
      const backends = orExit(() => parseWeights(args, { relative: Boolean(o.relative) }));
      const reply = await client.put<ShiftReply>(path, { backends, relative: Boolean(o.relative), ...meta });
      if (printStructured(reply, o.output)) return;
      const shares = Object.entries(reply.percent).map(([c, p]) => `${c}=${p}%`).join(' ');
      process.stdout.write(`${reply.override.route}: ${shares}\n`);
    });
}
