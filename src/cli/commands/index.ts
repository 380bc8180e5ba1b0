import type { Command } from 'commander';

/**
 * Every subcommand lives in its own module under src/cli/commands/ and exports `register(program)`.
 * Add one import and one call here per module.
 */
export function registerCommands(program: Command): void {
  void program;
}
