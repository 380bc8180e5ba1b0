/**
 * The README's rollout commands, run as written against the shipped example config
 * (examples/banyan.yaml, where auth-login sends 90% to auth-v2 and 10% to the monolith):
 *
 * - Rollouts: `banyan rollout start auth-login --to auth-v2 --steps 5,10,25,50,100 --interval 10m` is
 *   refused, saying how much would move back, and changes nothing; with `--allow-decrease` it runs at 5%.
 * - Using it: `banyan rollout start auth-login --to auth-v3 ... --min-success-rate 99` starts at 5%,
 *   `banyan rollout status` lists it and `banyan rollout status auth-login` shows its steps and analysis.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/admin-client.js';
import type { RunningBanyan } from '../../src/server/banyan.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { RdsWatcher } from '../cli/ads.js';
import { banyan } from '../cli/run.js';
import { startTestBanyan } from '../support/banyan.js';
import { eventually } from '../support/eventually.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = path.join(root, 'examples/banyan.yaml');
const TOKEN = 'readme-rollout-token';

/** The two commands exactly as README.md spells them (checked against README.md below). */
const REFUSED = 'banyan rollout start auth-login --to auth-v2 --steps 5,10,25,50,100 --interval 10m';
const USAGE = 'banyan rollout start auth-login --to auth-v3 --steps 5,10,25,50,100 --interval 10m --min-success-rate 99';
const argsOf = (command: string) => command.split(' ').slice(1);

interface Served {
  adminUrl: string;
  banyan: RunningBanyan;
  /** A scripted proxy subscribed to the edge RouteConfiguration: the weights a client actually gets. */
  proxy: RdsWatcher;
  cli(...args: string[]): ReturnType<typeof banyan>;
  get<T = any>(p: string): Promise<T>;
}

type RouteJson = { name: string; percent: Record<string, number>; override: unknown; rollout: unknown };

describe("the README's rollout examples on the shipped example config", () => {
  const stops: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  /** `banyan serve examples/banyan.yaml` in this process: the shipped file as is, state in a temp dir, free loopback ports. */
  async function serveExample(): Promise<Served> {
    // served in place (it names jwks.json beside itself): `config` stands for the temp dir's routes.yaml
    const t = await startTestBanyan('{}\n', {
      config: EXAMPLE,
      adminToken: TOKEN,
      debounceMs: 50,
      watch: false,
      // The rate limit and authz services are left out: a rollout needs neither.
      logger: createLogger('banyan-test', process.env.BANYAN_LOG_LEVEL ?? 'silent'),
    });
    stops.push(() => t.stop());
    const running = t.banyan;
    const proxy = new RdsWatcher(`127.0.0.1:${running.ports.xds}`, 'edge-1');
    stops.push(() => proxy.close());
    const adminUrl = `http://127.0.0.1:${running.ports.admin}`;
    const env = { BANYAN_SERVER: adminUrl, BANYAN_TOKEN: TOKEN };
    const get = async (p: string) => {
      const res = await fetch(`${adminUrl}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status, p).toBe(200);
      return res.json();
    };
    return { adminUrl, banyan: running, proxy, cli: (...args) => banyan(args, env), get };
  }

  const authLogin = async (s: Served) => ((await s.get<{ routes: RouteJson[] }>('/api/v1/routes')).routes.find((r) => r.name === 'auth-login'))!;

  beforeAll(async () => {
    // The commands run here are the README's, and the example is what the README says it is.
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    expect(readme.replace(/\s*\n\s*/g, ' ')).toContain(`\`${REFUSED}\``);
    expect(readme).toMatch(new RegExp(`^${USAGE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(await readFile(EXAMPLE, 'utf8')).toMatch(/- name: auth-login\n(?:.*\n)*?\s+to:\n\s+- \{ cluster: auth-v2, weight: 90 \}\n\s+- \{ cluster: monolith, weight: 10 \}\n/);
  });

  it('refuses the Rollouts example with what would move back, changes nothing, and runs it at 5% with --allow-decrease', async () => {
    const s = await serveExample();
    expect((await authLogin(s)).percent).toEqual({ 'auth-v2': 90, monolith: 10 });
    await eventually(async () => expect(await s.proxy.weights('auth-login')).toEqual([90, 10]));

    const refused = await s.cli(...argsOf(REFUSED));
    // The server refuses it as bad input (400), which the CLI exits with as a rejected change.
    expect(refused.code).toBe(EXIT.rejected);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain("already sends 90% to 'auth-v2'");
    expect(refused.stderr).toContain('would move 85% of its traffic back to monolith');
    expect(refused.stderr).toContain('--allow-decrease');

    // Nothing changed: no rollout, no override, the YAML's weights served.
    expect((await s.get<{ rollouts: unknown[] }>('/api/v1/rollouts')).rollouts).toEqual([]);
    const untouched = await authLogin(s);
    expect(untouched).toMatchObject({ override: null, rollout: null, percent: { 'auth-v2': 90, monolith: 10 } });
    expect(await s.proxy.weights('auth-login')).toEqual([90, 10]);

    const allowed = await s.cli(...argsOf(REFUSED), '--allow-decrease');
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(EXIT.ok);
    const id = /^started rollout (\S+)$/m.exec(allowed.stdout)?.[1];
    expect(id).toBeDefined();
    // The answer comes while the first step is being applied: 5% is what the rollout wants, and soon what is served.
    expect(allowed.stdout).toMatch(/^(weights {4}|\s+rollout wants )auth-v2=5% monolith=95%$/m);

    await eventually(async () => {
      const view = await s.get(`/api/v1/rollouts/${id}`);
      expect(view).toMatchObject({ route: 'auth-login', toBackend: 'auth-v2', state: 'running', percent: 5, percentages: { 'auth-v2': 5, monolith: 95 }, servedPercentages: { 'auth-v2': 5, monolith: 95 } });
      expect(await authLogin(s)).toMatchObject({ percent: { 'auth-v2': 5, monolith: 95 }, rollout: { id, state: 'running', percent: 5 } });
    });
    await eventually(async () => expect(await s.proxy.weights('auth-login')).toEqual([5, 95]));
    const status = await s.cli('rollout', 'status', 'auth-login');
    expect(status.code).toBe(EXIT.ok);
    expect(status.stdout.split('\n')[1]).toBe('weights    auth-v2=5% monolith=95%');
    expect(status.stdout).not.toContain('rollout wants');
  });

  it('starts the Using it example at 5% to auth-v3; rollout status lists it and shows its steps and analysis', async () => {
    const s = await serveExample();
    await eventually(async () => expect(await s.proxy.weights('auth-login')).toEqual([90, 10]));

    const start = await s.cli(...argsOf(USAGE));
    expect(start.stderr).toBe('');
    expect(start.code).toBe(EXIT.ok);
    const id = /^started rollout (\S+)$/m.exec(start.stdout)?.[1];
    expect(id).toBeDefined();
    // auth-v3 takes 5%; auth-v2 and the monolith keep their 90:10 between them (in whole weights).
    const SPLIT = { 'auth-v2': 86, monolith: 9, 'auth-v3': 5 };
    expect(start.stdout).toMatch(/^(weights {4}|\s+rollout wants )auth-v2=86% monolith=9% auth-v3=5%$/m);

    await eventually(async () => {
      const route = await authLogin(s);
      expect(route.percent).toEqual(SPLIT);
      expect(route.rollout).toMatchObject({ id, state: 'running', toBackend: 'auth-v3', percent: 5 });
      const view = await s.get(`/api/v1/rollouts/${id}`);
      expect(view).toMatchObject({ percentages: SPLIT, servedPercentages: SPLIT, analysis: { checks: [{ metric: 'success-rate', min: 99 }] } });
    });
    // A proxy is sent auth-v3 at 5% of the route's weight.
    await eventually(async () => expect(await s.proxy.weights('auth-login')).toEqual([86, 9, 5]));

    const list = await s.cli('rollout', 'status');
    expect(list.code).toBe(EXIT.ok);
    expect(list.stdout).toMatch(/^ID\s+ROUTE\s+TO\s+STATE\s+PERCENT\s+STEP\s+NEXT STEP\s+OWNER$/m);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+auth-login\\s+auth-v3\\s+running\\s+5%\\s+1/5\\s+.*\\bcli$`, 'm'));

    const status = await s.cli('rollout', 'status', 'auth-login');
    expect(status.code).toBe(EXIT.ok);
    const lines = status.stdout.split('\n');
    expect(lines[0]).toBe(`rollout ${id}  auth-login → auth-v3  running  owner cli`);
    expect(lines[1]).toBe('weights    auth-v2=86% monolith=9% auth-v3=5%');
    expect(status.stdout).not.toContain('rollout wants');
    expect(status.stdout).toMatch(/^steps {6}every 10m, proxies ACK within 2m$/m);
    const steps = lines.filter((l) => /^ {2}[✔⏸·▶✖] \d+%/.test(l));
    expect(steps.map((l) => l.slice(2, 4))).toEqual(['▶ ', '· ', '· ', '· ', '· ']);
    expect(steps.map((l) => Number(/(\d+)%/.exec(l)![1]))).toEqual([5, 10, 25, 50, 100]);
    expect(steps[0]).toMatch(/^ {2}▶ 5% +applied \d\d:\d\d:\d\d/);
    expect(status.stdout).toMatch(/^analysis {3}every 10m from Banyan's load reports; 2 failed runs in a step → rollback$/m);
  });
});
