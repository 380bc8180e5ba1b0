import type { Command } from 'commander';
import { clientFrom, withServerOptions } from '../admin-client.js';
import { outputOption, printStructured } from '../output.js';
import { parseIntOption } from '../options.js';
import { defaultAuthor, withAuthor } from './apply.js';

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('Make an old config version live again, as a new version (history is never rewritten)')
    .argument('<version>', 'version number from `banyan history`', parseIntOption)
    .option('-m, --message <text>', 'why (default: "rollback to version N")');
  outputOption(withAuthor(withServerOptions(cmd)))
    .addHelpText(
      'after',
      `
Runtime overrides (banyan shift) stay in place unless the restored YAML changes that route's backends.

Examples:
  $ banyan rollback 7
  $ banyan rollback 7 -m "v8 broke checkout"`,
    )
    .action(async (version: number, o) => {
      const reply = await clientFrom(o).post<{ version: { version: number }; rolledBackTo: number }>('/api/v1/rollback', {
        version,
        author: o.author ?? defaultAuthor(),
        message: o.message ?? '',
      });
      if (printStructured(reply, o.output)) return;
      process.stdout.write(`rolled back to version ${reply.rolledBackTo}: now live as version ${reply.version.version}\n`);
    });
}
