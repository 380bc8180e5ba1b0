import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutOperations, RolloutStatus, StartRollout } from '../../src/admin/operations.js';
import { Router } from '../../src/admin/router.js';
import { mountRolloutRoutes } from '../../src/admin/routes/rollouts.js';
import { CliError, EXIT } from '../../src/cli/admin-client.js';
import { parseWebhookFlag, render, startBody, theActiveRollout, type RolloutView, type StartFlags } from '../../src/cli/commands/rollout.js';
import { yamlText } from '../../src/cli/output.js';
import { RolloutError } from '../../src/rollout/errors.js';
import type { AnalysisRun, Rollout, RolloutHold } from '../../src/store/types.js';

process.env.NO_COLOR = '1';

const T0 = Date.UTC(2024, 4, 1, 10, 0, 1); // 10:00:01 UTC
const s = (n: number) => n * 1000;
const UTC = { timeZone: 'UTC', now: T0 };

const ANALYSIS = {
  intervalMs: 60_000,
  failureLimit: 2,
  onFailure: 'rollback' as const,
  checks: [
    { name: 'success-rate ≥ 99%', metric: 'success-rate' as const, min: 99, source: 'banyan' as const },
    { name: 'p99 latency ≤ 500ms', metric: 'latency' as const, max: 500, percentile: 99, source: 'banyan' as const },
  ],
};

function run(at: number, successRate: number | null, p99: number | null, requests = 1204, passed: boolean | null = true): AnalysisRun {
  return {
    at,
    from: at - 60_000,
    to: at,
    passed,
    results: [
      { check: 'success-rate ≥ 99%', passed: successRate === null ? null : successRate >= 99, value: successRate, threshold: '≥ 99%', samples: requests },
      { check: 'p99 latency ≤ 500ms', passed: p99 === null ? null : p99 <= 500, value: p99, threshold: '≤ 500ms', samples: requests },
    ],
  };
}

/** A running rollout at its second step (10 %), with analysis, CLI-owned; `over` changes any field. */
function view(over: Partial<RolloutView> = {}): RolloutView {
  return {
    id: 'r-1',
    route: 'auth-login',
    fromBackends: [{ cluster: 'monolith', weight: 100 }],
    startOverride: null,
    baseHash: 'h',
    toBackend: 'auth-v2',
    steps: [5, 10, 25, 50, 100],
    intervalMs: 600_000,
    currentStep: 1,
    percent: 10,
    state: 'running',
    nextStepAt: T0 + s(1000),
    pausedRemainingMs: null,
    startedBy: 'ana',
    createdAt: T0,
    updatedAt: T0 + s(700),
    revision: 4,
    owner: { kind: 'cli' },
    ackTimeoutMs: 120_000,
    analysis: ANALYSIS,
    webhooks: [],
    phase: 'baking',
    hold: null,
    failures: 0,
    log: [
      { step: 0, percent: 5, appliedAt: T0, syncedAt: T0 + s(1), analysis: [run(T0 + s(600), 99.8, 120)], outcome: 'passed' },
      { step: 1, percent: 10, appliedAt: T0 + s(601), syncedAt: T0 + s(603), analysis: [] },
    ],
    percentages: { monolith: 90, 'auth-v2': 10 },
    nextStepInMs: 270_000,
    proxies: { weightsServed: true, synced: true, accepted: ['edge-1', 'edge-2'], pending: [] },
    ...over,
  };
}

const lines = (text: string) => text.trimEnd().split('\n');

describe('render: one rollout for people', () => {
  it('a running rollout: header, weights, every step with its latest analysis, proxies', () => {
    expect(render(view(), UTC)).toBe(
      [
        'rollout r-1  auth-login → auth-v2  running  owner cli',
        'weights    monolith=90% auth-v2=10%',
        'next step  in 4m30s',
        'steps      every 10m, proxies ACK within 2m',
        '  ✔ 5%    applied 10:00:01  synced 10:00:02  success 99.8% (1,204 req) p99 120ms',
        '      ✔ success-rate ≥ 99%: 99.8% (needs ≥ 99%, 1,204 req)',
        '      ✔ p99 latency ≤ 500ms: 120ms (needs ≤ 500ms, 1,204 req)',
        '  ▶ 10%   applied 10:10:02  synced 10:10:04  baking',
        '  · 25%',
        '  · 50%',
        '  · 100%',
        "analysis   every 1m from Banyan's load reports; 2 failed runs in a step → rollback",
        'proxies    2/2 accepted these weights',
        '  accepted: edge-1, edge-2',
        '',
      ].join('\n'),
    );
  });

  it.each<[RolloutHold['kind'], string, boolean]>([
    ['operator', 'paused by an operator', false],
    ['nack', 'edge-2 rejected the weights: unknown cluster', true],
    ['sync-timeout', 'edge-2 has not ACKed within 2m', true],
    ['analysis', 'analysis failed 2 times: success-rate 97.1%', false],
    ['gate', 'gate approve answered 403: not yet', true],
  ])('a rollout paused by a %s hold says why on its current step', (kind, message, auto) => {
    const out = render(view({ state: 'paused', nextStepInMs: 90_000, hold: { kind, message, since: T0 + s(650), auto } }), UTC);
    expect(lines(out)[0]).toBe('rollout r-1  auth-login → auth-v2  paused  owner cli');
    expect(out).toContain('next step  1m30s left (paused)\n');
    expect(out).toContain(`\n  ⏸ 10%   applied 10:10:02  synced 10:10:04  paused: ${message} (${auto ? 'lifts by itself' : 'resume to continue'})\n`);
    expect(out).not.toContain('▶');
  });

  it('the phases of a running step: syncing, baking with failed runs, waiting on gates', () => {
    expect(render(view({ phase: 'syncing' }), UTC)).toContain('  ▶ 10%   applied 10:10:02  synced 10:10:04  syncing: waiting for every proxy to ACK\n');
    // No countdown while syncing: the step bakes a full interval once every proxy has ACKed it.
    expect(render(view({ phase: 'syncing', nextStepInMs: null }), UTC)).toContain('\nnext step  10m after every proxy has ACKed\n');
    expect(render(view({ phase: 'syncing', state: 'paused', nextStepInMs: null }), UTC)).toContain('\nnext step  10m after every proxy has ACKed (paused)\n');
    expect(render(view({ phase: 'syncing', nextStepInMs: null, currentStep: 4, percent: 100 }), UTC)).toContain('\nnext step  completes once every proxy has ACKed\n');
    expect(render(view({ phase: 'baking', nextStepInMs: null }), UTC)).toContain('\nnext step  -\n');
    expect(render(view({ failures: 1 }), UTC)).toContain('  baking, 1 of 2 runs failed\n');
    const gated = view({ phase: 'gating', webhooks: [{ name: 'approve', url: 'https://h', events: ['pre-step'], gate: true, timeoutMs: 5000, retries: 3 }] });
    expect(render(gated, UTC)).toContain('  waiting for approve to open\n');
    expect(render(gated, UTC)).toContain('webhooks   approve (gate, pre-step)\n');
  });

  it('failed, inconclusive and baseline results: ✖, ? with the reason, the baseline next to the value', () => {
    const checks = [
      ...ANALYSIS.checks,
      { name: 'success-rate ≤ 1 point below baseline', metric: 'success-rate' as const, max: 1, vsBaseline: true, source: 'prometheus' as const },
      { name: 'requests ≥ 100', metric: 'requests' as const, min: 100, source: 'banyan' as const },
    ];
    const latest: AnalysisRun = {
      at: T0 + s(660),
      from: T0 + s(600),
      to: T0 + s(660),
      passed: false,
      results: [
        { check: 'success-rate ≥ 99%', passed: false, value: 97.1, threshold: '≥ 99%', samples: 812 },
        { check: 'p99 latency ≤ 500ms', passed: null, value: null, threshold: '≤ 500ms', samples: 0, detail: 'no Prometheus source configured' },
        { check: 'success-rate ≤ 1 point below baseline', passed: false, value: 97.1, baseline: 99.6, threshold: 'below baseline ≤ 1 points', samples: 812 },
        { check: 'requests ≥ 100', passed: true, value: 812, threshold: '≥ 100', samples: 812 },
      ],
    };
    const r = view({ analysis: { ...ANALYSIS, checks }, failures: 1 });
    r.log![1].analysis = [run(T0 + s(630), 99.9, 110), latest];
    const out = lines(render(r, UTC));
    const at = out.indexOf('  ▶ 10%   applied 10:10:02  synced 10:10:04  success 97.1% (812 req)  baking, 1 of 2 runs failed');
    expect(at).toBeGreaterThan(0);
    expect(out.slice(at + 1, at + 5)).toEqual([
      '      ✖ success-rate ≥ 99%: 97.1% (needs ≥ 99%, 812 req)',
      '      ? p99 latency ≤ 500ms: no value (needs ≤ 500ms) — no Prometheus source configured',
      '      ✖ success-rate ≤ 1 point below baseline: 97.1% vs baseline 99.6% (needs below baseline ≤ 1 points, 812 req)',
      '      ✔ requests ≥ 100: 812 (needs ≥ 100)',
    ]);
    expect(out).toContain("analysis   every 1m from Banyan's load reports and Prometheus; 2 failed runs in a step → rollback");
  });

  it('rolled back by analysis: ✖ on the failed step, later steps not taken, how it ended, no next step', () => {
    const r = view({
      state: 'rolled-back',
      nextStepAt: null,
      nextStepInMs: null,
      proxies: null,
      percentages: { monolith: 100, 'auth-v2': 0 },
      endReason: 'analysis failed 2 runs in a row at 10%: success-rate ≥ 99% was 97.1%',
      updatedAt: T0 + s(720),
    });
    r.log![1] = { ...r.log![1], analysis: [run(T0 + s(720), 97.1, 130, 812, false)], outcome: 'failed' };
    const out = render(r, UTC);
    expect(lines(out)[0]).toBe('rollout r-1  auth-login → auth-v2  rolled-back  owner cli');
    expect(out).not.toContain('next step');
    expect(out).toContain('\n  ✔ 5%    applied 10:00:01');
    expect(out).toContain('\n  ✖ 10%   applied 10:10:02  synced 10:10:04  success 97.1% (812 req) p99 130ms  rolled-back\n      ✖ success-rate ≥ 99%: 97.1% (needs ≥ 99%, 812 req)\n');
    expect(out).toContain('\n  · 25%\n');
    expect(lines(out).at(-1)).toBe('ended      rolled-back at 10:12:01: analysis failed 2 runs in a row at 10%: success-rate ≥ 99% was 97.1%');
  });

  it('aborted by a YAML edit: ✖ on the step it stopped at, and the reason', () => {
    const out = render(view({ state: 'aborted', proxies: null, nextStepInMs: null, endReason: "the YAML changed route 'auth-login''s backends" }), UTC);
    expect(out).toContain('\n  ✖ 10%   applied 10:10:02  synced 10:10:04  aborted\n');
    expect(lines(out).at(-1)).toBe("ended      aborted at 10:11:41: the YAML changed route 'auth-login''s backends");
  });

  it('completed: every step ✔, and the last screen of --watch keeps what each proxy ACKed when last seen', () => {
    const r = view({
      state: 'completed',
      currentStep: 4,
      percent: 100,
      nextStepAt: null,
      nextStepInMs: null,
      proxies: null,
      percentages: { monolith: 0, 'auth-v2': 100 },
      log: [5, 10, 25, 50, 100].map((percent, step) => ({ step, percent, appliedAt: T0 + s(600 * step), syncedAt: T0 + s(600 * step + 2), analysis: [] })),
      updatedAt: T0 + s(2402),
    });
    const out = render(r, { ...UTC, lastProxies: { percent: 100, proxies: { weightsServed: true, accepted: ['edge-1'], pending: [{ nodeId: 'edge-2', state: 'NACKED', error: 'unknown cluster auth-v2' }] } } });
    expect(out.match(/✔/g)).toHaveLength(5);
    expect(out).toContain('\n  ✔ 100%  applied 10:40:01  synced 10:40:03\n');
    expect(out).toContain('\nproxies    when last seen, at 100%: 1/2 accepted these weights\n  accepted: edge-1\n  pending:  edge-2 (NACKED: unknown cluster auth-v2)\n');
    expect(lines(out).at(-1)).toBe('ended      completed at 10:40:03');
    // Without what was last seen (a single status call), there is no proxies line to invent.
    expect(render(r, UTC)).not.toMatch(/^proxies/m);
  });

  it('completed early (promote --full): the steps it jumped over are skipped', () => {
    const r = view({ state: 'completed', currentStep: 4, percent: 100, proxies: null, nextStepInMs: null });
    r.log![1].outcome = 'passed';
    r.log!.push({ step: 4, percent: 100, appliedAt: T0 + s(700), syncedAt: T0 + s(701), analysis: [] });
    expect(render(r, UTC)).toContain('\n  ✔ 10%   applied 10:10:02  synced 10:10:04\n  · 25%   skipped\n  · 50%   skipped\n  ✔ 100%  applied 10:11:41  synced 10:11:42\n');
  });

  it('undone after completing: its steps stay ✔, the state says undone', () => {
    const out = render(view({ state: 'undone', proxies: null, nextStepInMs: null, percentages: { monolith: 100, 'auth-v2': 0 } }), UTC);
    expect(lines(out)[0]).toBe('rollout r-1  auth-login → auth-v2  undone  owner cli');
    expect(out).toContain('\n  ✔ 10%   applied 10:10:02');
    expect(lines(out).at(-1)).toBe('ended      undone at 10:11:41');
  });

  it('pending proxies with their state, replica and NACK error; weights not served yet', () => {
    const out = render(
      view({
        proxies: {
          weightsServed: false,
          accepted: ['edge-1'],
          pending: [
            { nodeId: 'edge-2', replica: 'banyan-b', state: 'NACKED', error: "route 'auth-login': unknown cluster" },
            { nodeId: 'edge-3', state: 'STALE' },
          ],
          detail: 'replica banyan-b still applies the change',
        },
      }),
      UTC,
    );
    expect(out).toContain(
      "\nproxies    1/3 accepted these weights (not served yet) — replica banyan-b still applies the change\n  accepted: edge-1\n  pending:  edge-2 via banyan-b (NACKED: route 'auth-login': unknown cluster)\n  pending:  edge-3 (STALE)\n",
    );
  });

  it('the weights line is what is served; what the rollout wants follows only when it differs', () => {
    // A step still being applied: this replica serves the previous step.
    const applying = render(view({ served: [{ cluster: 'monolith', weight: 95 }, { cluster: 'auth-v2', weight: 5 }], servedPercentages: { monolith: 95, 'auth-v2': 5 } }), UTC);
    expect(lines(applying).slice(1, 4)).toEqual(['weights    monolith=95% auth-v2=5%', '           rollout wants monolith=90% auth-v2=10%', 'next step  in 4m30s']);

    // The same split, in another order or with a backend at 0%, is one line.
    const same = view({ served: [{ cluster: 'auth-v2', weight: 1 }, { cluster: 'monolith', weight: 9 }], servedPercentages: { 'auth-v2': 10, monolith: 90 } });
    expect(lines(render(same, UTC)).slice(1, 3)).toEqual(['weights    auth-v2=10% monolith=90%', 'next step  in 4m30s']);
    const zero = view({ percentages: { monolith: 100, 'auth-v2': 0 }, served: [{ cluster: 'monolith', weight: 100 }], servedPercentages: { monolith: 100 } });
    expect(render(zero, UTC)).not.toContain('rollout wants');

    // Aborted, then a YAML edit replaced the weights it restored: served is the YAML's, the rollout still wants its start.
    const superseded = render(
      view({ state: 'aborted', proxies: null, nextStepInMs: null, percentages: { monolith: 100, 'auth-v2': 0 }, served: [{ cluster: 'monolith', weight: 50 }, { cluster: 'auth-v3', weight: 50 }], servedPercentages: { monolith: 50, 'auth-v3': 50 } }),
      UTC,
    );
    expect(lines(superseded).slice(1, 3)).toEqual(['weights    monolith=50% auth-v3=50%', '           rollout wants monolith=100% auth-v2=0%']);

    // Only `served` (no servedPercentages): the shares are worked out from the weights.
    expect(lines(render(view({ served: [{ cluster: 'monolith', weight: 3 }, { cluster: 'auth-v2', weight: 1 }] }), UTC)).slice(1, 3)).toEqual([
      'weights    monolith=75% auth-v2=25%',
      '           rollout wants monolith=90% auth-v2=10%',
    ]);
    // The route no longer forwards anywhere on this replica.
    expect(lines(render(view({ served: [], servedPercentages: {} }), UTC)).slice(1, 3)).toEqual([
      'weights    none: this replica serves no backends on the route',
      '           rollout wants monolith=90% auth-v2=10%',
    ]);
  });

  it('a record stored by an older Banyan (no owner, log, phase, hold or analysis) renders what is there', () => {
    const old = view();
    for (const k of ['owner', 'ackTimeoutMs', 'analysis', 'webhooks', 'phase', 'hold', 'failures', 'log'] as const) delete old[k];
    const out = render({ ...old, state: 'paused', nextStepInMs: 30_000 }, UTC);
    expect(lines(out)).toEqual([
      'rollout r-1  auth-login → auth-v2  paused  owner cli',
      'weights    monolith=90% auth-v2=10%',
      'next step  30s left (paused)',
      'steps      every 10m',
      '  ✔ 5%',
      '  ⏸ 10%   paused',
      '  · 25%',
      '  · 50%',
      '  · 100%',
      'proxies    2/2 accepted these weights',
      '  accepted: edge-1, edge-2',
    ]);
  });

  it('a rollout owned by a file says which entry', () => {
    expect(lines(render(view({ owner: { kind: 'file', spec: 'auth-login-v2', specHash: 'abc' } }), UTC))[0]).toBe('rollout r-1  auth-login → auth-v2  running  owner file: auth-login-v2');
  });

  it('clock times carry the date when they are not today', () => {
    expect(render(view(), { timeZone: 'UTC', now: T0 + 86_400_000 })).toContain('applied 2024-05-01 10:00:01');
  });

  it('-o yaml prints the same data as -o json', () => {
    const v = view();
    expect(yamlText(v)).toContain('route: auth-login\n');
    expect(yamlText(v)).toContain('  - name: success-rate ≥ 99%\n');
  });
});

// ------------------------------------------------------------------ rollout start: flags → body

const flags = (over: Partial<StartFlags> = {}): StartFlags => ({ to: 'auth-v2', steps: '5,10,25,50,100', interval: '10m', ...over });

/** The CliError a call throws (its message and exit code), or fails. */
function cliError(fn: () => unknown): { message: string; exitCode: number } {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
    throw err;
  }
  throw new Error('expected a CliError');
}

describe('rollout start: flags → POST body', () => {
  it('plain steps: every default filled in, no analysis', () => {
    expect(startBody('auth-login', flags(), 'ana')).toEqual({
      route: 'auth-login',
      to: 'auth-v2',
      steps: [5, 10, 25, 50, 100],
      interval: 600_000,
      author: 'ana',
      allowDecrease: false,
      ackTimeoutMs: 120_000,
      webhooks: [],
    });
    expect(startBody('r', flags({ steps: undefined, step: 30, max: 80, allowDecrease: true, ackTimeout: '45s' }), 'ana')).toMatchObject({
      steps: [30, 60, 80],
      allowDecrease: true,
      ackTimeoutMs: 45_000,
    });
  });

  it('analysis flags make the model checks, with the analysis defaults', () => {
    const body = startBody('r', flags({ minSuccessRate: '99.5%', maxLatency: ['p99=500ms,p95=300ms', '1s'], minRequests: '100' }), 'ana');
    expect(body.analysis).toEqual({
      intervalMs: 600_000,
      failureLimit: 2,
      onFailure: 'rollback',
      checks: [
        { name: 'success-rate ≥ 99.5%', metric: 'success-rate', min: 99.5, source: 'banyan' },
        { name: 'p99 latency ≤ 500ms', metric: 'latency', percentile: 99, max: 500, source: 'banyan' },
        { name: 'p95 latency ≤ 300ms', metric: 'latency', percentile: 95, max: 300, source: 'banyan' },
        { name: 'p99 latency ≤ 1s', metric: 'latency', percentile: 99, max: 1000, source: 'banyan' },
        { name: 'requests ≥ 100', metric: 'requests', min: 100, source: 'banyan' },
      ],
    });
  });

  it('--vs-baseline, --prometheus, --analysis-interval, --failure-limit, --on-failure', () => {
    const body = startBody(
      'r',
      flags({ minSuccessRate: '1', maxLatency: ['p95=50ms'], minRequests: '10', vsBaseline: true, prometheus: true, analysisInterval: '1m', failureLimit: '3', onFailure: 'pause' }),
      'ana',
    );
    expect(body.analysis).toEqual({
      intervalMs: 60_000,
      failureLimit: 3,
      onFailure: 'pause',
      checks: [
        { name: 'success-rate ≤ 1 point below baseline', metric: 'success-rate', max: 1, vsBaseline: true, source: 'prometheus' },
        { name: 'p95 latency ≤ 50ms above baseline', metric: 'latency', percentile: 95, max: 50, vsBaseline: true, source: 'prometheus' },
        { name: 'requests ≥ 10', metric: 'requests', min: 10, source: 'prometheus' },
      ],
    });
  });

  it('--webhook: name=url with gate, events, secret-env, timeout and retries', () => {
    const body = startBody(
      'r',
      flags({ webhook: ['approve=https://ci.example.com/hook?a=1,gate,secret-env=BANYAN_HOOK_SECRET', 'chat=http://chat.local/x,events=promotion+rollback,timeout=2s,retries=0'] }),
      'ana',
    );
    expect(body.webhooks).toEqual([
      { name: 'approve', url: 'https://ci.example.com/hook?a=1', events: ['pre-step'], gate: true, secretEnv: 'BANYAN_HOOK_SECRET', timeoutMs: 5000, retries: 3 },
      { name: 'chat', url: 'http://chat.local/x', events: ['promotion', 'rollback'], gate: false, timeoutMs: 2000, retries: 0 },
    ]);
    expect(parseWebhookFlag('n=http://x/a%2Cb')).toEqual({ name: 'n', url: 'http://x/a%2Cb' });
  });

  it.each<[string, Partial<StartFlags>, string]>([
    ['no steps', { steps: undefined }, 'give either --steps LIST or --step N [--max M]'],
    ['steps that go down', { steps: '50,20' }, 'steps must increase: 50 is followed by 20'],
    ['a bad --ack-timeout', { ackTimeout: '2' }, "--ack-timeout '2' is not a duration (e.g. 30s, 10m, 1h30m)"],
    ['a success rate that is no number', { minSuccessRate: 'high' }, "--min-success-rate: 'high' is not a number (expected a percentage, e.g. 99 or 99.5)"],
    ['a success rate over 100', { minSuccessRate: '120' }, '--min-success-rate: a success rate is a percentage: "min" must be from 0 to 100, got 120'],
    ['a percentile of 100', { maxLatency: ['p100=1s'] }, '--max-latency: percentile must be above 0 and below 100 (e.g. 50, 99, 99.9), got 100'],
    ['a latency without a unit', { maxLatency: ['p99=500'] }, "--max-latency '500' is not a duration (e.g. 30s, 10m, 1h30m)"],
    ['fractional requests', { minRequests: '1.5' }, '--min-requests: a request count is a whole number: "min" must be a whole number at least 0, got 1.5'],
    ['analysis settings without a check', { failureLimit: '3', prometheus: true }, '--failure-limit, --prometheus configure analysis, which needs a check: give --min-success-rate, --max-latency or --min-requests'],
    ['--vs-baseline with only a request check', { vsBaseline: true, minRequests: '5' }, '--vs-baseline applies to --min-success-rate and --max-latency'],
    ['a failure limit of 0', { minRequests: '5', failureLimit: '0' }, '--failure-limit: failureLimit is how many failed runs in one step are tolerated before onFailure: a whole number from 1, got 0'],
    ['an unknown --on-failure', { minRequests: '5', onFailure: 'retry' }, "--on-failure must be rollback or pause, got 'retry'"],
    ['a gate without pre-step', { webhook: ['ok=https://h.example,gate,events=post-step'] }, '--webhook ok: webhook "ok" is a gate, so its events must include pre-step (a gate holds each step until it answers 2xx); add pre-step or drop gate'],
    ['a webhook URL that is not http(s)', { webhook: ['ok=ftp://h.example'] }, '--webhook ok: webhook url must be an http(s) URL, got "ftp://h.example"'],
    ['an unknown webhook event', { webhook: ['ok=https://h,events=pre-step+after'] }, '--webhook ok: events are pre-step, post-step, promotion, rollback joined with +, got \'pre-step+after\''],
    ['an unknown webhook option', { webhook: ['ok=https://h,gte'] }, "--webhook ok: unknown option 'gte' (options: gate, events=, secret-env=, timeout=, retries=; write a comma inside the URL as %2C)"],
    ['a webhook without a URL', { webhook: ['approve'] }, "--webhook: expected name=url[,gate][,events=...][,secret-env=VAR], got 'approve'"],
    ['two webhooks with one name', { webhook: ['a=http://x', 'a=http://y'] }, '--webhook a: webhook "a" is already the name of webhook 1; give each a distinct name'],
  ])('%s is a usage error naming the flag', (_title, over, message) => {
    expect(cliError(() => startBody('r', flags(over), 'ana'))).toEqual({ message, exitCode: EXIT.usage });
  });
});

// ------------------------------------------------------------------ status without an id

describe('rollout status --watch without an id', () => {
  const client = (states: Rollout['state'][]) => ({
    get: async <T>() => ({ rollouts: states.map((state, i) => view({ id: `r-${i}`, route: `route-${i}`, state })) }) as T,
  });

  it('follows the one active rollout', async () => {
    await expect(theActiveRollout(client(['completed', 'paused', 'aborted']))).resolves.toBe('r-1');
  });

  it('refuses when none is active, and lists them when several are', async () => {
    await expect(theActiveRollout(client(['completed']))).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/^no rollout is running or paused/) });
    const several = await theActiveRollout(client(['running', 'paused'])).catch((e: CliError) => e);
    expect(several).toBeInstanceOf(CliError);
    expect((several as CliError).exitCode).toBe(EXIT.usage);
    expect((several as CliError).message).toMatch(/^2 rollouts are active; say which one to follow \(an id or a route\):\nID\s+ROUTE/);
    expect((several as CliError).message).toMatch(/^r-0\s+route-0\s+auth-v2\s+running/m);
    expect((several as CliError).message).toMatch(/^r-1\s+route-1\s+auth-v2\s+paused/m);
  });
});

// ------------------------------------------------------------------ the admin route, over fake operations

describe('POST /api/v1/rollouts and the idempotent commands (admin route over fake operations)', () => {
  let server: http.Server;
  let base: string;
  const started: StartRollout[] = [];
  const commands: string[] = [];
  let current: Rollout = view();

  let served = [{ cluster: 'monolith', weight: 90 }, { cluster: 'auth-v2', weight: 10 }];
  const status = (r: Rollout): RolloutStatus => ({ rollout: r, weights: [{ cluster: 'monolith', weight: 90 }, { cluster: 'auth-v2', weight: 10 }], served, proxies: null });
  const ops: RolloutOperations = {
    startRollout: async (req) => (started.push(req), status(current)),
    rollouts: async () => [status(current)],
    rollout: async (ref) => {
      if (ref !== current.id && ref !== current.route) throw new RolloutError('not-found', `no rollout '${ref}'`);
      return status(current);
    },
    command: async (ref, command) => {
      if (ref !== current.id && ref !== current.route) throw new RolloutError('not-found', `no active rollout '${ref}' (give a rollout id or a route)`);
      commands.push(command);
      if (command === 'resume' && current.state !== 'paused') throw new RolloutError('bad-state', `cannot resume a ${current.state} rollout`);
      current = { ...current, state: command === 'pause' ? 'paused' : command === 'resume' ? 'running' : current.state };
      return status(current);
    },
  };

  beforeAll(async () => {
    const router = new Router(() => {});
    mountRolloutRoutes(router, ops);
    server = http.createServer((req, res) => void router.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('what the CLI sends is what startRollout receives', async () => {
    const body = startBody('auth-login', flags({ minSuccessRate: '99', webhook: ['approve=https://h.example,gate'], allowDecrease: true }), 'ana');
    started.length = 0;
    expect((await post('/api/v1/rollouts', body)).status).toBe(200);
    expect(started).toEqual([
      {
        route: 'auth-login',
        to: 'auth-v2',
        steps: [5, 10, 25, 50, 100],
        intervalMs: 600_000,
        author: 'ana',
        allowDecrease: true,
        ackTimeoutMs: 120_000,
        analysis: body.analysis,
        webhooks: body.webhooks,
      },
    ]);
  });

  it('a partial body gets the YAML defaults', async () => {
    started.length = 0;
    const res = await post('/api/v1/rollouts', {
      route: 'auth-login',
      to: 'auth-v2',
      steps: [50, 100],
      interval: '5m',
      author: 'ana',
      analysis: { checks: [{ metric: 'latency', max: 250 }] },
      webhooks: [{ name: 'tell', url: 'http://chat.local/x' }],
    });
    expect(res.status).toBe(200);
    expect(started[0]).toMatchObject({
      allowDecrease: false,
      ackTimeoutMs: 120_000,
      analysis: { intervalMs: 300_000, failureLimit: 2, onFailure: 'rollback', checks: [{ name: 'p99 latency ≤ 250ms', metric: 'latency', max: 250, percentile: 99, source: 'banyan' }] },
      webhooks: [{ name: 'tell', url: 'http://chat.local/x', events: ['pre-step', 'post-step', 'promotion', 'rollback'], gate: false, timeoutMs: 5000, retries: 3 }],
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a check with vsBaseline on requests', { analysis: { checks: [{ metric: 'requests', min: 1, vsBaseline: true }] } }, 'analysis.checks.0.vsBaseline: "vsBaseline" applies to successRate and latency checks only'],
    ['a check without threshold', { analysis: { checks: [{ metric: 'success-rate' }] } }, 'analysis.checks.0.metric: a success-rate check needs a threshold: give "min" or "max"'],
    ['an unknown metric', { analysis: { checks: [{ metric: 'errors', max: 1 }] } }, 'analysis.checks.0.metric:'],
    ['a misspelled check key', { analysis: { checks: [{ metric: 'latency', mx: 1 }] } }, 'analysis.checks.0: Unrecognized key: "mx"'],
    ['a gate without pre-step', { webhooks: [{ name: 'ok', url: 'https://h.example', events: ['rollback'], gate: true }] }, 'webhooks.0.gate: webhook "ok" is a gate, so its events must include pre-step'],
    ['a zero ack timeout', { ackTimeoutMs: 0 }, 'ackTimeoutMs:'],
  ])('refuses %s with a 400 naming the field, and starts nothing', async (_title, extra, message) => {
    started.length = 0;
    const res = await post('/api/v1/rollouts', { route: 'auth-login', to: 'auth-v2', steps: [50], interval: '1m', author: 'ana', ...extra });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain(message);
    expect(started).toEqual([]);
  });

  it('a rollout is answered with what it wants and what is served, each as weights and percentages', async () => {
    current = view();
    served = [{ cluster: 'monolith', weight: 19 }, { cluster: 'auth-v2', weight: 1 }];
    try {
      const res = await fetch(`${base}/api/v1/rollouts/r-1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as RolloutView;
      expect(body).toMatchObject({
        weights: [{ cluster: 'monolith', weight: 90 }, { cluster: 'auth-v2', weight: 10 }],
        percentages: { monolith: 90, 'auth-v2': 10 },
        served: [{ cluster: 'monolith', weight: 19 }, { cluster: 'auth-v2', weight: 1 }],
        servedPercentages: { monolith: 95, 'auth-v2': 5 },
      });
      // What the CLI shows of that answer.
      expect(lines(render(body, UTC)).slice(1, 3)).toEqual(['weights    monolith=95% auth-v2=5%', '           rollout wants monolith=90% auth-v2=10%']);
      const list = (await (await fetch(`${base}/api/v1/rollouts`)).json()) as { rollouts: RolloutView[] };
      expect(list.rollouts.map((r) => r.servedPercentages)).toEqual([{ monolith: 95, 'auth-v2': 5 }]);
    } finally {
      served = [{ cluster: 'monolith', weight: 90 }, { cluster: 'auth-v2', weight: 10 }];
    }
  });

  it('pause of a paused rollout and resume of a running one answer unchanged: true, without a command', async () => {
    current = view({ state: 'running' });
    commands.length = 0;
    const resumed = await post('/api/v1/rollouts/r-1/resume', { author: 'ana' });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ id: 'r-1', state: 'running', unchanged: true });

    const paused = await post('/api/v1/rollouts/r-1/pause', { author: 'ana' });
    expect(paused.body).toMatchObject({ state: 'paused' });
    expect(paused.body.unchanged).toBeUndefined();
    current = { ...current, hold: { kind: 'operator', message: 'paused by an operator', since: T0, auto: false } };
    const again = await post('/api/v1/rollouts/auth-login/pause', { author: 'ana' });
    expect(again.body).toMatchObject({ state: 'paused', unchanged: true });
    expect(commands).toEqual(['pause']);
  });

  it('pause of a rollout held automatically is a real pause (the hold would lift by itself)', async () => {
    current = view({ state: 'paused', hold: { kind: 'nack', message: 'edge-2 NACKed', since: T0, auto: true } });
    commands.length = 0;
    const res = await post('/api/v1/rollouts/r-1/pause', { author: 'ana' });
    expect(res.body.unchanged).toBeUndefined();
    expect(commands).toEqual(['pause']);
  });

  it('an unknown rollout still gets the command’s own answer', async () => {
    const res = await post('/api/v1/rollouts/nope/pause', { author: 'ana' });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("no active rollout 'nope' (give a rollout id or a route)");
  });
});
