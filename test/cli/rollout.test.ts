import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/admin-client.js';
import { eventually } from '../support/eventually.js';
import { RdsWatcher } from './ads.js';
import { banyan } from './run.js';
import { startCliFixture, type CliFixture, type OpsServer } from './server.js';

const TOKEN = 'rollout-token';

describe('banyan rollout (CLI end to end)', () => {
  let server: OpsServer;
  let proxy: RdsWatcher;
  let env: Record<string, string>;
  const cli = (...args: string[]) => banyan(args, env);
  const rollout = async (ref: string) => (await fetch(`${server.adminUrl}/api/v1/rollouts/${ref}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

  let fixture: CliFixture;

  beforeAll(async () => {
    fixture = await startCliFixture(TOKEN);
    ({ server, proxy } = fixture);
    env = { BANYAN_SERVER: server.adminUrl, BANYAN_TOKEN: TOKEN };
  });
  afterAll(() => fixture?.stop());

  // Seven steps of 2 s, each baked only once the proxy has ACKed it, and a deliberate 2.5 s wait: more than the default 30 s on a loaded machine.
  it('advances on its own, holds while paused, resumes and completes; status --wait-for gives CI exit codes', { timeout: 60_000 }, async () => {
    const start = await cli('rollout', 'start', 'checkout', '--to', 'checkout-v2', '--steps', '20,30,40,50,60,70,100', '--interval', '2s');
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^started rollout \S+\n/);
    // The answer comes while the first step is being applied: the weights line is what is served, so
    // 80/20 is what the rollout wants, and what is served once this replica has applied it.
    expect(start.stdout).toMatch(/^(weights {4}|\s+rollout wants )monolith=80% checkout-v2=20%$/m);

    // It advances by itself, and the connected proxy receives each step's weights.
    await eventually(async () => expect((await proxy.weights('checkout'))[1]).toBeGreaterThanOrEqual(30), 15_000);

    const paused = await cli('rollout', 'pause', 'checkout', '-o', 'json');
    expect(paused.code).toBe(0);
    const held = JSON.parse(paused.stdout);
    expect(held.state).toBe('paused');
    expect(held.percent).toBeLessThan(100);

    // Waiting longer than an interval: a paused rollout does not move, and --wait-for times out (exit 6).
    const timeout = await cli('rollout', 'status', 'checkout', '--wait-for', 'completed', '--timeout', '2500ms');
    expect(timeout.code).toBe(EXIT.timeout);
    expect(timeout.stderr).toMatch(`timed out waiting for the rollout to be completed (it is paused at ${held.percent}%)`);
    expect((await rollout(held.id)).percent).toBe(held.percent);

    // The scripted proxy ACKs what it has received; then the live view counts it as accepted.
    await eventually(async () => {
      expect(await proxy.weights('checkout')).toEqual([100 - held.percent, held.percent]);
      expect((await rollout(held.id)).proxies).toMatchObject({ weightsServed: true, accepted: ['edge-proxy-1'], pending: [] });
    });
    const status = await cli('rollout', 'status', held.id);
    expect(status.stdout).toMatch(new RegExp(`^rollout ${held.id}  checkout → checkout-v2  paused  owner cli$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^weights {4}monolith=${100 - held.percent}% checkout-v2=${held.percent}%\n(?! +rollout wants)`, 'm'));
    expect(status.stdout).toMatch(/^steps\s+every 2s, proxies ACK within 2m$/m);
    // One line per step: the ones taken ✔, the held one ⏸ with why, the rest still to come.
    const stepLines = status.stdout.split('\n').filter((l) => /^ {2}[✔⏸·▶✖] \d+%/.test(l));
    expect(stepLines.map((l) => Number(/(\d+)%/.exec(l)![1]))).toEqual([20, 30, 40, 50, 60, 70, 100]);
    const at = [20, 30, 40, 50, 60, 70, 100].indexOf(held.percent);
    expect(stepLines[at]).toMatch(new RegExp(`^  ⏸ ${held.percent}%\\s+applied \\S+.*paused: paused by an operator \\(resume to continue\\)$`));
    expect(stepLines.slice(0, at).every((l) => l.startsWith('  ✔ '))).toBe(true);
    expect(stepLines.slice(at + 1).every((l) => l.startsWith('  · '))).toBe(true);
    // Paused while baking: the time that was left; paused before every proxy had ACKed the step: a full interval after they have.
    expect(status.stdout).toMatch(/^next step\s+(\d+s left|2s after every proxy has ACKed) \(paused\)$/m);
    expect(status.stdout).toMatch(/^proxies\s+1\/1 accepted these weights$/m);
    expect(status.stdout).toMatch(/^ {2}accepted: edge-proxy-1$/m);

    // pause and resume are idempotent: repeating one changes nothing and says so.
    const pausedAgain = await cli('rollout', 'pause', 'checkout');
    expect(pausedAgain.code).toBe(0);
    expect(pausedAgain.stdout).toMatch(new RegExp(`^rollout ${held.id} is already paused; nothing changed$`, 'm'));
    // Each step waits until every proxy has ACKed it, and the scripted proxy ACKs only when asked: ask it
    // over and over, as an Envoy ACKs every push, until the rollout is done.
    let acking = true;
    const acker = (async () => {
      while (acking) {
        await proxy.weights('checkout');
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    expect((await cli('rollout', 'resume', 'checkout')).code).toBe(0);
    // Without an id, --wait-for follows the one active rollout.
    const done = await cli('rollout', 'status', '--wait-for', 'completed', '--timeout', '30s', '-o', 'json').finally(async () => {
      acking = false;
      await acker;
    });
    expect(done.code).toBe(EXIT.ok);
    expect(JSON.parse(done.stdout)).toMatchObject({ state: 'completed', percent: 100, percentages: { monolith: 0, 'checkout-v2': 100 } });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([0, 100]));

    const undo = await cli('rollout', 'undo', 'checkout', '-o', 'json');
    expect(JSON.parse(undo.stdout)).toMatchObject({ state: 'undone', percentages: { monolith: 90, 'checkout-v2': 10 } });
    await eventually(async () => expect(await proxy.weights('checkout')).toEqual([90, 10]));

    // Every step exactly once, in order: the timer's steps, then completion once the last one is synced.
    const audit = (await (await fetch(`${server.adminUrl}/api/v1/audit`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()).entries;
    const steps = audit
      .filter((e: { action: string; details: { to?: string } }) => e.details.to === 'checkout-v2' && /^rollout\.(start|step|complete)$/.test(e.action))
      .reverse()
      .map((e: { action: string; details: { percent: number } }) => `${e.action}:${e.details.percent}`);
    expect(steps).toEqual(['rollout.start:20', 'rollout.step:30', 'rollout.step:40', 'rollout.step:50', 'rollout.step:60', 'rollout.step:70', 'rollout.step:100', 'rollout.complete:100']);
    expect(audit[0].action).toBe('rollout.undo');
  });

  it('aborts mid-way back to the starting weights, and refuses a second rollout on a busy route', async () => {
    const start = await cli('rollout', 'start', 'search', '--to', 'search-v2', '--step', '25', '--interval', '1h', '-o', 'json');
    expect(start.code).toBe(0);
    const id = JSON.parse(start.stdout).id;
    expect(JSON.parse(start.stdout).steps).toEqual([25, 50, 75, 100]);
    expect((await cli('rollout', 'promote', id)).code).toBe(0);
    await eventually(async () => expect(await proxy.weights('search')).toEqual([50, 50]));
    // Resuming a running rollout changes nothing, and says so (here as YAML).
    const resumed = await cli('rollout', 'resume', 'search', '-o', 'yaml');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^id: ${id}$`, 'm'));
    expect(resumed.stdout).toMatch(/^unchanged: true$/m);

    const [busy, badSteps, badTo] = await Promise.all([
      cli('rollout', 'start', 'search', '--to', 'search-v2', '--steps', '50,100', '--interval', '1m'),
      cli('rollout', 'start', 'checkout', '--to', 'monolith', '--steps', '50,20', '--interval', '1m'),
      cli('rollout', 'start', 'checkout', '--to', 'nowhere', '--steps', '50', '--interval', '1m'),
    ]);
    expect(busy.code).toBe(EXIT.rejected);
    expect(busy.stderr).toBe(`banyan: route search already has an active rollout (${id}); abort or finish it first\n`);
    expect(badSteps).toMatchObject({ code: EXIT.usage, stderr: 'banyan: steps must increase: 50 is followed by 20\n' });
    expect(badTo.code).toBe(EXIT.rejected);
    expect(badTo.stderr).toMatch(/unknown backend 'nowhere'/);

    const abort = await cli('rollout', 'abort', 'search', '-o', 'json');
    expect(JSON.parse(abort.stdout)).toMatchObject({ id, state: 'aborted', percentages: { monolith: 100, 'search-v2': 0 } });
    await eventually(async () => expect(await proxy.weights('search')).toEqual([100, 0]));

    // An awaited state that can no longer happen: exit 1 at once, not a timeout.
    const wait = await cli('rollout', 'status', id, '--wait-for', 'completed', '--timeout', '1m');
    expect(wait.code).toBe(EXIT.failure);
    expect(wait.stderr).toBe(`rollout ${id} ended aborted, not completed\n`);

    const list = await cli('rollout', 'status');
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+search\\s+search-v2\\s+aborted\\s+50%\\s+2/4`, 'm'));
  });
});
