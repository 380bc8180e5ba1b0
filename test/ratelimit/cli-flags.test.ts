/** `banyan ratelimit` exposes the reference's settings this service implements as flags (off by default). */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/ratelimit.js';

describe('banyan ratelimit flags for the reference settings', () => {
  it('--merge-domains, --stop-increment-when-over-limit, --response-dynamic-metadata, --quota-mode, all off by default', () => {
    const program = new Command();
    register(program);
    const cmd = program.commands.find((c) => c.name() === 'ratelimit')!;
    const flags = ['--merge-domains', '--stop-increment-when-over-limit', '--response-dynamic-metadata', '--quota-mode'];
    for (const flag of flags) expect(cmd.options.find((o) => o.long === flag)?.defaultValue, flag).toBe(false);
    expect(cmd.helpInformation()).toMatch(/MERGE_DOMAIN_CONFIG[\s\S]*STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT[\s\S]*RESPONSE_DYNAMIC_METADATA[\s\S]*QUOTA_MODE/);
  });
});
