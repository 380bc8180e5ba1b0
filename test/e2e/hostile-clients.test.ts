/**
 * Hostile xDS clients over real mTLS (README "Proxy identity"): a client without a certificate is
 * refused by the handshake; a certificate allowed for one group claiming a node of another gets
 * PERMISSION_DENIED naming identity, node and group (and is recorded among the refusals); an allowed
 * proxy receives exactly its group's resources — never another group's listener, cluster or secret,
 * even when it names them; a config change that moves a connected node to a group its identity does
 * not allow ends its stream; an identity limited to some node ids (`{identity, nodes}`, certificates
 * from src/ca) is served as those nodes and refused as any other.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountCoreRoutes } from '../../src/admin/routes/core.js';
import { certToPem, createCa, issueCert as issueLeaf, keyToPem, type KeyedCert } from '../../src/ca/index.js';
import type { Router } from '../../src/admin/router.js';
import { refusedLines } from '../../src/cli/commands/proxies.js';
import { compile } from '../../src/compile/index.js';
import { loadConfigFromString } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { decodeMessage, loadEnvoyProtos, TypeUrl } from '../../src/proto/envoy.js';
import { methodDefinition } from '../../src/proto/grpc.js';
import { PipelineView } from '../../src/server/served-view.js';
import { serveXds, type XdsEndpoint } from '../../src/server/xds-endpoint.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { SnapshotCache } from '../../src/xds/cache.js';
import { certificateIdentities, XdsServer } from '../../src/xds/server.js';
import { okCount, type Batch } from '../clients/driver.js';
import { issueCert, makeCa, type TestCa, type TestCert } from '../support/certs.js';
import { startEchoBackend, type ConfigurableEchoBackend } from '../support/echo.js';
import { goBinary } from '../support/go.js';
import { apiSplitYaml } from '../support/proxyless.js';
import { eventually } from '../support/eventually.js';

const TYPES = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Secret];

/** A client leaf with the given subjectAltName (e.g. `URI:spiffe://...` or `DNS:b-1.internal`). */
function clientCert(ca: TestCa, dir: string, name: string, san: string): TestCert {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n`);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  run(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(0x5000 + Math.floor(Math.random() * 0x1000)), '-days', '2', '-out', certFile, '-extfile', ext]);
  return { certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), serial: '' };
}

function configYaml(dir: string, server: TestCert, bCluster = 'edge-b'): string {
  return `secrets:
  - name: a-cert
    certFile: ${server.certFile}
    keyFile: ${server.keyFile}
  - name: b-cert
    certFile: ${server.certFile}
    keyFile: ${server.keyFile}
listeners:
  - name: a-edge
    port: 10443
    tls: { certificates: [ { secret: a-cert, serverNames: [a.example.com] } ] }
    routes: [ { name: all, match: { prefix: / }, to: a-app } ]
  - name: b-edge
    port: 11443
    tls: { certificates: [ { secret: b-cert, serverNames: [b.example.com] } ] }
    routes: [ { name: all, match: { prefix: / }, to: b-app } ]
clusters:
  - { name: a-app, endpoints: [10.0.0.1:8080] }
  - { name: b-app, endpoints: [10.0.0.2:8080] }
groups:
  - name: group-a
    match: { cluster: edge-a }
    listeners: [a-edge]
    identities: [ "spiffe://example.org/ns/a/*" ]
  - name: group-b
    match: { cluster: ${bCluster} }
    listeners: [b-edge]
    identities: [ "dns:b-*.internal" ]
  - name: default
    listeners: [a-edge, b-edge]
    identities: [ "spiffe://example.org/ns/admin/*" ]
# ${dir}
`;
}

function load(text: string): Config {
  const r = loadConfigFromString(text, 'hostile.yaml');
  if (!r.config) throw new Error(JSON.stringify(r.diagnostics));
  return r.config;
}

interface DeltaResponse {
  type_url: string;
  nonce: string;
  resources: { name: string }[];
}

/** A delta ADS client subscribing to every type (wildcard plus `extra` names), collecting every resource name it is sent. */
class DeltaAds {
  readonly names = new Map<string, Set<string>>();
  readonly answered = new Set<string>();
  error?: grpc.ServiceError;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, unknown>;

  constructor(port: number, creds: grpc.ChannelCredentials, node: { id: string; cluster: string }, extra: Record<string, string[]> = {}) {
    const def = {
      DeltaAggregatedResources: methodDefinition(
        'envoy.service.discovery.v3.AggregatedDiscoveryService',
        'DeltaAggregatedResources',
        'envoy.service.discovery.v3.DeltaDiscoveryRequest',
        'envoy.service.discovery.v3.DeltaDiscoveryResponse',
        { request: true, response: true },
      ),
    };
    const Ctor = grpc.makeGenericClientConstructor(def, 'DeltaAds');
    this.client = new Ctor(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>).DeltaAggregatedResources();
    this.call.on('data', (raw: DeltaResponse | Buffer) => {
      const r = Buffer.isBuffer(raw) ? decodeMessage<DeltaResponse>('envoy.service.discovery.v3.DeltaDiscoveryResponse', raw) : raw;
      const set = this.names.get(r.type_url) ?? new Set<string>();
      for (const res of r.resources ?? []) set.add(res.name);
      this.names.set(r.type_url, set);
      this.answered.add(r.type_url);
      this.call.write({ type_url: r.type_url, response_nonce: r.nonce });
    });
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    TYPES.forEach((typeUrl, i) =>
      this.call.write({ ...(i === 0 && { node }), type_url: typeUrl, resource_names_subscribe: ['*', ...(extra[typeUrl] ?? [])] }),
    );
  }

  async failure(): Promise<grpc.ServiceError> {
    return eventually(() => {
      if (!this.error) throw new Error(`stream not failed yet; got ${[...this.answered].join(', ')}`);
      return this.error;
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

describe('hostile xDS clients over mTLS', () => {
  let dir: string;
  let ca: TestCa;
  let server: TestCert;
  let certA: TestCert;
  let certB: TestCert;
  let cache: SnapshotCache;
  let xds: XdsServer;
  let endpoint: XdsEndpoint | undefined;
  let config: Config;
  const clients: DeltaAds[] = [];
  const creds = (c?: TestCert) => grpc.credentials.createSsl(ca.pem, c?.key ?? null, c?.cert ?? null);
  const connect = (c: TestCert | undefined, node: { id: string; cluster: string }, extra?: Record<string, string[]>) => {
    const ads = new DeltaAds(endpoint!.port, creds(c), node, extra);
    clients.push(ads);
    return ads;
  };
  const apply = (cfg: Config) => {
    config = cfg;
    cache.setSnapshot(compile(cfg));
  };

  beforeAll(async () => {
    loadEnvoyProtos();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-hostile-'));
    ca = makeCa(dir, 'ca');
    server = issueCert(ca, dir, 'server', { kind: 'server' });
    certA = clientCert(ca, dir, 'proxy-a', 'URI:spiffe://example.org/ns/a/edge-1');
    certB = clientCert(ca, dir, 'proxy-b', 'DNS:b-1.internal');
    const logger = createLogger('silent');
    cache = new SnapshotCache({ logger });
    xds = new XdsServer({ cache, logger, groups: () => config?.groups });
    apply(load(configYaml(dir, server)));
    endpoint = await serveXds(xds, '127.0.0.1', 0, {
      transport: { tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, requireClientCert: true } },
      logger,
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await endpoint?.stop();
    xds?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads URI and DNS SANs as groups name them', () => {
    expect(certificateIdentities('URI:spiffe://example.org/ns/a/edge-1, DNS:b-1.internal, IP Address:127.0.0.1')).toEqual(['spiffe://example.org/ns/a/edge-1', 'dns:b-1.internal']);
    expect(certificateIdentities('DNS:"odd, name"')).toEqual(['dns:odd, name']);
    expect(certificateIdentities(undefined)).toEqual([]);
  });

  it('(1) a client without a certificate is refused by the handshake', async () => {
    const ads = connect(undefined, { id: 'a-1', cluster: 'edge-a' });
    expect((await ads.failure()).code).toBe(grpc.status.UNAVAILABLE);
    expect(ads.answered.size).toBe(0);
    expect(xds.streamCount).toBe(0);
  });

  it('(2) a certificate allowed for group A claiming a node of group B gets PERMISSION_DENIED, recorded among the refusals', async () => {
    const ads = connect(certA, { id: 'b-7', cluster: 'edge-b' });
    const err = await ads.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('node "b-7" with identity spiffe://example.org/ns/a/edge-1 may not join group "group-b", which allows dns:b-*.internal');
    expect(ads.answered.size).toBe(0);
    expect(xds.refused()).toContainEqual(
      expect.objectContaining({ nodeId: 'b-7', nodeCluster: 'edge-b', identities: ['spiffe://example.org/ns/a/edge-1'], group: 'group-b', allowed: ['dns:b-*.internal'], when: 'first-request' }),
    );
    // GET /api/v1/proxies (the core route over the served view) lists it under `refused`, and `banyan proxies` prints it
    const routes = new Map<string, (req: unknown) => Promise<unknown>>();
    const router = { get: (p: string, h: (req: unknown) => Promise<unknown>) => (routes.set(p, h), router) } as unknown as Router;
    mountCoreRoutes(router, { view: new PipelineView(undefined as never, () => xds.status(), undefined, () => xds.refused()), registries: [] });
    for (const query of ['', '?scope=local']) {
      const reply = (await routes.get('/api/v1/proxies')!({ url: new URL(`http://banyan/api/v1/proxies${query}`) })) as { refused: { nodeId: string; reason: string }[] };
      expect(reply.refused.map((r) => [r.nodeId, r.reason])).toEqual([['b-7', err.details]]);
    }
    expect(refusedLines(xds.refused())).toEqual([expect.stringMatching(/^ {2}b-7 group group-b \(on connecting, .* ago\): node "b-7" with identity spiffe:\/\/example.org\/ns\/a\/edge-1 may not join group "group-b"/)]);
    // the default group is locked too: a node matching no group does not get everything
    const stray = connect(certA, { id: 'stray', cluster: 'nowhere' });
    expect((await stray.failure()).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('(3) an allowed proxy receives exactly its group snapshot: no other group listener, cluster or secret, even by name', async () => {
    const ads = connect(certA, { id: 'a-1', cluster: 'edge-a' }, {
      [TypeUrl.Secret]: ['b-cert'],
      [TypeUrl.Cluster]: ['b-app'],
      [TypeUrl.Listener]: ['b-edge'],
    });
    const expected = Object.fromEntries(TYPES.map((t) => [t, [...cache.get('group-a', t).resources.keys()].sort()]));
    expect(expected[TypeUrl.Secret]).toEqual(['a-cert']);
    expect(expected[TypeUrl.Listener]).toEqual(['a-edge']);
    await eventually(() => {
      const got = Object.fromEntries(TYPES.map((t) => [t, [...(ads.names.get(t) ?? [])].sort()]));
      expect(got).toEqual(expected);
    });
    const all = [...ads.names.values()].flatMap((s) => [...s]);
    for (const foreign of ['b-cert', 'b-app', 'b-edge']) expect(all).not.toContain(foreign);
    expect(ads.error).toBeUndefined();
    expect(xds.status().map((p) => [p.nodeId, p.group])).toContainEqual(['a-1', 'group-a']);
  });

  it('a config change that moves a connected node to a group its identity does not allow ends its stream', async () => {
    const ads = connect(certB, { id: 'b-1', cluster: 'edge-b' });
    await eventually(() => expect(ads.names.get(TypeUrl.Secret)).toEqual(new Set(['b-cert'])));
    // group-b now matches another cluster: b-1 falls to `default`, which only admin identities may join
    apply(load(configYaml(dir, server, 'elsewhere')));
    const err = await ads.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toContain('group "default"');
    expect(xds.refused()).toContainEqual(expect.objectContaining({ nodeId: 'b-1', group: 'default', when: 'regrouped' }));
    expect(xds.status().map((p) => p.nodeId)).not.toContain('b-1');
  });

  it("a config change that narrows the identities of a connected node's own group ends its stream", async () => {
    apply(load(configYaml(dir, server)));
    const ads = connect(certB, { id: 'b-2', cluster: 'edge-b' });
    await eventually(() => expect(ads.names.get(TypeUrl.Secret)).toEqual(new Set(['b-cert'])));
    // Same group, same match: only who may join it changes.
    apply(load(configYaml(dir, server).replace('identities: [ "dns:b-*.internal" ]', 'identities: [ "dns:c-*.internal" ]')));
    const err = await ads.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toContain('group "group-b", which allows dns:c-*.internal');
    expect(xds.status().map((p) => p.nodeId)).not.toContain('b-2');
    // Back to the shared config for the tests after this one.
    apply(load(configYaml(dir, server)));
  });
});

/** One batch of grpc-go's xDS client (test/go/xdsclient) over TLS channel creds in its bootstrap (gRFC A65). */
function goBatch(bin: string, xdsPort: number, node: string, tlsArgs: string[], deadlineMs: number): Promise<Batch> {
  return new Promise((resolve, reject) => {
    const { GRPC_XDS_BOOTSTRAP: _f, GRPC_XDS_BOOTSTRAP_CONFIG: _c, ...env } = process.env;
    execFile(
      bin,
      ['--xds', `127.0.0.1:${xdsPort}`, '--node', node, '--cluster', 'proxyless', '--target', 'xds:///orders', '-n', '1', '-concurrency', '1', '-deadline', String(deadlineMs), ...tlsArgs],
      { env, timeout: 60_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').at(-1);
        if (!line) return reject(new Error(`grpc-go client printed nothing (${err?.message ?? 'exit 0'}): ${stderr.slice(-2000)}`));
        resolve(JSON.parse(line) as Batch);
      },
    );
  });
}

describe('grpc-go xDS client over mTLS', () => {
  let dir: string;
  let ca: TestCa;
  let server: TestCert;
  let allowed: TestCert;
  let denied: TestCert;
  let backend: ConfigurableEchoBackend | undefined;
  let xds: XdsServer;
  let endpoint: XdsEndpoint | undefined;
  let bin: string;
  let config: Config;

  beforeAll(async () => {
    loadEnvoyProtos();
    bin = await goBinary('xdsclient');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-hostile-go-'));
    ca = makeCa(dir, 'ca');
    server = issueCert(ca, dir, 'server', { kind: 'server' });
    allowed = clientCert(ca, dir, 'grpc-ok', 'URI:spiffe://example.org/ns/grpc/orders-client');
    denied = clientCert(ca, dir, 'grpc-other', 'URI:spiffe://example.org/ns/other/orders-client');
    backend = await startEchoBackend('v1');
    config = load(`${apiSplitYaml({ orders: [{ cluster: 'orders-v1', weight: 100, port: backend.port }] })}groups:
  - name: grpc
    match: { cluster: proxyless }
    identities: [ "spiffe://example.org/ns/grpc/*" ]
`);
    const logger = createLogger('silent');
    const cache = new SnapshotCache({ logger });
    xds = new XdsServer({ cache, logger, groups: () => config.groups });
    cache.setSnapshot(compile(config));
    endpoint = await serveXds(xds, '127.0.0.1', 0, {
      transport: { tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, requireClientCert: true } },
      logger,
    });
  }, 600_000);

  afterAll(async () => {
    await endpoint?.stop();
    xds?.close();
    await backend?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const tlsArgs = (c?: TestCert) => ['-xds-ca', ca.certFile, ...(c ? ['-xds-cert', c.certFile, '-xds-key', c.keyFile] : [])];

  it('with an allowed certificate it is served and routes traffic to the backend', async () => {
    const batch = await goBatch(bin, endpoint!.port, 'go-allowed', tlsArgs(allowed), 20_000);
    expect(okCount(batch)).toBe(1);
    expect(backend!.calls).toBe(1);
  }, 60_000);

  it('without a certificate, or with one its group does not allow, it gets nothing and routes nothing', async () => {
    const before = backend!.calls;
    const none = await goBatch(bin, endpoint!.port, 'go-anonymous', tlsArgs(), 3_000);
    expect(okCount(none)).toBe(0);
    const wrong = await goBatch(bin, endpoint!.port, 'go-denied', tlsArgs(denied), 3_000);
    expect(okCount(wrong)).toBe(0);
    expect(backend!.calls).toBe(before);
    expect(xds.refused()).toContainEqual(expect.objectContaining({ nodeId: 'go-denied', group: 'grpc', identities: ['spiffe://example.org/ns/other/orders-client'] }));
    expect(xds.refused().map((r) => r.nodeId)).not.toContain('go-anonymous');
  }, 60_000);
});

describe('groups with identities on a plaintext xDS server', () => {
  it('refuse every proxy (fail closed): no certificate, no identity to check; the server warns as the config arrives', async () => {
    loadEnvoyProtos();
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const cache = new SnapshotCache({ logger });
    const config = load(`listeners:
  - { name: edge, port: 10000, routes: [ { name: all, match: { prefix: / }, to: app } ] }
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
groups:
  - name: edge
    match: { cluster: edge }
    identities: [ "spiffe://example.org/ns/edge/*" ]
`);
    const xds = new XdsServer({ cache, logger, groups: () => config.groups, clientCertsVerified: false });
    cache.setSnapshot(compile(config));
    expect(warnings.map((l) => JSON.parse(l).msg)).toEqual([expect.stringContaining('xDS does not verify client certificates')]);
    const endpoint = await serveXds(xds, '127.0.0.1', 0, { logger });
    const ads = new DeltaAds(endpoint.port, grpc.credentials.createInsecure(), { id: 'edge-1', cluster: 'edge' });
    const open = new DeltaAds(endpoint.port, grpc.credentials.createInsecure(), { id: 'other-1', cluster: 'other' });
    try {
      const err = await ads.failure();
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(err.details).toContain('xDS is served without TLS');
      expect(ads.answered.size).toBe(0);
      // a group without identities (here `default`) still serves as before
      await eventually(() => expect(open.names.get(TypeUrl.Listener)).toEqual(new Set(['edge'])));
    } finally {
      ads.close();
      open.close();
      await endpoint.stop();
      xds.close();
    }
  });
});

describe('an identity limited to the node ids it may claim (identities: {identity, nodes})', () => {
  let dir: string;
  let ca: KeyedCert;
  let edgeCert: { cert: Buffer; key: Buffer };
  let meshCert: { cert: Buffer; key: Buffer };
  let cache: SnapshotCache;
  let xds: XdsServer;
  let endpoint: XdsEndpoint | undefined;
  let config: Config;
  const clients: DeltaAds[] = [];
  /** `before`: groups placed ahead of `edge` (a proxy joins the first that matches). */
  const yaml = (edgeNodes: string, before = '') => `listeners:
  - name: edge
    port: 10000
    routes: [ { name: all, match: { prefix: / }, to: app } ]
clusters:
  - { name: app, endpoints: [10.0.0.1:8080] }
groups:${before}
  - name: edge
    match: { cluster: edge }
    identities:
      - { identity: "spiffe://example.org/ns/edge/*", nodes: ${edgeNodes} }
      - spiffe://example.org/ns/ops/*
`;
  /** A client leaf from src/ca with one URI SAN, as PEM buffers. */
  const leaf = async (uri: string) => {
    const c = await issueLeaf(ca, { uri: [uri], usage: 'client', hours: 1 });
    return { cert: Buffer.from(certToPem(c.cert)), key: Buffer.from(await keyToPem(c.privateKey)) };
  };
  const connect = (c: { cert: Buffer; key: Buffer }, node: { id: string; cluster: string }) => {
    const ads = new DeltaAds(endpoint!.port, grpc.credentials.createSsl(Buffer.from(certToPem(ca.cert)), c.key, c.cert), node);
    clients.push(ads);
    return ads;
  };

  beforeAll(async () => {
    loadEnvoyProtos();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-claims-'));
    ca = await createCa({ name: 'claims CA', days: 1 });
    const server = await issueLeaf(ca, { dns: ['localhost'], ip: ['127.0.0.1'], usage: 'server', hours: 1 });
    const files = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key'), caFile: path.join(dir, 'ca.crt') };
    fs.writeFileSync(files.certFile, certToPem(server.cert));
    fs.writeFileSync(files.keyFile, await keyToPem(server.privateKey));
    fs.writeFileSync(files.caFile, certToPem(ca.cert));
    edgeCert = await leaf('spiffe://example.org/ns/edge/e1');
    meshCert = await leaf('spiffe://example.org/ns/ops/o1');
    const logger = createLogger('silent');
    cache = new SnapshotCache({ logger });
    xds = new XdsServer({ cache, logger, groups: () => config?.groups, clientCertsVerified: true });
    config = load(yaml('[ "edge-*" ]'));
    cache.setSnapshot(compile(config));
    endpoint = await serveXds(xds, '127.0.0.1', 0, { transport: { tls: { ...files, requireClientCert: true } }, logger });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await endpoint?.stop();
    xds?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('claiming a node id outside its nodes (mesh-1 for edge-*) is PERMISSION_DENIED naming node, identity, group and the node globs, and listed among the refusals', async () => {
    const ads = connect(edgeCert, { id: 'mesh-1', cluster: 'edge' });
    const err = await ads.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe(
      'node "mesh-1" with identity spiffe://example.org/ns/edge/e1 may not claim that node id in group "edge": spiffe://example.org/ns/edge/* may claim only nodes edge-*',
    );
    expect(ads.answered.size).toBe(0);
    expect(xds.refused()).toContainEqual(
      expect.objectContaining({
        nodeId: 'mesh-1',
        identities: ['spiffe://example.org/ns/edge/e1'],
        group: 'edge',
        allowed: ['spiffe://example.org/ns/edge/* (nodes edge-*)', 'spiffe://example.org/ns/ops/*'],
        when: 'first-request',
      }),
    );
    const routes = new Map<string, (req: unknown) => Promise<unknown>>();
    const router = { get: (p: string, h: (req: unknown) => Promise<unknown>) => (routes.set(p, h), router) } as unknown as Router;
    mountCoreRoutes(router, { view: new PipelineView(undefined as never, () => xds.status(), undefined, () => xds.refused()), registries: [] });
    const reply = (await routes.get('/api/v1/proxies')!({ url: new URL('http://banyan/api/v1/proxies') })) as { refused: { nodeId: string; reason: string }[] };
    expect(reply.refused.map((r) => [r.nodeId, r.reason])).toContainEqual(['mesh-1', err.details]);
    expect(refusedLines(xds.refused())).toContainEqual(expect.stringMatching(/^ {2}mesh-1 group edge \(on connecting, .* ago\): node "mesh-1" with identity .* may claim only nodes edge-\*$/));
  });

  it('claiming a node id inside its nodes (edge-1) is served; an identity without nodes may claim any node id', async () => {
    const edge = connect(edgeCert, { id: 'edge-1', cluster: 'edge' });
    const ops = connect(meshCert, { id: 'mesh-9', cluster: 'edge' });
    for (const ads of [edge, ops]) await eventually(() => expect(ads.names.get(TypeUrl.Listener)).toEqual(new Set(['edge'])));
    expect(edge.error).toBeUndefined();
    expect(ops.error).toBeUndefined();
    expect(xds.status().map((p) => [p.nodeId, p.group])).toEqual(expect.arrayContaining([['edge-1', 'edge'], ['mesh-9', 'edge']]));
  });

  it('a config change that moves the node to a group where its identity may not claim it ends its stream (regrouped)', async () => {
    const ads = connect(edgeCert, { id: 'edge-2', cluster: 'edge' });
    await eventually(() => expect(ads.names.get(TypeUrl.Listener)).toEqual(new Set(['edge'])));
    // a new first group takes cluster edge, and there the identity may claim only gw-* nodes
    config = load(yaml('[ "edge-*" ]', `
  - name: gw
    match: { cluster: edge }
    identities: [ { identity: "spiffe://example.org/ns/edge/*", nodes: [ "gw-*" ] } ]`));
    cache.setSnapshot(compile(config));
    const err = await ads.failure();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('node "edge-2" with identity spiffe://example.org/ns/edge/e1 may not claim that node id in group "gw": spiffe://example.org/ns/edge/* may claim only nodes gw-*');
    expect(xds.refused()).toContainEqual(expect.objectContaining({ nodeId: 'edge-2', group: 'gw', when: 'regrouped' }));
  });
});
