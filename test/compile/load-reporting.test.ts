/**
 * Clusters under analysis carry `lrs_server: {self: {}}`: their proxyless gRPC clients report load
 * over LRS to the server they take xDS from (gRFC A27). compile() adds it only for the clusters it is
 * told about; admission (ours and go-control-plane's ValidateAll) accepts it, on api listeners too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/index.js';
import { renderBootstrap } from '../../src/compile/bootstrap.js';
import { compile } from '../../src/compile/index.js';
import { decodeMessage, encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { startOracle, type Oracle } from '../support/oracle.js';
import { cluster, config, host, listener, pos, route } from './fixtures.js';

const BOOTSTRAP_URL = 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap';

/** An api listener (proxyless gRPC) splitting between stable and canary, plus a socket listener to stable. */
function splitConfig() {
  const split = route({ to: [{ cluster: 'stable', weight: 90 }, { cluster: 'canary', weight: 10 }] });
  return config({
    listeners: [listener({ name: 'orders', kind: 'api', port: 0, hosts: [host([split], { domains: [] })] }), listener({ hosts: [host([route({ to: 'stable' })])] })],
    clusters: [cluster({ name: 'stable' }), cluster({ name: 'canary', endpoints: [{ host: '10.0.0.2', port: 8080 }] })],
  });
}

const clusterOf = (snap: ReturnType<typeof compile>, name: string) => snap.groups.get('default')!.get(TypeUrl.Cluster)!.get(name) as Record<string, unknown>;

describe('compile: load reporting', () => {
  let oracle: Oracle;
  beforeAll(async () => {
    oracle = await startOracle();
  }, 600_000);
  afterAll(() => oracle?.close());

  it('sets lrs_server self on the clusters in the set, and only on them', () => {
    const snap = compile(splitConfig(), { loadReporting: new Set(['canary']) });
    const canary = decodeMessage<any>(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, clusterOf(snap, 'canary')));
    expect(canary.lrs_server).toEqual({ self: {} });
    expect(clusterOf(snap, 'stable').lrs_server).toBeUndefined();
  });

  it('changes nothing without the option, or for a name that is not a cluster', () => {
    const plain = compile(splitConfig());
    const other = compile(splitConfig(), { loadReporting: new Set(['nope']) });
    for (const snap of [plain, other]) for (const name of ['stable', 'canary']) expect(clusterOf(snap, name).lrs_server).toBeUndefined();
    expect(JSON.stringify([...other.groups.get('default')!.get(TypeUrl.Cluster)!])).toBe(JSON.stringify([...plain.groups.get('default')!.get(TypeUrl.Cluster)!]));
  });

  it('is admitted behind an api listener: it fits what proxyless clients honour and comes back from the wire as compiled', () => {
    const admitted = new Admission().admit(splitConfig(), pos, { loadReporting: new Set(['stable', 'canary']) });
    expect(admitted.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const canary = clusterOf(admitted.snapshot!, 'canary');
    expect(decodeMessage<any>(TypeUrl.Cluster, admitted.wire!.get(canary)!.bytes).lrs_server).toEqual({ self: {} });
  });

  it("passes go-control-plane's ValidateAll, and the oracle does look at lrs_server (a config source without a specifier fails)", async () => {
    const snap = compile(splitConfig(), { loadReporting: new Set(['canary']) });
    const good = encodeMessage(TypeUrl.Cluster, clusterOf(snap, 'canary'));
    const bad = encodeMessage(TypeUrl.Cluster, { ...clusterOf(snap, 'canary'), lrs_server: {} });
    const [ok, planted] = await oracle.validate([
      { id: 'canary', typeUrl: TypeUrl.Cluster, bytes: good },
      { id: 'planted', typeUrl: TypeUrl.Cluster, bytes: bad },
    ]);
    expect(ok).toMatchObject({ ok: true, violations: [], unknownFields: [] });
    expect(planted.ok).toBe(false);
    expect(planted.violations.map((v) => v.path)).toContain('lrs_server.config_source_specifier');
  });

  it("the bootstrap's LRS and metrics-service settings pass ValidateAll, which looks inside the sink's Any", async () => {
    const bootstrap = renderBootstrap({ nodeId: 'n', group: 'g', kind: 'sidecar', xdsHost: 'banyan.internal', xdsPort: 18000, adminPort: 9901 }) as Record<string, any>;
    const noService = structuredClone(bootstrap);
    delete noService.stats_sinks[0].typed_config.grpc_service;
    const [ok, planted] = await oracle.validate([
      { id: 'bootstrap', typeUrl: BOOTSTRAP_URL, bytes: encodeMessage(BOOTSTRAP_URL, bootstrap) },
      { id: 'planted', typeUrl: BOOTSTRAP_URL, bytes: encodeMessage(BOOTSTRAP_URL, noService) },
    ]);
    expect(ok).toMatchObject({ ok: true, violations: [], unknownFields: [] });
    expect(planted.violations.map((v) => v.path)).toEqual(['stats_sinks[0].typed_config(MetricsServiceConfig).grpc_service']);
  });
});
