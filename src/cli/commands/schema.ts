import type { Command } from 'commander';
import { exportJsonSchema } from '../../config/schema.js';
import { outputOption, printStructured } from '../output.js';

export function register(program: Command): void {
  const cmd = program
    .command('schema')
    .description('Print the JSON Schema of the route YAML (for editor completion, e.g. yaml-language-server)');
  outputOption(cmd, { defaultFormat: 'json' })
    .addHelpText('after', '\nExamples:\n  $ banyan schema > banyan.schema.json\n  $ banyan schema -o yaml')
    .action((o: { output: 'json' | 'yaml' }) => {
      printStructured(exportJsonSchema(), o.output);
    });
}
