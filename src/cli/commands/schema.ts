import type { Command } from 'commander';
import { exportJsonSchema } from '../../config/schema.js';

export function register(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of the route YAML (for editor completion, e.g. yaml-language-server)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(exportJsonSchema(), null, 2)}\n`);
    });
}
