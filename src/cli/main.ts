import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

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
  registerCommands(program);
  await program.parseAsync(argv);
}
