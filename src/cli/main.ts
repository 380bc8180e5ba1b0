import { Command } from 'commander';

type CommandModule = () => Promise<{ register(program: Command): void }>;

/**
 * Each top-level command's module, by the name it registers (the order of commands/index.ts). When
 * the command line names one of them, only that module is loaded: `banyan ratelimit` then does not
 * pay for the modules of the other commands (the CA's X.509 stack, the route schema, the config
 * loader...). Anything else (no command, --help, `help`, an unknown or misspelt name) registers them
 * all, for the full help and commander's suggestions. test/cli/command-modules.test.ts checks that
 * this table matches what commands/index.ts registers.
 */
export const COMMAND_MODULES: ReadonlyMap<string, CommandModule> = new Map<string, CommandModule>([
  ['bootstrap', () => import('./commands/bootstrap.js')],
  ['proxies', () => import('./commands/proxies.js')],
  ['routes', () => import('./commands/routes.js')],
  ['shift', () => import('./commands/shift.js')],
  ['history', () => import('./commands/history.js')],
  ['audit', () => import('./commands/audit.js')],
  ['diff', () => import('./commands/diff.js')],
  ['apply', () => import('./commands/apply.js')],
  ['rollback', () => import('./commands/rollback.js')],
  ['status', () => import('./commands/status.js')],
  ['rollout', () => import('./commands/rollout.js')],
  ['serve', () => import('./commands/serve.js')],
  ['validate', () => import('./commands/validate.js')],
  ['schema', () => import('./commands/schema.js')],
  ['authz', () => import('./commands/authz.js')],
  ['ratelimit', () => import('./commands/ratelimit.js')],
  ['xds', () => import('./commands/xds.js')],
  ['certs', () => import('./commands/certs.js')],
]);

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('banyan')
    .description('Envoy control plane: xDS, rate limiting, JWT authz and traffic shifting for strangler-fig migrations')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander's own help/version exits are successes, not failures.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  // argv is node's: [node, script, ...user args]; the program has no options of its own besides
  // --version/--help, so a command, when there is one, is the first user argument.
  const only = COMMAND_MODULES.get(argv[2] ?? '');
  if (only) (await only()).register(program);
  else (await import('./commands/index.js')).registerCommands(program);
  await program.parseAsync(argv);
}
