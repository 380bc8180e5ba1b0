import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../../src/cli/commands/index.js';
import { COMMAND_MODULES } from '../../src/cli/main.js';

describe("main's table of command modules (one loaded per command line)", () => {
  it('names exactly the commands registerCommands registers, in its order', () => {
    const all = new Command('banyan');
    registerCommands(all);
    expect([...COMMAND_MODULES.keys()]).toEqual(all.commands.map((c) => c.name()));
  });

  it('each module registers only the command it is listed under, the same as registerCommands does', async () => {
    const all = new Command('banyan');
    registerCommands(all);
    const byName = new Map(all.commands.map((c) => [c.name(), c]));
    for (const [name, load] of COMMAND_MODULES) {
      const one = new Command('banyan');
      (await load()).register(one);
      expect(one.commands.map((c) => c.name()), name).toEqual([name]);
      const help = (c: Command) => {
        let out = '';
        c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
        c.outputHelp();
        for (const sub of c.commands) out += help(sub);
        return out;
      };
      expect(help(one.commands[0]), name).toBe(help(byName.get(name)!));
    }
  });
});
