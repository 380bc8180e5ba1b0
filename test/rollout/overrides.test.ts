import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ForwardAction } from '../../src/config/model.js';
import { applyOverrides, prepareOverride } from '../../src/config/overrides.js';
import { listRoutes, OverrideError, resolveRoute, routeBackendsHash } from '../../src/config/routes.js';
import { parseWeights } from '../../src/config/weights.js';
import { effectiveConfig } from '../../src/store/effective.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { sampleConfig } from './fixtures.js';

const backendsOf = (config: ReturnType<typeof sampleConfig>, ref: string) =>
  (resolveRoute(config, ref).route.action as ForwardAction).backends.map((b) => [b.cluster, b.weight]);

describe('route references', () => {
  it('names each route by its shortest unambiguous reference', () => {
    expect(listRoutes(sampleConfig()).map((l) => l.ref)).toEqual(['auth-login', 'everything-else', 'old-site', 'edge/health', 'internal/health']);
  });

  it('rejects unknown and ambiguous routes with a hint', () => {
    const config = sampleConfig();
    expect(() => resolveRoute(config, 'auth-logn')).toThrow("unknown route 'auth-logn'; did you mean 'auth-login'?");
    expect(() => resolveRoute(config, 'health')).toThrow("route 'health' is ambiguous: it matches 'edge/health', 'internal/health'");
    expect(resolveRoute(config, 'internal/health').listener.name).toBe('internal');
    expect(resolveRoute(config, 'edge/api/auth-login').route.name).toBe('auth-login');
  });
});

describe('parseWeights', () => {
  it('parses percentages that sum to 100 and relative weights', () => {
    expect(parseWeights(['auth-v2=25', 'monolith=75%'])).toEqual([
      { cluster: 'auth-v2', weight: 25 },
      { cluster: 'monolith', weight: 75 },
    ]);
    expect(parseWeights(['auth-v2=1', 'monolith=3'], { relative: true })).toEqual([
      { cluster: 'auth-v2', weight: 1 },
      { cluster: 'monolith', weight: 3 },
    ]);
  });

  it.each([
    [['auth-v2=25', 'monolith=70'], {}, 'percentages sum to 95, not 100; fix them or pass --relative'],
    [['auth-v2'], {}, "expected BACKEND=WEIGHT, got 'auth-v2'"],
    [['auth-v2=lots'], {}, "weight for 'auth-v2' is not a number: 'lots'"],
    [['auth-v2=-5', 'monolith=105'], {}, "weight for 'auth-v2' is negative (-5)"],
    [['auth-v2=0', 'monolith=0'], { relative: true }, 'all weights are zero'],
    [['auth-v2=12.5', 'monolith=87.5'], {}, "weight for 'auth-v2' must be a whole number"],
    [['auth-v2=50', 'auth-v2=50'], {}, "backend 'auth-v2' is given twice"],
    [[], {}, 'give at least one BACKEND=WEIGHT'],
  ])('rejects %j %j', (args, opts, message) => {
    expect(() => parseWeights(args, opts)).toThrow(OverrideError);
    expect(() => parseWeights(args, opts)).toThrow(message);
  });
});

describe('prepareOverride', () => {
  it('canonicalises the route and records the hash of its YAML backends', () => {
    const o = prepareOverride(sampleConfig(), 'edge/auth-login', [{ cluster: 'auth-v3', weight: 100 }]);
    expect(o.route).toBe('auth-login');
    expect(o.baseHash).toBe(routeBackendsHash([{ cluster: 'auth-v2', weight: 90 }, { cluster: 'monolith', weight: 10 }]));
  });

  it('rejects unknown backends and routes without backends', () => {
    expect(() => prepareOverride(sampleConfig(), 'auth-login', [{ cluster: 'auth-v9', weight: 1 }])).toThrow(
      "unknown backend 'auth-v9': no cluster of that name; did you mean 'auth-v2'?",
    );
    expect(() => prepareOverride(sampleConfig(), 'old-site', [{ cluster: 'monolith', weight: 1 }])).toThrow(
      "route 'old-site' is a redirect route; only routes that forward to backends have weights",
    );
  });
});

describe('applyOverrides', () => {
  it('replaces the route backends without touching the input config', () => {
    const config = sampleConfig();
    const o = { ...prepareOverride(config, 'auth-login', [{ cluster: 'auth-v2', weight: 40 }, { cluster: 'monolith', weight: 60 }]), author: 'alice' };
    const { config: out, applied, stale } = applyOverrides(config, [o]);
    expect(backendsOf(out, 'auth-login')).toEqual([['auth-v2', 40], ['monolith', 60]]);
    expect(backendsOf(config, 'auth-login')).toEqual([['auth-v2', 90], ['monolith', 10]]);
    expect(applied).toEqual([{ override: o, yamlBackends: [{ cluster: 'auth-v2', weight: 90 }, { cluster: 'monolith', weight: 10 }] }]);
    expect(stale).toEqual([]);
    // positions still point at the YAML
    expect((resolveRoute(out, 'auth-login').route.action as ForwardAction).backends[1].pos.line).toBe(12);
  });

  it('reports an override stale, and does not apply it, once the YAML changes that route', () => {
    const o = prepareOverride(sampleConfig(), 'auth-login', [{ cluster: 'auth-v2', weight: 40 }, { cluster: 'monolith', weight: 60 }]);
    const edited = sampleConfig([['auth-v2', 50], ['monolith', 50]]);
    const { config: out, applied, stale } = applyOverrides(edited, [o]);
    expect(applied).toEqual([]);
    expect(stale).toMatchObject([{ reason: 'backends-changed', override: o }]);
    expect(stale[0].message).toContain("override on route 'auth-login' is stale");
    expect(backendsOf(out, 'auth-login')).toEqual([['auth-v2', 50], ['monolith', 50]]);
  });

  it('reports overrides on removed routes and removed clusters as stale instead of failing the config', () => {
    const config = sampleConfig();
    const onRoute = prepareOverride(config, 'everything-else', [{ cluster: 'auth-v3', weight: 1 }]);
    const onCluster = prepareOverride(config, 'auth-login', [{ cluster: 'auth-v3', weight: 100 }]);
    const edited = sampleConfig();
    edited.listeners[0].hosts[0].routes.splice(1, 1);
    edited.clusters = edited.clusters.filter((c) => c.name !== 'auth-v3');
    const { stale, applied } = applyOverrides(edited, [onRoute, onCluster]);
    expect(applied).toEqual([]);
    expect(stale.map((s) => s.reason)).toEqual(['route-removed', 'unknown-cluster']);
    expect(stale[1].message).toContain("cluster 'auth-v3' is not defined");
  });
});

describe('effectiveConfig', () => {
  it('serves the YAML with stored overrides and clears stale ones in the store with an audit entry', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-effective-'));
    const store = await EmbeddedStore.open({ dir });
    try {
      const config = sampleConfig();
      await store.setOverride({ ...prepareOverride(config, 'auth-login', [{ cluster: 'auth-v3', weight: 100 }]), author: 'alice', reason: 'shift' });
      await store.setOverride({ ...prepareOverride(config, 'everything-else', [{ cluster: 'auth-v3', weight: 1 }]), author: 'alice', reason: 'shift' });
      const first = await effectiveConfig(store, config);
      expect(first.applied.map((a) => a.override.route)).toEqual(['auth-login', 'everything-else']);
      expect(backendsOf(first.config, 'auth-login')).toEqual([['auth-v3', 100]]);

      const edited = sampleConfig([['auth-v2', 50], ['monolith', 50]]);
      const second = await effectiveConfig(store, edited, { actor: 'reloader' });
      expect(second.stale.map((s) => s.override.route)).toEqual(['auth-login']);
      expect(backendsOf(second.config, 'auth-login')).toEqual([['auth-v2', 50], ['monolith', 50]]);
      expect((await store.listOverrides()).map((o) => o.route)).toEqual(['everything-else']);
      expect((await store.listAudit({ limit: 1 }))[0]).toMatchObject({ action: 'override.clear', actor: 'reloader', target: 'auth-login' });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
