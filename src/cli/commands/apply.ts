import os from 'node:os';
import type { Command } from 'commander';
import { clientFrom, CliError, EXIT, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured } from '../output.js';
import { readConfigFiles, type SourceFile } from '../../config/source.js';

/** Who a change is recorded as: $USER@hostname unless --author says otherwise. */
export function defaultAuthor(): string {
  const user = process.env.USER || process.env.USERNAME || os.userInfo().username;
  return `${user}@${os.hostname()}`;
}

/** Adds --author to a command that changes state. */
export function withAuthor(cmd: Command): Command {
  return cmd.option('--author <name>', 'who the change is recorded as (default: $USER@hostname)');
}

/** The YAML file, or every *.yaml/*.yml in the directory, as the admin API takes them. */
export async function readCandidate(fileOrDir: string): Promise<SourceFile[]> {
  try {
    const files = await readConfigFiles(fileOrDir);
    if (files.length === 0) throw new CliError(`${fileOrDir}: no .yaml or .yml files in this directory`, EXIT.usage);
    return files;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${fileOrDir}: ${(err as Error).message}`, EXIT.usage);
  }
}

interface ApplyReply {
  version: { version: number; hash: string; author: string; message: string; createdAt: number };
  unchanged: boolean;
  warnings: string[];
  summary: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('apply')
    .description('Validate a config file or directory and make it live as a new version (recorded in history)')
    .argument('<file-or-dir>', 'YAML file, or a directory of *.yaml files')
    .option('-m, --message <text>', 'why: shown in `banyan history`')
    .option('--confirm-removal', 'apply even though the change removes most listeners, routes or clusters (otherwise held)');
  outputOption(withAuthor(withServerOptions(cmd)))
    .addHelpText(
      'after',
      `
An invalid config is rejected whole, with file:line:col for every error; nothing changes. A change
that removes more than half of the listeners, routes or clusters is held (exit 4) until repeated
with --confirm-removal.

Examples:
  $ banyan apply routes/ -m "checkout: add v2 cluster"
  $ banyan diff routes/ && banyan apply routes/
  $ BANYAN_TOKEN=... banyan apply banyan.yaml --server http://cp.internal:18001`,
    )
    .action(async (fileOrDir: string, o) => {
      const files = await readCandidate(fileOrDir);
      const reply = await clientFrom(o).post<ApplyReply>('/api/v1/config/apply', {
        files,
        author: o.author ?? defaultAuthor(),
        message: o.message ?? '',
        confirmRemoval: o.confirmRemoval === true,
      });
      if (printStructured(reply, o.output)) return;
      for (const w of reply.warnings) process.stderr.write(`${color.yellow('warning')}: ${w}\n`);
      process.stdout.write(
        reply.unchanged
          ? `unchanged: version ${reply.version.version} already has this content\n`
          : `applied version ${reply.version.version}: ${reply.summary}\n`,
      );
    });
}
