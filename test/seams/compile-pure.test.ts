import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { envoyRoot, loadEnvoyProtos } from '../../src/proto/envoy.js';

/**
 * compile() is pure once the protos are loaded: no file is read and the shared protobufjs root is not
 * changed. The config takes every path that used to reach the root lazily: a query_parameters action
 * (an Envoy API addition, once declared on first use) and a local rate limit status other than 429
 * (its envoy.type.v3.StatusCode name is read from the root).
 */
const YAML = `
listeners:
  - name: edge
    port: 10000
    ratelimit: { domain: edge }
    authz: { failureMode: deny }
    hosts:
      - domains: [api.example.com]
        cors: { allowOrigins: [https://app.example.com], allowMethods: [GET] }
        routes:
          - name: search
            match: { prefix: /search }
            to: app
            ratelimit: [[remote_address], [{ query: api_key, as: key }]]
            localRateLimit: { tokens: 100, fill: { tokens: 10, every: 1s }, status: 503 }
          - name: rest
            match: { prefix: / }
            to: app
clusters:
  - name: app
    endpoints: [10.0.0.1:8080]
ratelimit:
  - domain: edge
    descriptors:
      - key: remote_address
        rate_limit: { unit: second, requests_per_unit: 50 }
      - key: key
        rate_limit: { unit: week, requests_per_unit: 5000 }
`;

/** Every reflection object in the root with its fields and enum values: what a mutation would change. */
function shape(root: protobuf.Root): string[] {
  const out: string[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) out.push(`${o.fullName}{${Object.keys(o.fields).join(',')}}`);
      else if (o instanceof protobuf.Enum) out.push(`${o.fullName}{${Object.keys(o.values).join(',')}}`);
      else out.push(o.fullName);
      if (o instanceof protobuf.Namespace) walk(o);
    }
  };
  walk(root);
  return out;
}

/** Spies on every synchronous way to read or probe a file (compile is synchronous, so nothing else can run). */
function watchFs(): () => string[] {
  const names = ['readFileSync', 'readSync', 'openSync', 'existsSync', 'statSync', 'readdirSync'] as const;
  const spies = names.map((name) => vi.spyOn(fs, name));
  // Named imports of node:fs ({ readFileSync }) see the spies too.
  syncBuiltinESMExports();
  return () => spies.flatMap((s, i) => s.mock.calls.map((args) => `${names[i]}(${String(args[0])})`));
}

function load(): Config {
  const loaded = loadConfigFromString(YAML, 'pure.yaml');
  expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  return loaded.config!;
}

describe('compile() after loadEnvoyProtos(): no I/O, no change to the protobufjs root', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    syncBuiltinESMExports();
  });

  it('loading the protos declares the Envoy API additions, before anything compiles', () => {
    const root = loadEnvoyProtos();
    expect(root.lookupType('envoy.config.route.v3.RateLimit.Action').fields.query_parameters?.id).toBe(12);
    expect(root.lookupType('envoy.extensions.common.ratelimit.v3.RateLimitDescriptor').fields.hits_addend?.id).toBe(3);
    expect(root.lookupEnum('envoy.type.v3.RateLimitUnit').values.WEEK).toBe(7);
    expect(envoyRoot()).toBe(root);
  });

  it('reads no file and leaves the root as it was', () => {
    const config = load();
    loadEnvoyProtos();
    const before = shape(envoyRoot());
    const fsCalls = watchFs();

    const snapshot = compile(config);

    expect(fsCalls()).toEqual([]);
    expect(shape(envoyRoot())).toEqual(before);
    // The paths this test is about were taken.
    const routes = JSON.stringify([...snapshot.groups.values()].map((g) => [...g.values()].map((m) => [...m.values()])));
    expect(routes).toContain('"query_parameter_name":"api_key"');
    expect(routes).toContain('"code":"ServiceUnavailable"');
  });

  it('the watch sees protobufjs read a proto (so an empty list above means something)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-pure-'));
    const file = path.join(dir, 'm.proto');
    fs.writeFileSync(file, 'syntax = "proto3"; message M {}');
    try {
      const fsCalls = watchFs();
      new protobuf.Root().loadSync(file);
      expect(fsCalls()).toContain(`readFileSync(${file})`);
    } finally {
      vi.restoreAllMocks();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
