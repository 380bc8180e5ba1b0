/** Secrets belong in the environment or files: `serve` says so when they are given on the command line. */
import { describe, expect, it } from 'vitest';
import { banyan } from './run.js';

describe('banyan serve: secrets in argv', () => {
  // --config-owner bogus stops serve as a usage error right after its flags are read: nothing is started or connected to.
  it('warns that --admin-token and a --postgres URL with a password are visible in argv, naming the env var or file flag', async () => {
    const r = await banyan(['serve', '--admin-token', 'hunter2-hunter2-hunter2', '--postgres', 'postgres://banyan:s3cret@127.0.0.1:1/banyan', '--config-owner', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('warning: --admin-token is visible in argv (ps, /proc) to every local user; use BANYAN_ADMIN_TOKEN, --admin-token-file or --admin-tokens-file');
    expect(r.stderr).toContain('warning: the --postgres URL carries a password visible in argv (ps, /proc) to every local user; use BANYAN_POSTGRES_URL');
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('says nothing for a --postgres URL without a password, or secrets from the environment', async () => {
    const r = await banyan(['serve', '--postgres', 'postgres://banyan@127.0.0.1:1/banyan', '--config-owner', 'bogus'], { BANYAN_ADMIN_TOKEN: 'from-env-0123456789' });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('warning:');
    expect(r.stderr).toContain('--config-owner must be files or store');
  });
});
