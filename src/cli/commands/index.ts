import type { Command } from 'commander';
import { register as bootstrap } from './bootstrap.js';
import { register as authz } from './authz.js';
import { register as ratelimit } from './ratelimit.js';

/**
 * Every subcommand lives in its own module under src/cli/commands/ and exports `register(program)`.
 * Add one import and one call here per module.
 */
export function registerCommands(program: Command): void {
  bootstrap(program);
  authz(program);
  ratelimit(program);
}
