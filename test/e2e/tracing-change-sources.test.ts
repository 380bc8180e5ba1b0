/**
 * The change sources tracing-otlp.test.ts does not reach, against the same real OTLP receiver
 * (test/go/otlpsink) and the built `banyan serve`:
 * - `rollout.step`: a stepped rollout started through the admin API; every step the runner stores
 *   is served as one change trace with source `rollout.step` (never `store.rollout`), with its
 *   compile, admission and push spans.
 * - `store.<kind>`: two replicas on one real PostgreSQL; a shift and an apply made on replica A are
 *   traced on A as `admin.shift` / `admin.apply`, and on replica B (which only sees the store's
 *   change) as `store.override` / `store.config`.
 *
 * Needs dist/ current (`npm test` runs tsc before vitest; alone: `npx tsc -p tsconfig.json`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { adminCall, canaryRouteYaml, settleInOrder, throwFirstRejection } from '../support/rollout-e2e.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';

const ADMIN_TOKEN = 'tracing-sources-token';
// export within a fraction of a second instead of the SDK's default 5 s batch delay
const ENV = { OTEL_BSP_SCHEDULE_DELAY: '100', BANYAN_ADMIN_TOKEN: ADMIN_TOKEN };
const YAML = canaryRouteYaml('checkout', 'checkout-v1', 'checkout-v2');

const changes = (receiver: OtlpReceiver, source: string | RegExp) =>
  receiver
    .spans()
    .filter((s) => s.name === 'banyan.config.change')
    .filter((s) => (typeof source === 'string' ? s.attributes['banyan.change.source'] === source : source.test(String(s.attributes['banyan.change.source']))));

/** What tracing-otlp.test.ts asserts of a file.reload change: a root, with compile, admission (admitted) and push as its children. */
function expectChangeTree(receiver: OtlpReceiver, root: ExportedSpan): void {
  const of = receiver.spans().filter((s) => s.traceId === root.traceId);
  const named = (n: string) => of.filter((s) => s.name === n);
  const childOfRoot = (s: ExportedSpan) => s.parentSpanId === root.spanId;
  expect(root.parentSpanId).toBeUndefined();
  expect(root.attributes['banyan.change.result']).toBe('applied');
  expect(root.attributes['banyan.config.hash']).toMatch(/^[0-9a-f]{12}$/);
  expect(typeof root.attributes['banyan.config.version']).toBe('number');
  expect(named('banyan.config.compile').some(childOfRoot), of.map((s) => s.name).join(',')).toBe(true);
  expect(named('banyan.config.admission').find(childOfRoot)?.attributes['banyan.admission.admitted']).toBe(true);
  const push = named('banyan.config.push');
  expect(push.length).toBe(1);
  expect(childOfRoot(push[0])).toBe(true);
  expect(push[0].attributes).toMatchObject({ 'banyan.push.groups': 1, 'banyan.push.proxies': 0, 'banyan.push.outcome': 'no-proxies' });
}

/** An applied change of `source` on `receiver` whose push span has arrived too (spans come in batches). */
function appliedChanges(receiver: OtlpReceiver, source: string | RegExp): ExportedSpan[] {
  return changes(receiver, source).filter(
    (root) => root.attributes['banyan.change.result'] === 'applied' && receiver.spans().some((s) => s.name === 'banyan.config.push' && s.parentSpanId === root.spanId),
  );
}

/** At least `count` applied changes of `source` on `receiver` (their push included), waited for; `context` explains a timeout. */
function awaitApplied(receiver: OtlpReceiver, source: string, context: () => string, count = 1): Promise<ExportedSpan[]> {
  return eventually(() => {
    const r = appliedChanges(receiver, source);
    if (r.length < count) throw new Error(`${r.length} applied ${source} changes with their push yet${context()}`);
    return r;
  }, 20_000);
}

describe('tracing: a rollout step is a change of source rollout.step', () => {
  let collector: OtlpReceiver | undefined;
  let serve: ServeProcess | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-tracing-rollout-'));
    collector = await startOtlpReceiver();
    await writeFile(path.join(dir, 'routes.yaml'), YAML);
    serve = await startServeProcess(
      'tracing-rollout',
      [dir, '--data-dir', path.join(dir, 'data'), '--no-ratelimit', '--no-authz', '--debounce', '20', '--rollout-poll', '100ms', '--otlp-endpoint', collector.endpoint],
      { env: ENV },
    );
  }, 900_000);

  afterAll(async () => {
    throwFirstRejection(await settleInOrder([() => serve?.kill(), () => collector?.stop(), () => dir && rm(dir, { recursive: true, force: true })]));
  });

  const debug = () => `\n--- receiver\n${collector!.output().slice(-2000)}\n--- banyan\n${serve!.output()}`;

  it('each step the rollout stores is served as its own rollout.step change, with compile, admission and push', async () => {
    const created = await adminCall(serve!.adminPort, ADMIN_TOKEN, 'POST', '/api/v1/rollouts', { route: 'checkout', to: 'checkout-v2', steps: [10, 50, 100], interval: '300ms', author: 'tracing-test' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.id as string;
    // no proxies: each step counts as synced when stored, and the next comes an interval later
    await eventually(async () => {
      const view = await adminCall(serve!.adminPort, ADMIN_TOKEN, 'GET', `/api/v1/rollouts/${id}`);
      expect(view.body.state, JSON.stringify(view.body)).toBe('completed');
    }, 20_000, 50);
    // start (10%), the runner's steps to 50% and to 100%: three served weights, three changes
    const roots = await awaitApplied(collector!, 'rollout.step', debug, 3);
    expect(new Set(roots.map((r) => r.traceId)).size).toBe(roots.length);
    for (const root of roots) expectChangeTree(collector!, root);
    // a rollout's store change is never traced under the store's generic source
    expect(changes(collector!, /^store\./).map((s) => s.attributes['banyan.change.source'])).toEqual([]);
    // the startup change is there too, so the receiver did see every change of this process
    expect(changes(collector!, 'startup').length).toBe(1);
  });
});

describe('tracing: a change made on another replica is a change of source store.<kind>', () => {
  let pg: PostgresServer | undefined;
  let dir: string | undefined;
  let receiverA: OtlpReceiver | undefined;
  let receiverB: OtlpReceiver | undefined;
  let a: ServeProcess | undefined;
  let b: ServeProcess | undefined;

  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase('tracing_change_sources');
    dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-tracing-store-'));
    const config = path.join(dir, 'routes.yaml');
    await writeFile(config, YAML);
    [receiverA, receiverB] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
    const common = ['--postgres', url, '--host', '127.0.0.1', '--no-ratelimit', '--no-authz', '--debounce', '20'];
    // A brings the YAML into the store (not watching: the store owns the config); B follows the store alone
    a = await startServeProcess('replica-a', [config, '--no-watch', ...common, '--otlp-endpoint', receiverA.endpoint], { env: ENV });
    b = await startServeProcess('replica-b', [...common, '--otlp-endpoint', receiverB.endpoint], { env: ENV });
  }, 900_000);

  afterAll(async () => {
    throwFirstRejection(
      await settleInOrder([
        () => a?.kill(),
        () => b?.kill(),
        () => receiverA?.stop(),
        () => receiverB?.stop(),
        () => pg?.destroy(),
        () => dir && rm(dir, { recursive: true, force: true }),
      ]),
    );
  });

  const debug = () => `\n--- receiver B\n${receiverB!.output().slice(-2000)}\n--- replica B\n${b!.output()}`;
  const debugA = () => `\n${receiverA!.output()}\n${a!.output()}`;

  /** B's percentages of the checkout route, as its admin API says it sends them now. */
  const servedOnB = async () => {
    const res = await adminCall(b!.adminPort, ADMIN_TOKEN, 'GET', '/api/v1/routes');
    return (res.body.routes as { name: string; percent: Record<string, number> }[]).find((r) => r.name === 'checkout')?.percent;
  };

  it('a shift on A: admin.shift on A, store.override on B', async () => {
    expect(await servedOnB()).toEqual({ 'checkout-v1': 100, 'checkout-v2': 0 });
    const res = await adminCall(a!.adminPort, ADMIN_TOKEN, 'PUT', '/api/v1/routes/checkout/weights', {
      backends: [
        { cluster: 'checkout-v1', weight: 70 },
        { cluster: 'checkout-v2', weight: 30 },
      ],
      author: 'tracing-test',
      reason: 'shift on A',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const onB = await awaitApplied(receiverB!, 'store.override', debug);
    expect(onB.length).toBe(1);
    expectChangeTree(receiverB!, onB[0]);
    // B served it (not just traced it)
    expect(await servedOnB()).toEqual({ 'checkout-v1': 70, 'checkout-v2': 30 });
    // on A, the same change is the admin's own; B never traced it as one
    const onA = await awaitApplied(receiverA!, 'admin.shift', debugA);
    expect(onA.length).toBe(1);
    expect(onA[0].traceId).not.toBe(onB[0].traceId);
    expect(changes(receiverB!, /^admin\./)).toEqual([]);
  });

  it('an apply on A: admin.apply on A, store.config on B, with the new version', async () => {
    const res = await adminCall(a!.adminPort, ADMIN_TOKEN, 'POST', '/api/v1/config/apply', {
      files: [{ file: 'routes.yaml', text: YAML.replace('10.0.0.2:8080', '10.0.0.3:8080') }],
      author: 'tracing-test',
      message: 'apply on A',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const version = res.body.version.version as number;
    expect(version).toBeGreaterThan(1);
    const onB = await awaitApplied(receiverB!, 'store.config', debug);
    expect(onB.length).toBe(1);
    expectChangeTree(receiverB!, onB[0]);
    expect(onB[0].attributes['banyan.config.version']).toBe(version);
    const onA = await awaitApplied(receiverA!, 'admin.apply', debugA);
    expect(onA[0].attributes['banyan.config.version']).toBe(version);
    expect(onA[0].attributes['banyan.config.hash']).toBe(onB[0].attributes['banyan.config.hash']);
  });
});
