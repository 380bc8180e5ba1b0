/**
 * `promtool check metrics` (Prometheus's own linter: naming, units, `_total` on counters, help text)
 * on the /metrics of every Banyan server, as shipped (bin/banyan.js → dist/, which `npm test` builds):
 * `banyan serve`, `banyan authz`, and `banyan ratelimit` alone and with `--workers 2` over Redis
 * (the primary's summed exposition is its own text, so it is linted too).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { SotwClient } from '../conformance/harness.js';
import { startBanyan, type BanyanProcess } from '../support/banyan-process.js';
import { eventually } from '../support/eventually.js';
import { toolPath } from '../support/provision.js';
import { RedisServer } from '../support/redis.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** promtool's verdict on an exposition: its exit code and what it printed about problems. */
function promtoolCheck(text: string): Promise<{ code: number; problems: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(toolPath('promtool'), ['check', 'metrics'], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && code === -1) return reject(err);
      resolve({ code, problems: `${stdout}${stderr}`.trim() });
    });
    child.stdin!.end(text);
  });
}

/** Every exposition scraped in this file, by server: the dashboard test checks its queries against them. */
const scraped = new Map<string, string>();

async function scrape(server: string, port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  scraped.set(server, text);
  return text;
}

/** The series names an exposition can answer queries for: each family, plus a histogram's _bucket/_sum/_count. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m[1] + suffix);
  }
  return names;
}

describe('promtool check metrics on every server', () => {
  let redis: RedisServer;
  let dir: string;
  const procs: BanyanProcess[] = [];
  let serve: ServeProcess | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-promtool-'));
    fs.writeFileSync(path.join(dir, 'edge.yaml'), 'domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 20 }\n');
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...procs.map((p) => p.kill()), serve?.kill()]);
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('promtool flags what it should (a counter without _total), so a pass means something', async () => {
    const bad = await promtoolCheck('# HELP banyan_bad_hits Hits\n# TYPE banyan_bad_hits counter\nbanyan_bad_hits 1\n');
    expect(bad.code).not.toBe(0);
    expect(bad.problems).toContain('_total');
  });

  it('banyan serve', { timeout: 60_000 }, async () => {
    serve = await startServeProcess('promtool', [path.join(ROOT, 'examples/banyan.yaml'), '--no-watch', '--data-dir', path.join(dir, 'serve-state')], { env: { BANYAN_ADMIN_TOKEN: 'promtool-token' } });
    // A proxy of the edge group on CDS, then a rollout of an edge route: once the proxy has ACKed what
    // the change sent it, the change's convergence is observed; the rollout's gauges, the routes'
    // weights and the store's health are then in the scrape with their series, not only TYPE lines.
    const proxy = SotwClient.ads(`127.0.0.1:${serve.xdsPort}`, { id: 'promtool-proxy', cluster: 'edge-1' });
    let text: string;
    try {
      proxy.request(TypeUrl.Cluster);
      const first = await proxy.next(TypeUrl.Cluster);
      proxy.ack(first);
      let acked = first.nonce;
      const res = await fetch(`http://127.0.0.1:${serve.adminPort}/api/v1/rollouts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer promtool-token' },
        body: JSON.stringify({ route: 'auth-login', to: 'monolith', steps: [50, 100], interval: '1h', author: 'promtool-test' }),
      });
      expect(res.ok, await res.clone().text()).toBe(true);
      // the proxy ACKs whatever the change sends it (the latest response; older nonces are ignored)
      text = await eventually(async () => {
        const latest = proxy.received.at(-1);
        if (latest && latest.nonce !== acked) proxy.ack((acked = latest.nonce, latest));
        const t = await scrape('serve', serve!.adminPort);
        expect(t).toMatch(/^banyan_xds_convergence_seconds_count\{group="edge-proxies"\} [1-9]/m);
        return t;
      });
    } finally {
      proxy.close();
    }
    expect(text).toContain('banyan_build_info');
    expect(text).toMatch(/^banyan_route_cluster_weight\{route="auth-login",cluster="monolith"\} 50$/m);
    expect(text).toMatch(/^banyan_rollout_step\{route="auth-login",rollout="[^"]+"\} 1$/m);
    expect(text).toMatch(/^banyan_rollout_state\{route="auth-login",rollout="[^"]+",state="running",phase="[a-z]+"\} 1$/m);
    expect(text).toMatch(/^banyan_store_up\{backend="embedded"\} 1$/m);
    expect(text).toMatch(/^banyan_store_last_success_timestamp_seconds\{backend="embedded"\} \d/m);
    expect(await promtoolCheck(text)).toEqual({ code: 0, problems: '' });
  });

  it('banyan authz', { timeout: 60_000 }, async () => {
    const p = startBanyan(['authz', '--port', '0', '--metrics-port', '0']);
    procs.push(p);
    const listening = await p.line('authz service listening');
    const text = await scrape('authz', listening.metricsPort as number);
    expect(text).toContain('banyan_authz_checks_total');
    expect(await promtoolCheck(text)).toEqual({ code: 0, problems: '' });
  });

  it('banyan ratelimit', { timeout: 60_000 }, async () => {
    const p = startBanyan(['ratelimit', '--config', dir, '--port', '0', '--metrics-port', '0']);
    procs.push(p);
    await p.line('rate limit service listening');
    const metrics = await p.line('rate limit metrics endpoint listening');
    const text = await scrape('ratelimit', metrics.port as number);
    expect(text).toContain('banyan_ratelimit_');
    expect(await promtoolCheck(text)).toEqual({ code: 0, problems: '' });
  });

  it('banyan ratelimit --workers 2 with Redis (the primary sums the workers)', { timeout: 60_000 }, async () => {
    const p = startBanyan(['ratelimit', '--config', dir, '--redis', redis.url, '--workers', '2', '--port', '0', '--metrics-port', '0']);
    procs.push(p);
    await p.line('rate limit workers listening');
    const metrics = await p.line('rate limit metrics endpoint listening');
    const text = await scrape('ratelimit-workers', metrics.port as number);
    expect(text).toContain('banyan_ratelimit_');
    expect(await promtoolCheck(text)).toEqual({ code: 0, problems: '' });
  });

  it('every query of dashboards/banyan.json names metrics these servers export', () => {
    expect([...scraped.keys()].sort()).toEqual(['authz', 'ratelimit', 'ratelimit-workers', 'serve']);
    const exported = new Set([...scraped.values()].flatMap((t) => [...exportedNames(t)]));
    const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'dashboards/banyan.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(queries.length).toBeGreaterThan(10);
    const unknown: string[] = [];
    for (const q of queries) {
      // Metric names are the identifiers in our namespaces; label names, functions and `le` are not.
      const names = q.expr.match(/\b(?:banyan|nodejs|process)_[a-zA-Z0-9_:]*/g) ?? [];
      if (names.length === 0) unknown.push(`${q.panel}: no metric in ${q.expr}`);
      for (const n of names) if (!exported.has(n)) unknown.push(`${q.panel}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });
});
