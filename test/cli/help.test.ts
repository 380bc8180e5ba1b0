import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../../src/cli/commands/index.js';

const OPS = ['proxies', 'routes', 'shift', 'history', 'diff', 'apply', 'rollback', 'status', 'rollout', 'audit'];
const READS = ['proxies', 'routes', 'history', 'diff', 'status', 'rollout status', 'audit'];

/** Every command and subcommand under the ops commands, with its full name. */
function walk(cmd: Command, prefix = ''): [string, Command][] {
  return cmd.commands.flatMap((c) => {
    const name = `${prefix}${c.name()}`;
    return [[name, c] as [string, Command], ...walk(c, `${name} `)];
  });
}

function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

describe('ops CLI conventions', () => {
  const program = new Command('banyan');
  registerCommands(program);
  const commands = walk(program).filter(([name]) => OPS.includes(name.split(' ')[0]));

  it('gives every ops command --help with examples', () => {
    expect(commands.map(([n]) => n)).toEqual(expect.arrayContaining(['shift', 'rollout start', 'rollout status', 'rollout undo']));
    for (const [name, cmd] of commands) expect(helpOf(cmd), name).toMatch(/Examples:\n\s+\$ banyan /);
  });

  it('offers -o/--output json on every read command and --server/--token on every command that calls the API', () => {
    for (const [name, cmd] of commands) {
      if (name === 'rollout') continue;
      const flags = cmd.options.map((o) => o.long);
      expect(flags, name).toEqual(expect.arrayContaining(['--server', '--token']));
      if (READS.includes(name)) expect(flags, name).toContain('--output');
    }
  });
});
