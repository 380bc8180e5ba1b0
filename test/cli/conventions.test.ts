/**
 * CLI conventions (issue 14 item 6) on the built binary against a real serve: `-o json|yaml` the
 * same on every command that prints, unknown values a usage error naming the allowed ones; `--server`
 * as host:port; and one structured log line per route whose weights a change moved, naming the
 * route, old and new weights, the actor and the reason.
 */
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/admin-client.js';
import { makeCa } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { routesYaml } from './config.yaml.js';
import { banyan } from './run.js';
import { startCliFixture, type CliFixture } from './server.js';

const TOKEN = 'cli-conventions-token';

interface LogLine {
  msg: string;
  route?: string;
  from?: Record<string, number> | null;
  to?: Record<string, number> | null;
  actor?: string;
  reason?: string;
  action?: string;
  version?: number;
}

let fixture: CliFixture;
let env: Record<string, string>;
const lines: LogLine[] = [];
const cli = (...args: string[]) => banyan(args, env);

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  fixture = await startCliFixture(TOKEN, { logger: pino({ level: 'info' }, sink) });
  env = { BANYAN_SERVER: fixture.server.adminUrl, BANYAN_TOKEN: TOKEN, USER: 'ci' };
}, 60_000);
afterAll(() => fixture?.stop());

describe('-o json|yaml on every command that prints', () => {
  it('prints the same document as JSON and as YAML on every read command', async () => {
    for (const args of [['routes'], ['status'], ['history'], ['audit'], ['proxies'], ['rollout', 'status'], ['authz', 'revocations']]) {
      const [json, yaml] = await Promise.all([cli(...args, '-o', 'json'), cli(...args, args[0] === 'routes' ? '--output' : '-o', 'yaml')]);
      expect(json.code, args.join(' ')).toBe(0);
      expect(yaml.code, args.join(' ')).toBe(0);
      expect(yaml.stderr, args.join(' ')).toBe('');
      const fromJson = JSON.parse(json.stdout);
      // status and proxies carry times that move between calls; the shape and keys are the point
      if (args[0] === 'status' || args[0] === 'proxies') expect(Object.keys(parse(yaml.stdout)).sort(), args.join(' ')).toEqual(Object.keys(fromJson).sort());
      else expect(parse(yaml.stdout), args.join(' ')).toEqual(fromJson);
    }
  }, 120_000);

  it('refuses an unknown format as a usage error naming the allowed ones, before calling the server', async () => {
    for (const args of [['routes', '-o', 'xml'], ['status', '--output', 'wide'], ['rollout', 'status', '-o', 'csv'], ['shift', 'checkout', 'monolith=100', '-o', 'toml'], ['validate', 'x.yaml', '-o', 'xml'], ['xds', 'x.yaml', '--group', 'g', '-o', 'table']]) {
      const r = await banyan(args, { ...env, BANYAN_SERVER: 'http://127.0.0.1:9' });
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(/^error: option '-o, --output <format>' argument '\w+' is invalid\. Allowed: json, yaml[ ;(]/);
    }
    // the shift was refused before anything was sent: no override
    const routes = JSON.parse((await cli('routes', '-o', 'json')).stdout);
    expect(routes.routes.find((r: { ref: string }) => r.ref === 'checkout').override).toBeNull();
  }, 60_000);

  it('prints a table without -o, and still takes -o table', async () => {
    const [plain, table] = await Promise.all([cli('routes'), cli('routes', '-o', 'table')]);
    expect(plain.stdout).toMatch(/^ROUTE\s+WEIGHTS\s+SOURCE\s+YAML\s+ROLLOUT$/m);
    expect(table.stdout).toBe(plain.stdout);
  });

  it('offline commands take it too: validate, xds, schema, certs inspect', async () => {
    const config = path.join(fixture.dir, 'routes.yaml');
    const ca = makeCa(fixture.dir, 'ca');
    const [vj, vy, xj, xy, sy, cy] = await Promise.all([
      banyan(['validate', config, '-o', 'json']),
      banyan(['validate', config, '-o', 'yaml']),
      banyan(['xds', config, '--group', 'default']),
      banyan(['xds', config, '--group', 'default', '-o', 'yaml']),
      banyan(['schema', '-o', 'yaml']),
      banyan(['certs', 'inspect', ca.certFile, '-o', 'yaml']),
    ]);
    expect(vj.code).toBe(0);
    expect(JSON.parse(vj.stdout)).toMatchObject({ valid: true, summary: { errors: 0 } });
    expect(parse(vy.stdout)).toEqual(JSON.parse(vj.stdout));
    expect(parse(xy.stdout)).toEqual(JSON.parse(xj.stdout));
    expect(parse(sy.stdout).$schema).toContain('json-schema.org');
    expect(parse(cy.stdout)).toMatchObject({ subject: expect.stringContaining('CN=ca'), ca: true });
  }, 60_000);
});

describe('--server', () => {
  it('takes host:port as well as a URL; refuses what is neither', async () => {
    const { host } = new URL(fixture.server.adminUrl);
    const bare = await banyan(['routes', '-o', 'json', '--server', host], { BANYAN_TOKEN: TOKEN });
    expect(bare.stderr).toBe('');
    expect(JSON.parse(bare.stdout).routes.length).toBeGreaterThan(0);
    // nothing listens on 127.0.0.1:9; the message names the URL the bare address became
    const closed = await banyan(['routes', '--server', '127.0.0.1:9'], { BANYAN_TOKEN: TOKEN });
    expect(closed.code).toBe(EXIT.unreachable);
    expect(closed.stderr).toContain('cannot reach the Banyan admin API at http://127.0.0.1:9 ');
    const bad = await banyan(['routes', '--server', 'not a host'], { BANYAN_TOKEN: TOKEN });
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain("--server: 'not a host' is neither a URL");
  }, 60_000);
});

describe('a log line per weight change: route, from, to, actor, reason', () => {
  const changes = (route: string) => lines.filter((l) => l.msg === 'route weights changed' && l.route === route);

  it('shift and shift --clear', async () => {
    const before = changes('checkout').length;
    expect((await cli('shift', 'checkout', 'monolith=40', 'checkout-v2=60', '--reason', 'v2 healthy')).code).toBe(0);
    await eventually(() => expect(changes('checkout').length).toBe(before + 1));
    expect(changes('checkout').at(-1)).toMatchObject({
      from: { monolith: 90, 'checkout-v2': 10 },
      to: { monolith: 40, 'checkout-v2': 60 },
      actor: expect.stringMatching(/^admin \(as ci@\S+\)$/),
      reason: 'v2 healthy',
      action: 'override.set',
    });
    expect((await cli('shift', 'checkout', '--clear', '--reason', 'back to the YAML')).code).toBe(0);
    await eventually(() => expect(changes('checkout').length).toBe(before + 2));
    expect(changes('checkout').at(-1)).toMatchObject({ from: { monolith: 40, 'checkout-v2': 60 }, to: { monolith: 90, 'checkout-v2': 10 }, reason: 'back to the YAML', action: 'override.clear' });
  });

  it('rollout start, promote and abort', async () => {
    const start = await cli('rollout', 'start', 'search', '--to', 'search-v2', '--steps', '20,50,100', '--interval', '1h', '-o', 'json');
    expect(start.code).toBe(0);
    const id = JSON.parse(start.stdout).id;
    await eventually(() => expect(changes('search').at(-1)).toMatchObject({ to: { monolith: 80, 'search-v2': 20 }, action: 'rollout.start' }));
    expect(changes('search').at(-1)).toMatchObject({ from: { monolith: 100, 'search-v2': 0 }, actor: expect.stringMatching(/^admin \(as ci@/), reason: `rollout ${id}: 20% to search-v2` });
    expect((await cli('rollout', 'promote', 'search')).code).toBe(0);
    await eventually(() => expect(changes('search').at(-1)).toMatchObject({ from: { monolith: 80, 'search-v2': 20 }, to: { monolith: 50, 'search-v2': 50 }, action: 'rollout.promote' }));
    expect((await cli('rollout', 'abort', 'search')).code).toBe(0);
    await eventually(() => expect(changes('search').at(-1)).toMatchObject({ from: { monolith: 50, 'search-v2': 50 }, to: { monolith: 100, 'search-v2': 0 }, action: 'rollout.abort' }));
  });

  it('apply and rollback', async () => {
    const candidate = path.join(fixture.dir, 'candidate.yaml');
    await writeFile(candidate, routesYaml({ checkout: [70, 30] }));
    const applied = await cli('apply', candidate, '-m', 'more to v2', '-o', 'json');
    expect(applied.code).toBe(0);
    const version = JSON.parse(applied.stdout).version.version;
    await eventually(() => expect(changes('checkout').at(-1)).toMatchObject({ to: { monolith: 70, 'checkout-v2': 30 }, action: 'config.apply' }));
    expect(changes('checkout').at(-1)).toMatchObject({ from: { monolith: 90, 'checkout-v2': 10 }, actor: expect.stringMatching(/^admin \(as ci@/), reason: 'more to v2', version });
    // only the route that moved is logged
    expect(changes('search').at(-1)?.action).toBe('rollout.abort');

    expect((await cli('rollback', String(version - 1), '-m', 'not yet')).code).toBe(0);
    await eventually(() => expect(changes('checkout').at(-1)).toMatchObject({ from: { monolith: 70, 'checkout-v2': 30 }, to: { monolith: 90, 'checkout-v2': 10 }, action: 'config.rollback', reason: 'not yet' }));
  });
});
