import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromFiles, loadConfigFromString } from '../../src/config/load.js';
import { analysisBody, analysisWithDefaults, rolloutExtrasProblems, webhooksBody } from '../../src/config/rollout-spec.js';
import { exportJsonSchema } from '../../src/config/schema.js';
import { stepRangeProblem, stepsProblem } from '../../src/config/steps.js';
import { diffConfigs } from '../../src/diff/config.js';
import { RolloutError } from '../../src/rollout/errors.js';
import { parseSteps, stepsFrom, validateSteps } from '../../src/rollout/steps.js';

/** Lines 1–15; `rollouts:` starts on line 16. */
const BASE = `listeners:
  - name: edge
    port: 10000
    routes:
      - name: auth-login
        match: { prefix: /login }
        to: [{ cluster: monolith, weight: 90 }, { cluster: auth-v2, weight: 10 }]
      - name: moved
        match: { prefix: /old }
        redirect: { path: /new }
      - name: solo
        match: { prefix: / }
        to: auth-v2
clusters:
  - { name: monolith, endpoints: [10.0.0.1:8080] }
  - { name: auth-v2, endpoints: [10.0.0.2:8080] }
`;

const withRollouts = (rollouts: string) => `${BASE}rollouts:\n${rollouts}`;

const errors = (yaml: string, file = 'x.yaml') =>
  loadConfigFromString(yaml, file)
    .diagnostics.filter((d) => d.severity === 'error')
    .map(formatDiagnostic);

/** `file:line:col` of the `nth` occurrence of `token` in `text` at or after offset `from` (1-based, as diagnostics count). */
function at(text: string, token: string, nth = 0, file = 'x.yaml', from = 0): string {
  let offset = from - 1;
  for (let i = 0; i <= nth; i++) {
    offset = text.indexOf(token, offset + 1);
    if (offset < 0) throw new Error(`token ${token} not found ${nth + 1} times`);
  }
  const before = text.slice(0, offset).split('\n');
  return `${file}:${before.length}:${before[before.length - 1].length + 1}`;
}

/** A valid rollout on auth-login with `extra` lines appended (indented as rollout keys). */
const rollout = (extra = '', name = 'auth-login-v2') => `  - name: ${name}
    route: auth-login
    to: auth-v2
    steps: [5, 10, 25, 50, 100]
    interval: 10m
${extra}`;

describe('rollouts: section — a valid entry, fully defaulted', () => {
  it('builds the model with every default and the entry position', () => {
    const r = loadConfigFromString(withRollouts(rollout()), 'x.yaml');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.config!.rollouts).toEqual([
      {
        name: 'auth-login-v2',
        route: 'auth-login',
        to: 'auth-v2',
        steps: [5, 10, 25, 50, 100],
        intervalMs: 600_000,
        allowDecrease: false,
        ackTimeoutMs: 120_000,
        webhooks: [],
        pos: { file: 'x.yaml', line: 18, col: 5 },
      },
    ]);
  });

  it('takes step + max, allowDecrease, ackTimeout, analysis and webhooks with their defaults', () => {
    const yaml = withRollouts(`  - name: r1
    route: edge/auth-login
    to: auth-v2
    step: 30
    max: 80
    interval: 1m30s
    allowDecrease: true
    ackTimeout: 45s
    analysis:
      checks:
        - successRate: { min: 99 }
        - latency: { max: 500ms }
        - latency: { percentile: 95, max: 1.5s, vsBaseline: true }
        - requests: { min: 100 }
        - successRate: { vsBaseline: true, max: 1 }
        - promql: { query: 'sum(rate(x{cluster=~"{{cluster}}"}[{{window}}]))', max: 5 }
          name: my-check
        - requests: { max: 1000000 }
          source: prometheus
    webhooks:
      - { name: approve, url: 'https://hooks.example.com/banyan', gate: true, secretEnv: BANYAN_HOOK_SECRET }
      - { name: tell, url: 'http://chat.local/hook', timeout: 2s, retries: 0 }
      - { name: rb, url: 'http://chat.local/rb', events: [rollback, promotion] }
`);
    const r = loadConfigFromString(yaml, 'x.yaml');
    expect(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    const [spec] = r.config!.rollouts;
    expect(spec).toMatchObject({ route: 'edge/auth-login', steps: [30, 60, 80], intervalMs: 90_000, allowDecrease: true, ackTimeoutMs: 45_000 });
    expect(spec.analysis).toEqual({
      intervalMs: 90_000,
      failureLimit: 2,
      onFailure: 'rollback',
      checks: [
        { name: 'success-rate ≥ 99%', metric: 'success-rate', min: 99, source: 'banyan' },
        { name: 'p99 latency ≤ 500ms', metric: 'latency', max: 500, percentile: 99, source: 'banyan' },
        { name: 'p95 latency ≤ 1.5s above baseline', metric: 'latency', max: 1500, percentile: 95, vsBaseline: true, source: 'banyan' },
        { name: 'requests ≥ 100', metric: 'requests', min: 100, source: 'banyan' },
        { name: 'success-rate ≤ 1 point below baseline', metric: 'success-rate', max: 1, vsBaseline: true, source: 'banyan' },
        { name: 'my-check', metric: 'promql', max: 5, query: 'sum(rate(x{cluster=~"{{cluster}}"}[{{window}}]))', source: 'prometheus' },
        { name: 'requests ≤ 1,000,000', metric: 'requests', max: 1_000_000, source: 'prometheus' },
      ],
    });
    expect(spec.webhooks).toEqual([
      { name: 'approve', url: 'https://hooks.example.com/banyan', events: ['pre-step'], gate: true, secretEnv: 'BANYAN_HOOK_SECRET', timeoutMs: 5000, retries: 3 },
      { name: 'tell', url: 'http://chat.local/hook', events: ['pre-step', 'post-step', 'promotion', 'rollback'], gate: false, timeoutMs: 2000, retries: 0 },
      { name: 'rb', url: 'http://chat.local/rb', events: ['rollback', 'promotion'], gate: false, timeoutMs: 5000, retries: 3 },
    ]);
  });

  it('an analysis interval and failure policy given are kept', () => {
    const r = loadConfigFromString(withRollouts(rollout('    analysis:\n      interval: 1m\n      failureLimit: 5\n      onFailure: pause\n      checks: [{ requests: { min: 1 } }]\n')), 'x.yaml');
    expect(r.config!.rollouts[0].analysis).toMatchObject({ intervalMs: 60_000, failureLimit: 5, onFailure: 'pause' });
  });

  it('rollouts from several files are concatenated in file order', () => {
    const r = loadConfigFromFiles([
      { file: 'a.yaml', text: BASE },
      { file: 'b.yaml', text: `rollouts:\n${rollout()}` },
    ]);
    expect(r.config!.rollouts.map((s) => [s.name, s.pos.file])).toEqual([['auth-login-v2', 'b.yaml']]);
  });
});

describe('rollouts: schema errors point at the key or value, file:line:col', () => {
  const cases: [string, string, string, number?][] = [
    // [title, rollout lines, token the error must point at (first occurrence in the rollouts part), nth]
    ['an unknown key, with a suggestion', rollout('    intervall: 5m\n'), 'intervall'],
    ['steps that do not increase, at the step', `  - { name: r, route: auth-login, to: auth-v2, steps: [10, 5], interval: 1m }\n`, '5]'],
    ['a step above 100', `  - { name: r, route: auth-login, to: auth-v2, steps: [50, 101], interval: 1m }\n`, '101'],
    ['no steps', `  - { name: r, route: auth-login, to: auth-v2, steps: [], interval: 1m }\n`, '[]'],
    ['steps and step both', `  - { name: r, route: auth-login, to: auth-v2, steps: [50], step: 10, interval: 1m }\n`, 'step:'],
    ['neither steps nor step', `  - { name: r, route: auth-login, to: auth-v2, interval: 1m }\n`, '{ name'],
    ['max without step', `  - { name: r, route: auth-login, to: auth-v2, steps: [50], max: 60, interval: 1m }\n`, 'max'],
    ['a max below step', `  - { name: r, route: auth-login, to: auth-v2, step: 30, max: 20, interval: 1m }\n`, '20'],
    ['step 0', `  - { name: r, route: auth-login, to: auth-v2, step: 0, interval: 1m }\n`, '0,'],
    ['interval 0', `  - { name: r, route: auth-login, to: auth-v2, steps: [50], interval: 0 }\n`, '0 }'],
    ['an interval without a unit', `  - { name: r, route: auth-login, to: auth-v2, steps: [50], interval: 10 }\n`, '10 }'],
    ['ackTimeout 0', rollout('    ackTimeout: 0\n'), '0\n'],
    ['a missing interval', `  - { name: r, route: auth-login, to: auth-v2, steps: [50] }\n`, '{ name'],
    ['a name with a slash', rollout('', 'team/auth'), 'team/auth'],
    ['two metric keys in one check, at the second', rollout('    analysis:\n      checks:\n        - successRate: { min: 99 }\n          latency: { max: 1s }\n'), 'latency'],
    ['a check without a metric key', rollout('    analysis:\n      checks:\n        - name: lonely\n'), 'name: lonely'],
    ['a check without min or max, at its metric key', rollout('    analysis:\n      checks:\n        - successRate: {}\n'), 'successRate'],
    ['vsBaseline on requests', rollout('    analysis:\n      checks:\n        - requests: { min: 1, vsBaseline: true }\n'), 'vsBaseline'],
    ['vsBaseline on promql', rollout("    analysis:\n      checks:\n        - promql: { query: 'up', max: 1, vsBaseline: true }\n"), 'vsBaseline'],
    ['min with vsBaseline', rollout('    analysis:\n      checks:\n        - successRate: { min: 1, vsBaseline: true }\n'), 'min'],
    ['promql without a query', rollout('    analysis:\n      checks:\n        - promql: { max: 1 }\n'), 'promql'],
    ['promql from banyan', rollout("    analysis:\n      checks:\n        - promql: { query: 'up', max: 1 }\n          source: banyan\n"), 'banyan\n'],
    ['a success rate above 100', rollout('    analysis:\n      checks:\n        - successRate: { min: 120 }\n'), '120'],
    ['a fractional request count', rollout('    analysis:\n      checks:\n        - requests: { min: 1.5 }\n'), '1.5'],
    ['percentile 100', rollout('    analysis:\n      checks:\n        - latency: { percentile: 100, max: 1s }\n'), '100,'],
    ['a latency without a unit', rollout('    analysis:\n      checks:\n        - latency: { max: 500 }\n'), '500'],
    ['max below min', rollout('    analysis:\n      checks:\n        - successRate: { min: 99, max: 90 }\n'), '90'],
    ['two checks with one name', rollout('    analysis:\n      checks:\n        - successRate: { min: 99 }\n        - successRate: { min: 99 }\n'), 'successRate: { min: 99 }', 1],
    ['no checks', rollout('    analysis:\n      checks: []\n'), '[]'],
    ['failureLimit 0', rollout('    analysis:\n      failureLimit: 0\n      checks: [{ requests: { min: 1 } }]\n'), '0\n'],
    ['an analysis interval of 0', rollout('    analysis:\n      interval: 0\n      checks: [{ requests: { min: 1 } }]\n'), '0\n'],
    ['an unknown onFailure', rollout('    analysis:\n      onFailure: rollbak\n      checks: [{ requests: { min: 1 } }]\n'), 'rollbak'],
    ['a gate without pre-step, at gate', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', events: [post-step], gate: true }\n"), 'gate'],
    ['a webhook URL that is not http(s)', rollout("    webhooks:\n      - { name: ok, url: 'ftp://h.example' }\n"), "'ftp"],
    ['an unknown event', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', events: [pre-stpe] }\n"), 'pre-stpe'],
    ['an event twice', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', events: [rollback, rollback] }\n"), '[rollback'],
    ['no events', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', events: [] }\n"), '[]'],
    ['a secretEnv that is no variable name', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', secretEnv: 'my secret' }\n"), "'my secret'"],
    ['too many retries', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', retries: 11 }\n"), '11'],
    ['a webhook timeout of 0', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', timeout: 0 }\n"), '0 }'],
    ['two webhooks with one name', rollout("    webhooks:\n      - { name: ok, url: 'https://h.example' }\n      - { name: ok, url: 'https://i.example' }\n"), "ok, url: 'https://i"],
  ];

  it.each(cases)('%s', (_title, lines, token, nth = 0) => {
    const yaml = withRollouts(lines);
    const found = errors(yaml);
    const where = `${at(yaml, token, nth, 'x.yaml', yaml.indexOf('rollouts:'))}: error: `;
    expect(found, found.join('\n')).toHaveLength(1);
    expect(found[0].startsWith(where), `${found[0]}\nexpected at ${where}`).toBe(true);
    expect(loadConfigFromString(yaml, 'x.yaml').config).toBeUndefined();
  });

  it('says what is wrong in words that name the fix', () => {
    const messages = (lines: string) => errors(withRollouts(lines)).map((d) => d.replace(/^.*?: error: /, ''));
    expect(messages(rollout('    intervall: 5m\n'))).toEqual(['unknown key "intervall"; did you mean "interval"? (at rollouts[0].intervall)']);
    expect(messages(`  - { name: r, route: auth-login, to: auth-v2, steps: [10, 5], interval: 1m }\n`)).toEqual([
      'steps must increase: 10 is followed by 5 (at rollouts[0].steps[1])',
    ]);
    expect(messages(`  - { name: r, route: auth-login, to: auth-v2, step: 30, max: 20, interval: 1m }\n`)).toEqual([
      'max is 20; it must be a whole percentage from step (30) to 100 (at rollouts[0].max)',
    ]);
    expect(messages(rollout('    analysis:\n      checks:\n        - requests: { min: 1, vsBaseline: true }\n'))).toEqual([
      '"vsBaseline" applies to successRate and latency checks only: a request count has no baseline to be compared with (at rollouts[0].analysis.checks[0].requests.vsBaseline)',
    ]);
    expect(messages(rollout('    analysis:\n      checks:\n        - latency: {}\n'))).toEqual([
      'a latency check needs a threshold: give "min" or "max" (at rollouts[0].analysis.checks[0].latency)',
    ]);
    expect(messages(rollout('    analysis:\n      checks:\n        - latency: { vsBaseline: true }\n'))).toEqual([
      'a latency check needs a threshold: give "max" (at rollouts[0].analysis.checks[0].latency)',
    ]);
    expect(messages(rollout("    webhooks:\n      - { name: ok, url: 'https://h.example', events: [post-step], gate: true }\n"))).toEqual([
      'webhook "ok" is a gate, so its events must include pre-step (a gate holds each step until it answers 2xx); add pre-step or drop gate (at rollouts[0].webhooks[0].gate)',
    ]);
    expect(messages(rollout('    analysis:\n      checks:\n        - successRate: { min: 99 }\n        - successRate: { min: 99 }\n'))).toEqual([
      'check "success-rate ≥ 99%" is already the name of check 1; give each a distinct name (at rollouts[0].analysis.checks[1])',
    ]);
  });
});

describe('rollouts: checks against the whole config (semantic pass)', () => {
  it('an unknown route, with a did-you-mean, at route', () => {
    const yaml = withRollouts(`  - { name: r, route: auth-logn, to: auth-v2, steps: [50], interval: 1m }\n`);
    expect(errors(yaml)).toEqual([`${at(yaml, 'auth-logn')}: error: rollout "r": unknown route 'auth-logn'; did you mean 'auth-login'?`]);
  });

  it('an ambiguous route, at route', () => {
    const yaml = `${BASE.replace('listeners:\n', `listeners:
  - name: admin
    port: 10001
    routes:
      - { name: auth-login, match: { prefix: / }, to: monolith }
`)}rollouts:\n  - { name: r, route: auth-login, to: auth-v2, steps: [50], interval: 1m }\n`;
    expect(errors(yaml)).toEqual([
      `${at(yaml, 'auth-login', 2)}: error: rollout "r": route 'auth-login' is ambiguous: it matches 'admin/auth-login', 'edge/auth-login'; use one of those`,
    ]);
  });

  it('a route that does not forward, at route', () => {
    const yaml = withRollouts(`  - { name: r, route: moved, to: auth-v2, steps: [50], interval: 1m }\n`);
    expect(errors(yaml)).toEqual([`${at(yaml, 'moved', 1)}: error: rollout "r": route 'moved' is a redirect route; only routes that forward to backends have weights`]);
  });

  it('a `to` that is not a cluster, with a did-you-mean, at to', () => {
    const yaml = withRollouts(`  - { name: r, route: auth-login, to: auth-v3, steps: [50], interval: 1m }\n`);
    expect(errors(yaml)).toEqual([`${at(yaml, 'auth-v3')}: error: rollout "r" refers to unknown cluster "auth-v3"; did you mean "auth-v2"? (at rollouts[0].to)`]);
  });

  it('a `to` that already has all of the route, at to', () => {
    const yaml = withRollouts(`  - { name: r, route: solo, to: auth-v2, steps: [50, 100], interval: 1m }\n`);
    const toAt = at(yaml, 'auth-v2', 3);
    expect(errors(yaml)).toEqual([
      `${toAt}: error: rollout "r": 'auth-v2' already receives all of route 'solo' traffic; there is nothing to shift (remove the rollout, or give the route another backend)`,
    ]);
    // A backend at weight 0 beside it changes nothing: the target still has 100 %.
    const zero = withRollouts(`  - { name: r, route: solo, to: auth-v2, steps: [50], interval: 1m }\n`).replace('to: auth-v2\nclusters', 'to: [{ cluster: auth-v2, weight: 5 }, { cluster: monolith, weight: 0 }]\nclusters');
    expect(errors(zero)).toHaveLength(1);
    expect(errors(zero)[0]).toMatch(/already receives all of route 'solo' traffic/);
  });

  it('two rollouts on one route, however it is named, at the second one’s route', () => {
    const yaml = withRollouts(`  - { name: a, route: auth-login, to: auth-v2, steps: [50], interval: 1m }\n  - { name: b, route: edge/auth-login, to: auth-v2, steps: [60], interval: 1m }\n`);
    const first = at(yaml, 'auth-login', 1);
    expect(errors(yaml)).toEqual([
      `${at(yaml, 'edge/auth-login')}: error: rollout "b" is on route 'auth-login', which rollout "a" (${first}) already rolls out; a route takes one rollout at a time`,
    ]);
  });

  it('duplicate names across files, at the second name', () => {
    const one = `rollouts:\n  - { name: same, route: auth-login, to: auth-v2, steps: [50], interval: 1m }\n`;
    const two = `rollouts:\n  - { name: same, route: solo, to: monolith, steps: [50], interval: 1m }\n`;
    const r = loadConfigFromFiles([
      { file: 'a.yaml', text: BASE },
      { file: 'b.yaml', text: one },
      { file: 'c.yaml', text: two },
    ]);
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(['c.yaml:2:13: error: duplicate rollout "same" (first defined at b.yaml:2:13)']);
  });
});

describe('rollouts and the rest of Banyan', () => {
  it('compile ignores them: the same snapshot with or without', () => {
    const without = loadConfigFromString(BASE, 'x.yaml').config!;
    const withOne = loadConfigFromString(withRollouts(rollout()), 'x.yaml').config!;
    expect(withOne.rollouts).toHaveLength(1);
    const a = compile(withOne);
    const b = compile(without);
    expect(a.groups).toEqual(b.groups);
    expect(a.warnings).toEqual(b.warnings);
    expect(a.groups.size).toBeGreaterThan(0);
  });

  it('the config diff counts rollouts added and changed, not moved', () => {
    const a = loadConfigFromString(BASE, 'x.yaml').config!;
    const b = loadConfigFromString(withRollouts(rollout()), 'x.yaml').config!;
    const c = loadConfigFromString(withRollouts(rollout().replace('interval: 10m', 'interval: 5m')), 'x.yaml').config!;
    const moved = loadConfigFromString(`${BASE}rollouts:\n\n\n${rollout()}`, 'x.yaml').config!;
    expect(diffConfigs(a, b).summary).toBe('1 rollout added');
    expect(diffConfigs(b, c).rollouts.changed).toEqual([{ name: 'auth-login-v2', fields: ['intervalMs'] }]);
    expect(diffConfigs(b, c).summary).toBe('1 rollout changed');
    expect(diffConfigs(b, moved).empty).toBe(true);
  });

  it('banyan schema describes the section', () => {
    const schema = exportJsonSchema() as { properties: Record<string, { items: { properties: Record<string, unknown>; required: string[] } }> };
    const item = schema.properties.rollouts.items;
    expect(Object.keys(item.properties)).toEqual(
      expect.arrayContaining(['name', 'route', 'to', 'steps', 'step', 'max', 'interval', 'allowDecrease', 'ackTimeout', 'analysis', 'webhooks']),
    );
    expect(item.required).toEqual(expect.arrayContaining(['name', 'route', 'to', 'interval']));
  });
});

describe('the step rules are one set (config/steps.ts), thrown as RolloutError by rollout/steps.ts', () => {
  it('same words both ways', () => {
    expect(stepsProblem([10, 5])).toEqual({ index: 1, message: 'steps must increase: 10 is followed by 5' });
    expect(stepsProblem([5, 10])).toBeUndefined();
    expect(stepRangeProblem(10, 5)).toEqual({ key: 'max', message: '--max is 5; it must be a whole percentage from --step (10) to 100' });
    expect(() => validateSteps([10, 5])).toThrow(new RolloutError('bad-input', 'steps must increase: 10 is followed by 5'));
    expect(() => stepsFrom(10, 5)).toThrow('--max is 5; it must be a whole percentage from --step (10) to 100');
    expect(() => parseSteps('0,50')).toThrow('step 1 is 0; steps are whole percentages from 1 to 100');
    expect(stepsFrom(30)).toEqual([30, 60, 90, 100]);
  });
});

describe('the admin API body uses the same rules and defaults (config/rollout-spec.ts)', () => {
  const issues = (schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown) =>
    (schema.safeParse(value).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('a gate without pre-step, a bad check, an unknown key', () => {
    expect(issues(webhooksBody, [{ name: 'ok', url: 'https://h.example', events: ['post-step'], gate: true }])).toEqual([
      '0.gate: webhook "ok" is a gate, so its events must include pre-step (a gate holds each step until it answers 2xx); add pre-step or drop gate',
    ]);
    expect(issues(analysisBody, { checks: [{ metric: 'requests', min: 1, vsBaseline: true }] })).toEqual([
      'checks.0.vsBaseline: "vsBaseline" applies to successRate and latency checks only: a request count has no baseline to be compared with',
    ]);
    expect(issues(analysisBody, { checks: [{ metric: 'success-rate' }] })).toEqual(['checks.0.metric: a success-rate check needs a threshold: give "min" or "max"']);
    expect(issues(analysisBody, { checks: [{ metric: 'latency', max: 1, percentil: 99 }] })[0]).toMatch(/percentil/);
    expect(issues(analysisBody, { checks: [] })).toEqual(['checks: an analysis needs at least one check']);
    expect(issues(analysisBody, { checks: [{ metric: 'latency', max: 500 }], failureLimit: 0 })).toEqual([
      'failureLimit: failureLimit is how many failed runs in one step are tolerated before onFailure: a whole number from 1, got 0',
    ]);
  });

  it('defaults as the YAML gets them', () => {
    const parsed = analysisBody.parse({ checks: [{ metric: 'latency', max: 500 }] });
    expect(analysisWithDefaults(parsed, 30_000)).toEqual({
      checks: [{ name: 'p99 latency ≤ 500ms', metric: 'latency', max: 500, percentile: 99, source: 'banyan' }],
      intervalMs: 30_000,
      failureLimit: 2,
      onFailure: 'rollback',
    });
  });

  it('rolloutExtrasProblems lists every problem with its model path', () => {
    expect(rolloutExtrasProblems({ checks: [{ metric: 'promql', max: 1, source: 'banyan' }] }, [{ name: 'w', url: 'nope' }, { name: 'w', url: 'http://x' }])).toEqual([
      { path: ['analysis', 'checks', 0, 'metric'], message: 'a promql check needs a "query"' },
      { path: ['analysis', 'checks', 0, 'source'], message: 'a promql check always reads Prometheus; leave "source" out or write prometheus' },
      { path: ['webhooks', 0, 'url'], message: 'webhook url must be an http(s) URL, got "nope"' },
      { path: ['webhooks', 1, 'name'], message: 'webhook "w" is already the name of webhook 1; give each a distinct name' },
    ]);
    expect(rolloutExtrasProblems(undefined, [])).toEqual([]);
  });
});
