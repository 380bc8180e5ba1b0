import type { Command } from 'commander';
import { RolloutError } from '../../rollout/errors.js';
import { parseInterval, parseSteps, stepsFrom } from '../../rollout/steps.js';
import type { Rollout } from '../../store/types.js';
import { clientFrom, CliError, EXIT, orExit, withServerOptions, type AdminClient } from '../admin-client.js';
import { color, outputOption, printJson, table } from '../output.js';
import { parseIntOption } from '../options.js';
import { defaultAuthor, withAuthor } from './apply.js';

/** GET /api/v1/rollouts/:ref as the admin API serves it. */
interface RolloutView extends Rollout {
  percentages: Record<string, number>;
  nextStepInMs: number | null;
  proxies: { weightsServed: boolean; accepted: string[]; pending: { nodeId: string; state: string; error?: string }[] } | null;
}

const TERMINAL = new Set(['completed', 'aborted', 'undone']);
const WAITABLE = ['completed', 'paused', 'aborted', 'undone'];

export function register(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('Stepped rollouts: move a route to a backend a few percent at a time, watched, undoable')
    .addHelpText(
      'after',
      `
Examples:
  $ banyan rollout start checkout --to checkout-v2 --steps 5,10,25,50,100 --interval 10m
  $ banyan rollout start checkout --to checkout-v2 --step 10 --max 50 --interval 30s
  $ banyan rollout status checkout --watch
  $ banyan rollout status checkout --wait-for completed --timeout 1h   # CI: exit 0 when done
  $ banyan rollout pause checkout && banyan rollout abort checkout`,
    );

  const start = rollout
    .command('start')
    .description('Start a rollout of ROUTE to BACKEND; the first step applies at once')
    .argument('<route>', 'route name (or listener/route)')
    .requiredOption('--to <backend>', 'the cluster that receives more and more of the traffic')
    .option('--steps <list>', 'target percentages, increasing, e.g. 5,10,25,50,100')
    .option('--step <percent>', 'equal steps of this many percent (with --max)', parseIntOption)
    .option('--max <percent>', 'last step for --step (default 100)', parseIntOption)
    .requiredOption('--interval <duration>', 'time between steps, e.g. 30s, 10m, 1h');
  outputOption(withAuthor(withServerOptions(start)))
    .addHelpText(
      'after',
      `
Examples:
  $ banyan rollout start checkout --to checkout-v2 --steps 5,10,25,50,100 --interval 10m
  $ banyan rollout start search --to search-v2 --step 10 --max 50 --interval 5m`,
    )
    .action(async (route: string, o) => {
      const steps = usage(() => {
        if ((o.steps === undefined) === (o.step === undefined)) throw new RolloutError('bad-input', 'give either --steps LIST or --step N [--max M]');
        if (o.max !== undefined && o.step === undefined) throw new RolloutError('bad-input', '--max goes with --step');
        return o.steps !== undefined ? parseSteps(o.steps) : stepsFrom(o.step, o.max);
      });
      const intervalMs = usage(() => parseInterval(o.interval));
      const view = await clientFrom(o).post<RolloutView>('/api/v1/rollouts', { route, to: o.to, steps, interval: intervalMs, author: o.author ?? defaultAuthor() });
      if (o.output === 'json') return printJson(view);
      process.stdout.write(`started rollout ${view.id}\n${render(view)}`);
    });

  const status = rollout
    .command('status')
    .description('Show rollouts, or one rollout live: step, weights, time to next step, proxies that have / have not accepted')
    .argument('[id-or-route]', 'rollout id, or a route (its active rollout, else its latest)')
    .option('--route <route>', 'same as giving the route as argument')
    .option('-w, --watch', 'keep showing the rollout until it ends')
    .option('--wait-for <state>', `exit 0 once the rollout is ${WAITABLE.join('|')}; non-zero if it ends otherwise`)
    .option('--timeout <duration>', 'with --wait-for: give up after this long (exit code 6)', '30m')
    .option('--poll <duration>', 'how often to ask the server while watching or waiting', '500ms');
  outputOption(withServerOptions(status))
    .addHelpText(
      'after',
      `
Exit codes with --wait-for: 0 reached, ${EXIT.timeout} timed out, ${EXIT.failure} ended in another state
(e.g. aborted while waiting for completed), ${EXIT.unreachable} server unreachable at the deadline.

Examples:
  $ banyan rollout status
  $ banyan rollout status checkout --watch
  $ banyan rollout status 0c3e9f1a-... --wait-for completed --timeout 45m`,
    )
    .action(async (idOrRoute: string | undefined, o) => {
      const client = clientFrom(o);
      const ref = idOrRoute ?? o.route;
      if (!ref) {
        if (o.watch || o.waitFor) throw new CliError('--watch and --wait-for need a rollout id or a route', EXIT.usage);
        return listRollouts(client, o.output);
      }
      if (o.waitFor && !WAITABLE.includes(o.waitFor)) throw new CliError(`--wait-for must be one of ${WAITABLE.join(', ')}`, EXIT.usage);
      const pollMs = usage(() => parseInterval(o.poll));
      const path = `/api/v1/rollouts/${encodeURIComponent(ref)}`;
      if (!o.watch && !o.waitFor) {
        const view = await client.get<RolloutView>(path);
        return o.output === 'json' ? printJson(view) : void process.stdout.write(render(view));
      }
      const deadline = o.waitFor ? Date.now() + usage(() => parseInterval(o.timeout)) : Infinity;
      process.exitCode = await follow(client, path, { waitFor: o.waitFor, watch: Boolean(o.watch), json: o.output === 'json', pollMs, deadline });
    });

  for (const [name, description] of [
    ['pause', 'Stop stepping; the current weights stay. `resume` continues with the time that was left'],
    ['resume', 'Continue a paused rollout'],
    ['promote', 'Move to the next step now (or to 100% with --full)'],
    ['abort', 'Stop and go back to the starting weights at once'],
    ['undo', 'Go back to the weights from before a rollout, also after it completed'],
  ] as const) {
    const cmd = rollout.command(name).description(description).argument('<id-or-route>', 'rollout id, or the route it runs on');
    if (name === 'promote') cmd.option('--full', 'go straight to 100%: the rollout completes');
    outputOption(withAuthor(withServerOptions(cmd)))
      .addHelpText('after', `\nExamples:\n  $ banyan rollout ${name} checkout${name === 'promote' ? '\n  $ banyan rollout promote checkout --full' : ''}`)
      .action(async (ref: string, o) => {
        const body = { author: o.author ?? defaultAuthor(), ...(name === 'promote' ? { full: Boolean(o.full) } : {}) };
        const view = await clientFrom(o).post<RolloutView>(`/api/v1/rollouts/${encodeURIComponent(ref)}/${name}`, body);
        if (o.output === 'json') return printJson(view);
        process.stdout.write(render(view));
      });
  }
}

/** Runs a client-side check; bad input is a usage error, before anything is sent. */
const usage = orExit;

async function listRollouts(client: AdminClient, output: string): Promise<void> {
  const { rollouts } = await client.get<{ rollouts: RolloutView[] }>('/api/v1/rollouts');
  if (output === 'json') return printJson({ rollouts });
  if (rollouts.length === 0) return void process.stdout.write('no rollouts\n');
  const rows = rollouts.map((r) => [r.id, r.route, r.toBackend, paint(r.state), `${r.percent}%`, `${r.currentStep + 1}/${r.steps.length}`, next(r)]);
  process.stdout.write(table(['ID', 'ROUTE', 'TO', 'STATE', 'PERCENT', 'STEP', 'NEXT STEP'], rows));
}

/**
 * Polls until the awaited state (exit 0), another terminal state (exit 1) or the deadline (exit 6).
 * A server that is briefly unreachable (a control-plane restart) is retried until the deadline.
 */
async function follow(
  client: AdminClient,
  path: string,
  o: { waitFor?: string; watch: boolean; json: boolean; pollMs: number; deadline: number },
): Promise<number> {
  let last = '';
  for (;;) {
    let view: RolloutView | undefined;
    try {
      view = await client.get<RolloutView>(path);
    } catch (err) {
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || Date.now() > o.deadline) throw err;
    }
    if (view && o.watch) {
      const text = o.json ? JSON.stringify(view) + '\n' : render(view);
      const key = o.json ? text : text.replace(/^next step.*$/m, '');
      if (process.stdout.isTTY && !o.json) process.stdout.write('\x1b[2J\x1b[H' + text);
      else if (key !== last) process.stdout.write(text + (o.json ? '' : '\n'));
      last = key;
    }
    if (view && o.waitFor && view.state === o.waitFor) {
      if (!o.watch) process.stdout.write(o.json ? JSON.stringify(view) + '\n' : render(view));
      return EXIT.ok;
    }
    if (view && TERMINAL.has(view.state)) {
      if (!o.waitFor) return EXIT.ok;
      if (!o.watch) process.stdout.write(o.json ? JSON.stringify(view) + '\n' : render(view));
      process.stderr.write(`rollout ${view.id} ended ${view.state}, not ${o.waitFor}\n`);
      return EXIT.failure;
    }
    if (Date.now() > o.deadline) {
      process.stderr.write(`timed out waiting for the rollout to be ${o.waitFor}${view ? ` (it is ${view.state} at ${view.percent}%)` : ''}\n`);
      return EXIT.timeout;
    }
    await new Promise((r) => setTimeout(r, Math.min(o.pollMs, Math.max(0, o.deadline - Date.now()))));
  }
}

function paint(state: string): string {
  return state === 'running' || state === 'completed' ? color.green(state) : state === 'paused' ? color.yellow(state) : color.red(state);
}

/** 1.5s, 10m, 1h30m: the way --interval is written. */
function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 10) / 10}s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${whole % 60 ? `${whole % 60}s` : ''}`;
  const m = Math.floor((whole % 3600) / 60);
  return `${Math.floor(whole / 3600)}h${m ? `${m}m` : ''}`;
}

function next(r: RolloutView): string {
  if (r.nextStepInMs === null) return '-';
  const text = duration(Math.ceil(r.nextStepInMs / 1000) * 1000);
  return r.state === 'paused' ? `${text} left (paused)` : `in ${text}`;
}

function render(r: RolloutView): string {
  const lines = [
    `rollout    ${r.id}`,
    `route      ${r.route} → ${r.toBackend}   ${paint(r.state)}`,
    `step       ${r.currentStep + 1}/${r.steps.length} (${r.percent}%)   steps ${r.steps.join(',')}   every ${duration(r.intervalMs)}`,
    `weights    ${Object.entries(r.percentages).map(([c, p]) => `${c}=${p}%`).join(' ')}`,
    `next step  ${next(r)}`,
  ];
  if (r.proxies) {
    const total = r.proxies.accepted.length + r.proxies.pending.length;
    lines.push(`proxies    ${r.proxies.accepted.length}/${total} accepted these weights${r.proxies.weightsServed ? '' : ' (not served yet)'}`);
    if (r.proxies.accepted.length) lines.push(`  ${color.green('accepted')}: ${r.proxies.accepted.join(', ')}`);
    for (const p of r.proxies.pending) lines.push(`  ${color.yellow('pending')}:  ${p.nodeId} (${p.state}${p.error ? `: ${p.error}` : ''})`);
  }
  return lines.join('\n') + '\n';
}
