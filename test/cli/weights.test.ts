import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/admin-client.js';
import { eventually } from '../support/eventually.js';
import { RdsWatcher } from './ads.js';
import { routesYaml } from './config.yaml.js';
import { banyan } from './run.js';
import { startCliFixture, type CliFixture, type OpsServer } from './server.js';

const TOKEN = 'cli-test-token';

describe('banyan CLI: shift, routes, proxies, apply, diff, history, rollback', () => {
  let dir: string;
  let server: OpsServer;
  let proxy: RdsWatcher;
  let env: Record<string, string>;
  const cli = (...args: string[]) => banyan(args, env);
  const json = async (...args: string[]) => {
    const r = await cli(...args, '-o', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  };

  let fixture: CliFixture;

  beforeAll(async () => {
    fixture = await startCliFixture(TOKEN);
    ({ dir, server, proxy } = fixture);
    env = { BANYAN_SERVER: server.adminUrl, BANYAN_TOKEN: TOKEN, USER: 'ci' };
  });
  afterAll(() => fixture?.stop());

  it('takes --server as host:port too', async () => {
    const hostPort = new URL(server.adminUrl).host;
    const r = await banyan(['routes', '-o', 'json', '--server', hostPort], { USER: 'ci', BANYAN_TOKEN: TOKEN });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).routes.map((x: { ref: string }) => x.ref)).toContain('checkout');
  });

  it('refuses a relative shift whose weight would wrap on the wire (uint32), and the proxy keeps its weights', async () => {
    const before = await proxy.weights('checkout');
    const r = await cli('shift', 'checkout', 'checkout-v2=4294967296', 'monolith=1', '--relative');
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain("weight for 'checkout-v2' is 4294967296, above 4294967295 (weights are uint32 on the wire)");
    expect(r.stdout).toBe('');
    expect((await json('routes')).routes.find((x: { ref: string }) => x.ref === 'checkout').override).toBeNull();
    expect(await proxy.weights('checkout')).toEqual(before);
  });

  it('shifts weights; a connected client receives them; routes and proxies show it; --clear restores the YAML', async () => {
    const shift = await cli('shift', 'checkout', 'monolith=40', 'checkout-v2=60', '--reason', 'v2 healthy');
    expect(shift).toMatchObject({ code: 0, stdout: 'checkout: monolith=40% checkout-v2=60%\n' });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([40, 60]));

    const [routes, table, proxies, status] = await Promise.all([json('routes'), cli('routes'), cli('proxies'), cli('status')]);
    expect(status.stdout).toMatch(/^overrides:\n {2}checkout: monolith=40% checkout-v2=60% \(by admin \(as ci@\S+\): v2 healthy\)$/m);
    expect(status.stdout).toMatch(/^proxies:\s+1 connected: 1 synced, 0 stale, 0 nacked$/m);
    const checkout = routes.routes.find((r: { ref: string }) => r.ref === 'checkout');
    expect(checkout.percent).toEqual({ monolith: 40, 'checkout-v2': 60 });
    expect(checkout.override).toMatchObject({ reason: 'v2 healthy' });
    // the audit actor is the token's name (serve's single token is `admin`), the client's --author beside it
    expect(checkout.override.author).toMatch(/^admin \(as ci@\S+\)$/);
    expect(table.stdout).toMatch(/^checkout\s+monolith=40% checkout-v2=60%\s+override\s+monolith=90 checkout-v2=10/m);
    expect(proxies.code).toBe(0);
    expect(proxies.stdout).toMatch(/^edge-proxy-1\s+\S+\s+default\s+-\s+NOT SENT\s+NOT SENT\s+NOT SENT\s+SYNCED\s/m);

    const relative = await cli('shift', 'checkout', 'monolith=1', 'checkout-v2=3', '--relative');
    expect(relative.stdout).toBe('checkout: monolith=25% checkout-v2=75%\n');
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([1, 3]));

    const clear = await cli('shift', 'checkout', '--clear');
    expect(clear).toMatchObject({ code: 0, stdout: 'checkout: override cleared; YAML weights apply\n' });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([90, 10]));
  });

  it('rejects bad input with a clear message and a non-zero exit, leaving state unchanged', async () => {
    const auditBefore = await fetch(`${server.adminUrl}/api/v1/audit`).then((r) => r.json());
    const [unknownRoute, unknownBackend, notHundred, noToken, wrongToken] = await Promise.all([
      cli('shift', 'chekout', 'monolith=50', 'checkout-v2=50'),
      cli('shift', 'checkout', 'monolith=50', 'checkout-v3=50'),
      cli('shift', 'checkout', 'monolith=50', 'checkout-v2=40'),
      banyan(['shift', 'checkout', 'monolith=50', 'checkout-v2=50'], { ...env, BANYAN_TOKEN: '' }),
      cli('shift', 'checkout', 'monolith=50', 'checkout-v2=50', '--token', 'nope'),
    ]);
    expect(unknownRoute).toMatchObject({ code: EXIT.rejected, stderr: "banyan: unknown route 'chekout'; did you mean 'checkout'?\n" });
    expect(unknownBackend.code).toBe(EXIT.rejected);
    expect(unknownBackend.stderr).toMatch(/unknown backend 'checkout-v3': no cluster of that name; did you mean 'checkout-v2'\?/);
    expect(notHundred.code).toBe(EXIT.usage);
    expect(notHundred.stderr).toMatch(/percentages sum to 90, not 100; .*--relative/);
    expect(noToken).toMatchObject({ code: EXIT.unauthorized });
    expect(noToken.stderr).toMatch(/missing bearer token: pass --token or set BANYAN_TOKEN/);
    expect(wrongToken).toMatchObject({ code: EXIT.unauthorized, stderr: 'banyan: invalid token\n' });

    const auditAfter = await fetch(`${server.adminUrl}/api/v1/audit`).then((r) => r.json());
    expect(auditAfter).toEqual(auditBefore);
    expect(await proxy.weights('checkout')).toEqual([90, 10]);
  });

  it('diffs a candidate, applies it, refuses an invalid one with file:line:col, lists history, and rolls back', async () => {
    const candidate = path.join(dir, 'candidate.yaml');
    await writeFile(candidate, routesYaml({ checkout: [50, 50], searchV2: true }));
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, routesYaml().replace('cluster: checkout-v2, weight', 'cluster: checkout-v9, weight'));

    const [diff, xdsDiff, invalid] = await Promise.all([
      cli('diff', candidate),
      cli('diff', candidate, '--xds'),
      cli('apply', broken, '-m', 'typo'),
    ]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('~ checkout  weights: monolith 90%→50%, checkout-v2 10%→50%');
    expect(diff.stdout).toContain('summary: 1 route changed, 1 cluster added; checkout: monolith 90→50, checkout-v2 10→50');
    expect(xdsDiff.stdout).toMatch(/RouteConfiguration:\n\s+~ edge/);
    expect(xdsDiff.stdout).toMatch(/summary: default: 1 RouteConfiguration changed\n$/);
    expect(invalid.code).toBe(EXIT.rejected);
    expect(invalid.stderr).toMatch(/^banyan: config rejected: 1 error\n {2}.*broken\.yaml:\d+:\d+: error: .*checkout-v9/);

    const applied = await cli('apply', candidate, '-m', 'half of checkout to v2');
    expect(applied).toMatchObject({ code: 0, stdout: `applied version 2: 1 route changed, 1 cluster added; checkout: monolith 90→50, checkout-v2 10→50\n` });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([50, 50]));

    const [history, table, versions] = await Promise.all([json('history'), cli('history'), json('diff', '--from', '1', '--to', '2')]);
    expect(history.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(history.versions[0]).toMatchObject({ message: 'half of checkout to v2', live: true });
    expect(history.versions[0].author).toMatch(/^admin \(as ci@\S+\)$/);
    expect(table.stdout).toMatch(/^\*2\s+\S+\s+admin \(as ci@\S+\)\s+half of checkout to v2\s+1 route changed/m);
    expect(versions.diff.routes.changed[0]).toMatchObject({ ref: 'checkout', weights: [{ cluster: 'monolith', before: 90, after: 50 }, { cluster: 'checkout-v2', before: 10, after: 50 }] });

    const rollback = await cli('rollback', '1', '-m', 'v2 not ready');
    expect(rollback).toMatchObject({ code: 0, stdout: 'rolled back to version 1: now live as version 3\n' });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([90, 10]));
    const missing = await cli('rollback', '9');
    expect(missing).toMatchObject({ code: EXIT.rejected, stderr: 'banyan: no config version 9 (versions are 1..3)\n' });
    const [latest, changed, same] = await Promise.all([
      json('history', '-n', '1'),
      cli('diff', '--from', '2', '--exit-code'),
      cli('diff', '--from', '1', '--to', '3', '--exit-code'),
    ]);
    expect(changed.code).toBe(EXIT.failure);
    expect(changed.stdout).toMatch(/^summary: 1 route changed, 1 cluster removed; checkout: monolith 50→90, checkout-v2 50→10$/m);
    expect(same).toMatchObject({ code: 0, stdout: 'no changes\n' });
    expect(latest.versions[0]).toMatchObject({ version: 3, message: 'v2 not ready', summary: expect.stringContaining('checkout: monolith 50→90') });

    const [audit, auditTable] = await Promise.all([json('audit', '-n', '3'), cli('audit', '-n', '1')]);
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual(['config.rollback', 'config.apply', expect.any(String)]);
    expect(audit.entries[0].details).toMatchObject({ to: 1 });
    expect(auditTable.stdout).toMatch(/^TIME\s+ACTOR\s+ACTION\s+TARGET\s+DETAILS\n\S+\s+admin \(as ci@\S+\)\s+config\.rollback\s/);
  });
});
