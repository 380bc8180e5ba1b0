import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../../src/cli/commands/index.js';

const OPS = ['proxies', 'routes', 'shift', 'history', 'diff', 'apply', 'rollback', 'status', 'rollout', 'audit'];

/** Every command that prints something a script may read: each takes `-o, --output json|yaml`. */
const PRINTS = [
  'proxies', 'routes', 'history', 'diff', 'status', 'audit', 'validate', 'xds', 'schema', 'bootstrap', 'certs inspect', 'authz revocations',
  'shift', 'apply', 'rollback', 'authz revoke',
  'rollout start', 'rollout status', 'rollout pause', 'rollout resume', 'rollout promote', 'rollout abort', 'rollout undo',
];

/** Commands checked only for the defaults that are plainly broken (an object or a list printed as JSON): none now. */
const NOT_YET_CLEAN = new Set<string>();

/** Every command and subcommand, with its full name. */
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

describe('CLI conventions', () => {
  const program = new Command('banyan');
  registerCommands(program);
  const all = walk(program);
  const commands = all.filter(([name]) => OPS.includes(name.split(' ')[0]));

  it('gives every ops command --help with examples', () => {
    expect(commands.map(([n]) => n)).toEqual(expect.arrayContaining(['shift', 'rollout start', 'rollout status', 'rollout undo']));
    for (const [name, cmd] of commands) expect(helpOf(cmd), name).toMatch(/Examples:\n\s+\$ banyan /);
  });

  it('offers --server/--token on every command that calls the API', () => {
    for (const [name, cmd] of commands) {
      if (name === 'rollout') continue;
      expect(cmd.options.map((o) => o.long), name).toEqual(expect.arrayContaining(['--server', '--token']));
    }
  });

  it('offers the same -o, --output json|yaml on every command that prints', () => {
    const byName = new Map(all);
    for (const name of PRINTS) {
      const cmd = byName.get(name);
      expect(cmd, name).toBeDefined();
      const output = cmd!.options.find((o) => o.long === '--output');
      expect(output?.short, name).toBe('-o');
      expect(output?.description, name).toMatch(/^print json or yaml/);
      // the same parser everywhere: json and yaml in, anything else refused naming them
      expect(output!.parseArg!('yaml', undefined), name).toBe('yaml');
      expect(() => output!.parseArg!('xml', undefined), name).toThrow(/Allowed: json, yaml/);
    }
    // and no other command has an --output that is not this one
    for (const [name, cmd] of all) {
      if (PRINTS.includes(name)) continue;
      expect(cmd.options.map((o) => o.long), name).not.toContain('--output');
    }
  });

  it('prints no default as JSON, an empty list, an empty string or false in any --help', () => {
    const offenders: string[] = [];
    for (const [name, cmd] of all) {
      // commander wraps long lines: join them back before looking
      const help = helpOf(cmd).replace(/\n\s+/g, ' ');
      const broken = /\(default: (\{|\[[^\]])|\[object Object\]/;
      const noise = /default: (false|""|\[\])\)/;
      if (broken.test(help) || (!NOT_YET_CLEAN.has(name.split(' ')[0]) && noise.test(help))) offenders.push(`${name}: ${(help.match(broken) ?? help.match(noise))![0]}`);
    }
    expect(offenders).toEqual([]);
  });
});
