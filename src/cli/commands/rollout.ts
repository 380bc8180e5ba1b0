import { type Command, Option } from 'commander';
import type { AnalysisCheck, RolloutAnalysis, WebhookEvent, WebhookSpec } from '../../config/model.js';
import {
  analysisWithDefaults,
  ROLLOUT_DEFAULTS,
  rolloutExtrasProblems,
  WEBHOOK_EVENTS,
  webhookWithDefaults,
  type AnalysisCheckInput,
  type RolloutAnalysisInput,
  type WebhookInput,
} from '../../config/rollout-spec.js';
import { RolloutError } from '../../rollout/errors.js';
import { parseInterval, parseSteps, stepsFrom } from '../../rollout/steps.js';
import type { AnalysisRun, CheckResult, Rollout, StepRecord } from '../../store/types.js';
import { clientFrom, CliError, EXIT, orExit, withServerOptions, type AdminClient } from '../admin-client.js';
import { color, outputOption, printStructured, table, yamlText, type OutputFormat } from '../output.js';
import { parseIntOption } from '../options.js';
import { defaultAuthor, withAuthor } from './apply.js';

/** One proxy's progress on the rollout's current weights (admin/operations.ts RolloutProgress). */
export interface RolloutProxies {
  weightsServed: boolean;
  synced?: boolean;
  accepted: string[];
  pending: { nodeId: string; replica?: string; state: string; error?: string }[];
  detail?: string;
}

/** GET /api/v1/rollouts/:ref as the admin API serves it. Fields added later may be absent (older servers, older records). */
export interface RolloutView extends Rollout {
  percentages: Record<string, number>;
  nextStepInMs: number | null;
  proxies: RolloutProxies | null;
  /** What this replica serves on the route now (`weights`/`percentages` are what the rollout wants). */
  served?: { cluster: string; weight: number }[];
  /** `served` as percentages. */
  servedPercentages?: Record<string, number>;
  /** Set by pause/resume when the rollout already was in that state. */
  unchanged?: boolean;
}

const ACTIVE = new Set(['running', 'paused']);
const TERMINAL = new Set(['completed', 'aborted', 'undone', 'rolled-back']);
const WAITABLE = ['completed', 'paused', 'aborted', 'undone', 'rolled-back'];

export function register(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('Stepped rollouts: move a route to a backend a few percent at a time, watched, analysed, undoable')
    .addHelpText(
      'after',
      `
Examples:
  $ banyan rollout start checkout --to checkout-v2 --steps 5,10,25,50,100 --interval 10m
  $ banyan rollout start checkout --to checkout-v2 --step 10 --max 50 --interval 30s
  $ banyan rollout start checkout --to checkout-v2 --steps 5,25,100 --interval 10m \\
      --min-success-rate 99 --max-latency p99=500ms --min-requests 100
  $ banyan rollout status --watch                                    # the one active rollout
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
    .requiredOption('--interval <duration>', 'time each step bakes before the next, e.g. 30s, 10m, 1h')
    .option('--allow-decrease', "let the first step lower the target's current share")
    .option('--ack-timeout <duration>', 'how long proxies have to ACK a step before the rollout holds (default 2m)')
    .option('--min-success-rate <percent>', 'analysis: the canary must answer at least this share of requests without error')
    .option('--max-latency <pNN=duration>', 'analysis: the canary\'s latency at a percentile, e.g. p99=500ms (repeatable, or p99=500ms,p95=300ms)', collect)
    .option('--min-requests <n>', 'analysis: a run with fewer canary requests is inconclusive')
    .option('--vs-baseline', 'the success-rate and latency checks compare with the other backends: --min-success-rate N allows N points below them, --max-latency p99=D allows D slower')
    .option('--analysis-interval <duration>', 'how often checks run while a step bakes, each over that long a window (default: --interval)')
    .option('--failure-limit <n>', 'failed runs in one step before --on-failure (default 2)')
    .addOption(new Option('--on-failure <action>', 'after --failure-limit failed runs: rollback to the starting weights, or pause where they are (default rollback)').choices(['rollback', 'pause']))
    .option('--prometheus', "checks read Prometheus (the server's --prometheus URL) instead of Banyan's own load reports")
    .option('--webhook <spec>', 'name=url[,gate][,events=pre-step+rollback][,secret-env=VAR][,timeout=5s][,retries=3] (repeatable)', collect);
  outputOption(withAuthor(withServerOptions(start)))
    .addHelpText(
      'after',
      `
Analysis runs the checks every --analysis-interval while a step bakes; a step advances only after a
passing run, and --failure-limit failed runs in one step roll back (or pause). Webhooks are told of
pre-step, post-step, promotion and rollback; a gate (needs pre-step) holds each step until it answers
2xx, signed with HMAC-SHA256 when secret-env names a variable holding the secret.

Examples:
  $ banyan rollout start checkout --to checkout-v2 --steps 5,10,25,50,100 --interval 10m
  $ banyan rollout start search --to search-v2 --step 10 --max 50 --interval 5m --allow-decrease
  $ banyan rollout start checkout --to checkout-v2 --steps 5,25,100 --interval 10m \\
      --min-success-rate 99 --max-latency p99=500ms --min-requests 100 --on-failure pause
  $ banyan rollout start checkout --to checkout-v2 --steps 10,50,100 --interval 15m \\
      --vs-baseline --min-success-rate 1 --max-latency p95=50ms --prometheus
  $ banyan rollout start checkout --to checkout-v2 --steps 10,100 --interval 1h \\
      --webhook approve=https://ci.example.com/hooks/banyan,gate,secret-env=BANYAN_HOOK_SECRET \\
      --webhook chat=https://chat.example.com/hook,events=promotion+rollback`,
    )
    .action(async (route: string, o) => {
      const format = outputFormat(o.output);
      const body = startBody(route, o, o.author ?? defaultAuthor());
      const view = await clientFrom(o).post<RolloutView>('/api/v1/rollouts', body);
      if (printStructured(view, format)) return;
      process.stdout.write(`started rollout ${view.id}\n${render(view)}`);
    });

  const status = rollout
    .command('status')
    .description('Show rollouts, or one rollout live: steps, analysis, weights, time to next step, proxies that have / have not accepted')
    .argument('[id-or-route]', 'rollout id, or a route (its active rollout, else its latest); with --watch or --wait-for, default: the one active rollout')
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
Without an id, --watch and --wait-for follow the one active rollout (and refuse when there is none or several).

Examples:
  $ banyan rollout status
  $ banyan rollout status --watch
  $ banyan rollout status checkout --watch
  $ banyan rollout status 0c3e9f1a-... --wait-for completed --timeout 45m
  $ banyan rollout status checkout -o yaml`,
    )
    .action(async (idOrRoute: string | undefined, o) => {
      const format = outputFormat(o.output);
      const client = clientFrom(o);
      if (o.waitFor && !WAITABLE.includes(o.waitFor)) throw new CliError(`--wait-for must be one of ${WAITABLE.join(', ')}`, EXIT.usage);
      let ref: string | undefined = idOrRoute ?? o.route;
      if (!ref) {
        if (!o.watch && !o.waitFor) return listRollouts(client, format);
        ref = await theActiveRollout(client);
      }
      const pollMs = usage(() => parseInterval(o.poll, '--poll'));
      const path = `/api/v1/rollouts/${encodeURIComponent(ref)}`;
      if (!o.watch && !o.waitFor) {
        const view = await client.get<RolloutView>(path);
        if (!printStructured(view, format)) process.stdout.write(render(view));
        return;
      }
      const deadline = o.waitFor ? Date.now() + usage(() => parseInterval(o.timeout, '--timeout')) : Infinity;
      process.exitCode = await follow(client, path, { waitFor: o.waitFor, watch: Boolean(o.watch), format, pollMs, deadline });
    });

  for (const [name, description] of [
    ['pause', 'Stop stepping; the current weights stay. `resume` continues with the time that was left. Pausing a paused rollout changes nothing'],
    ['resume', 'Continue a paused rollout (also one held by analysis, a NACK or a gate). Resuming a running rollout changes nothing'],
    ['promote', 'Move to the next step now (or to 100% with --full)'],
    ['abort', 'Stop and go back to the starting weights at once'],
    ['undo', 'Go back to the weights from before a rollout, also after it completed'],
  ] as const) {
    const cmd = rollout.command(name).description(description).argument('<id-or-route>', 'rollout id, or the route it runs on');
    if (name === 'promote') cmd.option('--full', 'go straight to 100%: the rollout completes');
    outputOption(withAuthor(withServerOptions(cmd)))
      .addHelpText(
        'after',
        `\nExamples:\n  $ banyan rollout ${name} checkout${name === 'promote' ? '\n  $ banyan rollout promote checkout --full' : ''}\n  $ banyan rollout ${name} 0c3e9f1a-... -o json`,
      )
      .action(async (ref: string, o) => {
        const format = outputFormat(o.output);
        const body = { author: o.author ?? defaultAuthor(), ...(name === 'promote' ? { full: Boolean(o.full) } : {}) };
        const view = await clientFrom(o).post<RolloutView>(`/api/v1/rollouts/${encodeURIComponent(ref)}/${name}`, body);
        if (printStructured(view, format)) return;
        if (view.unchanged) process.stdout.write(`rollout ${view.id} is already ${name === 'pause' ? 'paused' : 'running'}; nothing changed\n`);
        process.stdout.write(render(view));
      });
  }
}

/** A repeatable option (no commander default: it would show as "(default: [])" in --help). */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Runs a client-side check; bad input is a usage error, before anything is sent. */
const usage = orExit;

/** `-o` as parsed by outputOption; left out: the output for people. */
function outputFormat(format: OutputFormat | undefined): OutputFormat {
  return format ?? 'table';
}

// ------------------------------------------------------------------ rollout start: flags → body

/** The flags of `rollout start` as commander hands them over (strings unless parsed). */
export interface StartFlags {
  to: string;
  steps?: string;
  step?: number;
  max?: number;
  interval: string;
  allowDecrease?: boolean;
  ackTimeout?: string;
  minSuccessRate?: string;
  maxLatency?: string[];
  minRequests?: string;
  vsBaseline?: boolean;
  analysisInterval?: string;
  failureLimit?: string;
  onFailure?: string;
  prometheus?: boolean;
  webhook?: string[];
}

/** POST /api/v1/rollouts as the CLI sends it: every default filled in, analysis and webhooks of the model's types. */
export interface StartBody {
  route: string;
  to: string;
  steps: number[];
  interval: number;
  author: string;
  allowDecrease: boolean;
  ackTimeoutMs: number;
  analysis?: RolloutAnalysis;
  webhooks: WebhookSpec[];
}

/**
 * The flags of `rollout start` as the request body. Checks everything it can before anything is
 * sent (the rules are config/rollout-spec.ts's, the server applies them again) and throws CliError
 * with the usage exit code, naming the flag.
 */
export function startBody(route: string, o: StartFlags, author: string): StartBody {
  const steps = usage(() => {
    if ((o.steps === undefined) === (o.step === undefined)) throw new RolloutError('bad-input', 'give either --steps LIST or --step N [--max M]');
    if (o.max !== undefined && o.step === undefined) throw new RolloutError('bad-input', '--max goes with --step');
    return o.steps !== undefined ? parseSteps(o.steps) : stepsFrom(o.step!, o.max);
  });
  const intervalMs = usage(() => parseInterval(o.interval, '--interval'));
  const ackTimeoutMs = o.ackTimeout === undefined ? ROLLOUT_DEFAULTS.ackTimeoutMs : usage(() => parseInterval(o.ackTimeout!, '--ack-timeout'));
  const { analysis, flags } = analysisFromFlags(o);
  const webhooks = (o.webhook ?? []).map(parseWebhookFlag);

  const problems = rolloutExtrasProblems(analysis, webhooks);
  if (problems.length) {
    const flagOf = (path: (string | number)[]): string => {
      if (path[0] === 'webhooks') return `--webhook ${webhooks[path[1] as number].name}`;
      if (path[1] === 'checks') return flags[path[2] as number];
      return path[1] === 'intervalMs' ? '--analysis-interval' : path[1] === 'failureLimit' ? '--failure-limit' : '--on-failure';
    };
    throw new CliError(problems.map((p) => `${flagOf(p.path)}: ${p.message}`).join('\n'), EXIT.usage);
  }
  return {
    route,
    to: o.to,
    steps,
    interval: intervalMs,
    author,
    allowDecrease: Boolean(o.allowDecrease),
    ackTimeoutMs,
    ...(analysis ? { analysis: analysisWithDefaults(analysis, intervalMs) } : {}),
    webhooks: webhooks.map(webhookWithDefaults),
  };
}

/** The analysis the flags ask for (undefined when none), and the flag each check came from. */
function analysisFromFlags(o: StartFlags): { analysis?: RolloutAnalysisInput; flags: string[] } {
  const checks: AnalysisCheckInput[] = [];
  const flags: string[] = [];
  const source = o.prometheus ? ({ source: 'prometheus' } as const) : {};
  const relative = o.vsBaseline ? ({ vsBaseline: true } as const) : {};
  if (o.minSuccessRate !== undefined) {
    const pct = number(o.minSuccessRate.replace(/%$/, ''), '--min-success-rate', 'a percentage, e.g. 99 or 99.5');
    // Relative to the baseline the number is how far below it the canary may be: a bound from above.
    checks.push({ metric: 'success-rate', ...(o.vsBaseline ? { max: pct } : { min: pct }), ...relative, ...source });
    flags.push('--min-success-rate');
  }
  for (const item of (o.maxLatency ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:p(\d+(?:\.\d+)?)=)?(.+)$/.exec(item)!;
    const percentile = m[1] === undefined ? ROLLOUT_DEFAULTS.percentile : Number(m[1]);
    const max = usage(() => parseInterval(m[2], '--max-latency'));
    checks.push({ metric: 'latency', percentile, max, ...relative, ...source });
    flags.push('--max-latency');
  }
  if (o.minRequests !== undefined) {
    checks.push({ metric: 'requests', min: number(o.minRequests, '--min-requests', 'a whole number of requests'), ...source });
    flags.push('--min-requests');
  }
  const settings = { '--vs-baseline': o.vsBaseline, '--analysis-interval': o.analysisInterval, '--failure-limit': o.failureLimit, '--on-failure': o.onFailure, '--prometheus': o.prometheus };
  if (checks.length === 0) {
    const given = Object.entries(settings).filter(([, v]) => v !== undefined && v !== false).map(([k]) => k);
    if (given.length) throw new CliError(`${given.join(', ')} ${given.length === 1 ? 'configures' : 'configure'} analysis, which needs a check: give --min-success-rate, --max-latency or --min-requests`, EXIT.usage);
    return { flags };
  }
  if (o.vsBaseline && !checks.some((c) => c.vsBaseline)) throw new CliError('--vs-baseline applies to --min-success-rate and --max-latency', EXIT.usage);
  const analysis: RolloutAnalysisInput = { checks };
  if (o.analysisInterval !== undefined) analysis.intervalMs = usage(() => parseInterval(o.analysisInterval!, '--analysis-interval'));
  if (o.failureLimit !== undefined) analysis.failureLimit = number(o.failureLimit, '--failure-limit', 'a whole number from 1');
  if (o.onFailure !== undefined) {
    if (o.onFailure !== 'rollback' && o.onFailure !== 'pause') throw new CliError(`--on-failure must be rollback or pause, got '${o.onFailure}'`, EXIT.usage);
    analysis.onFailure = o.onFailure;
  }
  return { analysis, flags };
}

function number(text: string, flag: string, what: string): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new CliError(`${flag}: '${text}' is not a number (expected ${what})`, EXIT.usage);
  return n;
}

const WEBHOOK_OPTION = /^(gate|events|secret-env|timeout|retries)(=|$)/;

/**
 * `name=url[,gate][,events=pre-step+rollback][,secret-env=VAR][,timeout=5s][,retries=3]`. Commas
 * separate options, so a comma inside the URL is written %2C.
 */
export function parseWebhookFlag(text: string): WebhookInput {
  const m = /^([^=,\s]+)=([^,]+)(?:,(.*))?$/.exec(text.trim());
  if (!m) throw new CliError(`--webhook: expected name=url[,gate][,events=...][,secret-env=VAR], got '${text}'`, EXIT.usage);
  const urlPart = m[2];
  const options = m[3] === undefined ? [] : m[3].split(',');
  const hook: WebhookInput = { name: m[1], url: urlPart };
  for (const option of options) {
    const [key, ...rest] = option.split('=');
    const value = rest.join('=');
    if (!WEBHOOK_OPTION.test(option)) {
      throw new CliError(`--webhook ${hook.name}: unknown option '${option}' (options: gate, events=, secret-env=, timeout=, retries=; write a comma inside the URL as %2C)`, EXIT.usage);
    }
    if (key === 'gate') {
      if (value !== '' && value !== 'true') throw new CliError(`--webhook ${hook.name}: write gate, not '${option}'`, EXIT.usage);
      hook.gate = true;
    } else if (key === 'events') {
      const events = value.split(/[+|]/).filter(Boolean);
      const bad = events.find((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
      if (bad !== undefined || events.length === 0) {
        throw new CliError(`--webhook ${hook.name}: events are ${WEBHOOK_EVENTS.join(', ')} joined with +, got '${value}'`, EXIT.usage);
      }
      hook.events = events as WebhookEvent[];
    } else if (key === 'secret-env') hook.secretEnv = value;
    else if (key === 'timeout') hook.timeoutMs = usage(() => parseInterval(value, `--webhook ${hook.name} timeout`));
    else hook.retries = number(value, `--webhook ${hook.name} retries`, 'a whole number from 0');
  }
  return hook;
}

// ------------------------------------------------------------------ status

/** Without an id, --watch and --wait-for follow the one active rollout: its id, or a usage error that says why not. */
export async function theActiveRollout(client: Pick<AdminClient, 'get'>): Promise<string> {
  const { rollouts } = await client.get<{ rollouts: RolloutView[] }>('/api/v1/rollouts');
  const active = rollouts.filter((r) => ACTIVE.has(r.state));
  if (active.length === 1) return active[0].id;
  if (active.length === 0) throw new CliError('no rollout is running or paused, so there is none to follow; give a rollout id or a route (`banyan rollout status` lists them)', EXIT.usage);
  throw new CliError(`${active.length} rollouts are active; say which one to follow (an id or a route):\n${rolloutTable(active)}`.trimEnd(), EXIT.usage);
}

async function listRollouts(client: AdminClient, format: string): Promise<void> {
  const { rollouts } = await client.get<{ rollouts: RolloutView[] }>('/api/v1/rollouts');
  if (printStructured({ rollouts }, format)) return;
  if (rollouts.length === 0) return void process.stdout.write('no rollouts\n');
  process.stdout.write(rolloutTable(rollouts));
}

function rolloutTable(rollouts: RolloutView[]): string {
  const rows = rollouts.map((r) => [r.id, r.route, r.toBackend, paint(r.state), `${r.percent}%`, `${r.currentStep + 1}/${r.steps.length}`, next(r), ownerText(r)]);
  return table(['ID', 'ROUTE', 'TO', 'STATE', 'PERCENT', 'STEP', 'NEXT STEP', 'OWNER'], rows);
}

/**
 * Polls until the awaited state (exit 0), another terminal state (exit 1) or the deadline (exit 6).
 * A server that is briefly unreachable (a control-plane restart) is retried until the deadline.
 * Once a rollout ends the server no longer reports its proxies: the last screen shows what each proxy
 * had ACKed when last seen.
 */
async function follow(
  client: AdminClient,
  path: string,
  o: { waitFor?: string; watch: boolean; format: string; pollMs: number; deadline: number },
): Promise<number> {
  let last = '';
  let lastProxies: LastSeenProxies | undefined;
  const structured = o.format !== 'table';
  const text = (view: RolloutView) =>
    o.format === 'json' ? JSON.stringify(view) + '\n' : o.format === 'yaml' ? `---\n${yamlText(view)}` : render(view, { lastProxies });
  for (;;) {
    let view: RolloutView | undefined;
    try {
      view = await client.get<RolloutView>(path);
    } catch (err) {
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || Date.now() > o.deadline) throw err;
    }
    if (view?.proxies) lastProxies = { percent: view.percent, proxies: view.proxies };
    if (view && o.watch) {
      const shown = text(view);
      const key = structured ? shown : shown.replace(/^next step.*$/m, '');
      if (process.stdout.isTTY && !structured) process.stdout.write('\x1b[2J\x1b[H' + shown);
      else if (key !== last) process.stdout.write(shown + (structured ? '' : '\n'));
      last = key;
    }
    if (view && o.waitFor && view.state === o.waitFor) {
      if (!o.watch) process.stdout.write(text(view));
      return EXIT.ok;
    }
    if (view && TERMINAL.has(view.state)) {
      if (!o.waitFor) return EXIT.ok;
      if (!o.watch) process.stdout.write(text(view));
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

// ------------------------------------------------------------------ rendering one rollout

export interface LastSeenProxies {
  /** The rollout's percent when the proxies were last reported. */
  percent: number;
  proxies: RolloutProxies;
}

export interface RenderOptions {
  /** For the clock times (applied/synced); default the local zone. */
  timeZone?: string;
  now?: number;
  /** Shown when the view has no proxies (an ended rollout): what each proxy had ACKed when last seen. */
  lastProxies?: LastSeenProxies;
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
  if (r.nextStepInMs === null || r.nextStepInMs === undefined) {
    // A step still syncing has no countdown yet: it bakes a full interval once every proxy has ACKed it.
    const last = r.currentStep >= r.steps.length - 1;
    if (ACTIVE.has(r.state) && r.phase === 'syncing') return `${last ? 'completes once' : `${duration(r.intervalMs)} after`} every proxy has ACKed${r.state === 'paused' ? ' (paused)' : ''}`;
    return '-';
  }
  // due, but a step advances only after a passing analysis run (and open gates)
  if (r.state === 'running' && r.nextStepInMs === 0 && r.phase === 'gating') return 'due: asking the gates';
  if (r.state === 'running' && r.nextStepInMs === 0 && r.analysis) {
    const runs = r.log?.[r.log.length - 1]?.analysis ?? [];
    if (runs.at(-1)?.passed !== true) return 'due: waiting for a passing analysis run';
  }
  const text = duration(Math.ceil(r.nextStepInMs / 1000) * 1000);
  return r.state === 'paused' ? `${text} left (paused)` : `in ${text}`;
}

function ownerText(r: Rollout): string {
  return r.owner?.kind === 'file' ? `file: ${r.owner.spec}` : 'cli';
}

const count = (n: number) => n.toLocaleString('en-US');
const num = (n: number) => String(Math.round(n * 100) / 100);

/** A clock time (HH:MM:SS), with the date when it is not today's. */
function clock(ms: number, o: RenderOptions): string {
  const zone = o.timeZone ? { timeZone: o.timeZone } : {};
  const time = new Date(ms).toLocaleTimeString('en-GB', { hour12: false, ...zone });
  const day = (t: number) => new Date(t).toLocaleDateString('en-CA', zone);
  return day(ms) === day(o.now ?? Date.now()) ? time : `${day(ms)} ${time}`;
}

function valueText(metric: AnalysisCheck['metric'] | undefined, v: number | null | undefined): string {
  if (v === null || v === undefined) return 'no value';
  if (metric === 'success-rate') return `${num(v)}%`;
  if (metric === 'latency') return `${num(v)}ms`;
  if (metric === 'requests') return count(v);
  return num(v);
}

const mark = (passed: boolean | null) => (passed === true ? color.green('✔') : passed === false ? color.red('✖') : color.yellow('?'));

/** `success 99.8% (1,204 req) p99 120ms`: the step's latest run at a glance. */
function runSummary(run: AnalysisRun, checks: Map<string, AnalysisCheck>): string {
  const of = (metric: AnalysisCheck['metric']) => run.results.filter((x) => checks.get(x.check)?.metric === metric && x.value !== null);
  const parts: string[] = [];
  const success = of('success-rate')[0];
  const requests = of('requests')[0];
  if (success) parts.push(`success ${num(success.value!)}% (${count(success.samples)} req)`);
  else if (requests) parts.push(`${count(requests.value!)} req`);
  for (const l of of('latency')) parts.push(`p${num(checks.get(l.check)!.percentile ?? ROLLOUT_DEFAULTS.percentile)} ${num(l.value!)}ms`);
  return parts.join(' ');
}

function resultLine(x: CheckResult, checks: Map<string, AnalysisCheck>): string {
  const metric = checks.get(x.check)?.metric;
  const baseline = x.baseline !== undefined ? ` vs baseline ${valueText(metric, x.baseline)}` : '';
  const samples = x.samples > 0 && metric !== 'requests' ? `, ${count(x.samples)} req` : '';
  return `      ${mark(x.passed)} ${x.check}: ${valueText(metric, x.value)}${baseline} (needs ${x.threshold}${samples})${x.detail ? ` — ${x.detail}` : ''}`;
}

/** What the current step of an active rollout is doing. */
function currentText(r: RolloutView): string {
  if (r.state === 'paused') {
    const h = r.hold;
    return h ? `paused: ${h.message}${h.auto ? ' (lifts by itself)' : ' (resume to continue)'}` : 'paused';
  }
  const failures = r.analysis && r.failures ? `, ${r.failures} of ${r.analysis.failureLimit} runs failed` : '';
  if (r.phase === 'syncing') return `syncing: waiting for every proxy to ACK${failures}`;
  if (r.phase === 'gating') return `waiting for ${r.webhooks?.filter((w) => w.gate).map((w) => w.name).join(', ') || 'the gates'} to open`;
  if (r.phase === 'baking') return `baking${failures}`;
  return failures.replace(/^, /, '');
}

function stepMarker(r: RolloutView, i: number, rec: StepRecord | undefined): { marker: string; note: string } {
  const failed = rec?.outcome === 'failed' || rec?.outcome === 'aborted';
  // A step before the current one that the log does not hold was jumped over (promote --full); records without a log never say.
  if (i < r.currentStep) return r.log && !rec ? { marker: color.dim('·'), note: 'skipped' } : { marker: failed ? color.red('✖') : color.green('✔'), note: '' };
  if (i > r.currentStep) return { marker: color.dim('·'), note: r.state === 'completed' ? 'skipped' : '' };
  switch (r.state) {
    case 'running':
      return { marker: color.green('▶'), note: currentText(r) };
    case 'paused':
      return { marker: color.yellow('⏸'), note: currentText(r) };
    case 'completed':
      return { marker: color.green('✔'), note: '' };
    case 'aborted':
    case 'rolled-back':
      return { marker: color.red('✖'), note: r.state };
    default:
      return { marker: failed ? color.red('✖') : color.green('✔'), note: '' };
  }
}

function stepLines(r: RolloutView, o: RenderOptions): string[] {
  const checks = new Map((r.analysis?.checks ?? []).map((c) => [c.name, c]));
  const width = Math.max(...r.steps.map((p) => `${p}%`.length), `${r.percent}%`.length);
  const lines: string[] = [];
  r.steps.forEach((stepPercent, i) => {
    const rec = r.log?.filter((l) => l.step === i).at(-1);
    const percent = rec?.percent ?? (i === r.currentStep ? r.percent : stepPercent);
    const { marker, note } = stepMarker(r, i, rec);
    const run = rec?.analysis.at(-1);
    const parts = [
      `${marker} ${`${percent}%`.padEnd(width)}`,
      rec ? `applied ${clock(rec.appliedAt, o)}` : '',
      rec?.syncedAt !== undefined ? `synced ${clock(rec.syncedAt, o)}` : '',
      run ? runSummary(run, checks) : '',
      note,
    ].filter(Boolean);
    lines.push(`  ${parts.join('  ')}`.trimEnd());
    if (run) lines.push(...run.results.map((x) => resultLine(x, checks)));
  });
  return lines;
}

function proxyLines(p: RolloutProxies, lastSeen?: number): string[] {
  const total = p.accepted.length + p.pending.length;
  const when = lastSeen === undefined ? '' : `when last seen, at ${lastSeen}%: `;
  const lines = [`proxies    ${when}${p.accepted.length}/${total} accepted these weights${p.weightsServed ? '' : ' (not served yet)'}${p.detail ? ` — ${p.detail}` : ''}`];
  if (p.accepted.length) lines.push(`  ${color.green('accepted')}: ${p.accepted.join(', ')}`);
  for (const x of p.pending) lines.push(`  ${color.yellow('pending')}:  ${x.nodeId}${x.replica ? ` via ${x.replica}` : ''} (${x.state}${x.error ? `: ${x.error}` : ''})`);
  return lines;
}

/** `monolith=90% auth-v2=10%`, in the order given. */
const shareText = (p: Record<string, number>) => Object.entries(p).map(([c, x]) => `${c}=${x}%`).join(' ');

/** The same split: the same backends with the same shares, whatever the order; a backend at 0% is no backend. */
function sameSplit(a: Record<string, number>, b: Record<string, number>): boolean {
  const norm = (p: Record<string, number>) => JSON.stringify(Object.entries(p).filter(([, x]) => x > 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return norm(a) === norm(b);
}

/** What this replica serves on the route, as percentages; undefined from a server that does not say (the rollout's weights are all there is). */
function servedShares(r: RolloutView): Record<string, number> | undefined {
  if (r.servedPercentages) return r.servedPercentages;
  if (!r.served) return undefined;
  const total = r.served.reduce((s, w) => s + w.weight, 0);
  return Object.fromEntries(r.served.map((w) => [w.cluster, total === 0 ? 0 : Math.round((w.weight * 1000) / total) / 10]));
}

/**
 * The weights lines: what is served on the route now, and when the rollout wants something else (a
 * step still being applied, a YAML edit that replaced its weights) a second line saying what.
 */
function weightLines(r: RolloutView): string[] {
  const served = servedShares(r);
  if (served === undefined) return [`weights    ${shareText(r.percentages)}`];
  const servedLine = Object.keys(served).length ? `weights    ${shareText(served)}` : 'weights    none: this replica serves no backends on the route';
  return sameSplit(served, r.percentages) ? [servedLine] : [servedLine, `           rollout wants ${shareText(r.percentages)}`];
}

/** One rollout for people: header, weights, the step list with each step's latest analysis, proxies, and how it ended. Pure. */
export function render(r: RolloutView, o: RenderOptions = {}): string {
  const lines = [`rollout ${r.id}  ${r.route} → ${r.toBackend}  ${paint(r.state)}  owner ${ownerText(r)}`, ...weightLines(r)];
  const ended = TERMINAL.has(r.state);
  if (!ended) lines.push(`next step  ${next(r)}`);
  lines.push(`steps      every ${duration(r.intervalMs)}${r.ackTimeoutMs !== undefined ? `, proxies ACK within ${duration(r.ackTimeoutMs)}` : ''}`);
  lines.push(...stepLines(r, o));
  if (r.analysis) {
    const a = r.analysis;
    const sources = [...new Set(a.checks.map((c) => (c.source === 'prometheus' ? 'Prometheus' : "Banyan's load reports")))].join(' and ');
    lines.push(`analysis   every ${duration(a.intervalMs)} from ${sources}; ${a.failureLimit} failed run${a.failureLimit === 1 ? '' : 's'} in a step → ${a.onFailure}`);
  }
  if (r.webhooks?.length) {
    lines.push(`webhooks   ${r.webhooks.map((w) => `${w.name} (${w.gate ? 'gate, ' : ''}${w.events.join(', ')})`).join('; ')}`);
  }
  if (r.proxies) lines.push(...proxyLines(r.proxies));
  else if (o.lastProxies) lines.push(...proxyLines(o.lastProxies.proxies, o.lastProxies.percent));
  if (ended) lines.push(`ended      ${paint(r.state)} at ${clock(r.updatedAt, o)}${r.endReason ? `: ${r.endReason}` : ''}`);
  return lines.join('\n') + '\n';
}
