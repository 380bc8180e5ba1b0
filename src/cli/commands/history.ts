import type { Command } from 'commander';
import { parseIntOption } from '../options.js';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured, table } from '../output.js';

interface VersionRow {
  version: number;
  author: string;
  message: string;
  createdAt: number;
  live: boolean;
  summary: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('history')
    .description('List applied config versions, newest first, with author, message and a short diff against the previous one')
    .option('-n, --limit <n>', 'how many versions', parseIntOption, 20);
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
The live version is marked with *. Make an old version live again with \`banyan rollback VERSION\`.

Examples:
  $ banyan history
  $ banyan history -n 5 -o json`,
    )
    .action(async (o) => {
      const reply = await clientFrom(o).get<{ versions: VersionRow[] }>(`/api/v1/history?limit=${Math.max(1, o.limit)}`);
      if (printStructured(reply, o.output)) return;
      const rows = reply.versions.map((v) => [
        `${v.live ? color.green('*') : ' '}${v.version}`,
        new Date(v.createdAt).toISOString().replace(/\.\d+Z$/, 'Z'),
        v.author,
        v.message || color.dim('-'),
        v.summary,
      ]);
      process.stdout.write(rows.length ? table([' VERSION', 'TIME', 'AUTHOR', 'MESSAGE', 'CHANGES'], rows) : 'no versions yet\n');
    });
}
