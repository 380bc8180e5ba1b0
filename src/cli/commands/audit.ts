import type { Command } from 'commander';
import { parseIntOption } from '../options.js';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured, table } from '../output.js';
import type { AuditEntry } from '../../store/types.js';


export function register(program: Command): void {
  const cmd = program
    .command('audit')
    .description('List the audit log, newest first: every config apply, rollback, shift and rollout transition')
    .option('-n, --limit <n>', 'how many entries', parseIntOption, 50)
    .option('--since <time>', 'only entries at or after this ISO time');
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan audit
  $ banyan audit --since 2026-11-24T09:00:00Z -o json`,
    )
    .action(async (o) => {
      const query = new URLSearchParams({ limit: String(Math.max(1, o.limit)) });
      if (o.since) query.set('since', o.since);
      const reply = await clientFrom(o).get<{ entries: AuditEntry[] }>(`/api/v1/audit?${query}`);
      if (printStructured(reply, o.output)) return;
      const rows = reply.entries.map((e) => [
        new Date(e.at).toISOString().replace(/\.\d+Z$/, 'Z'),
        e.actor,
        e.action,
        e.target || color.dim('-'),
        Object.keys(e.details).length ? JSON.stringify(e.details) : color.dim('-'),
      ]);
      process.stdout.write(rows.length ? table(['TIME', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'], rows) : 'no audit entries\n');
    });
}
