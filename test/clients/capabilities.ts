/**
 * Admission's gRPC capability rules against the real clients: each construct below is planted past
 * admission into a client of one kind, which must show it cannot honour it — a NACK, or RPCs that
 * fail — while `banyan validate` refuses the same YAML with a positioned error. Constructs a client
 * quietly ignores (mirrors, rewrites, header edits...) are refused too, but there is nothing to observe
 * on the client for them: test/fixtures/planted/ covers their diagnostics.
 */
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../../src/admission/index.js';
import { TypeUrl } from '../../src/proto/envoy.js';
import type { ClientKind } from './driver.js';
import { plantConfig } from './nacks.js';

const yaml = (o: { domains?: string; route?: string; cluster?: string; endpoints?: string; action?: string } = {}) => `listeners:
  - name: orders
    kind: api
    hosts:
      - domains: ${o.domains ?? '["*"]'}
        routes:
          - name: r
            match: { prefix: / }
            ${o.action ?? 'to: orders-v1'}${o.route ?? ''}
clusters:
  - name: orders-v1
    protocol: http2
    endpoints: ${o.endpoints ?? '[127.0.0.1:1]'}${o.cluster ?? ''}
`;

type Expect = { nack: string } | { rpcFails: true };

interface Construct {
  name: string;
  yaml: string;
  /** What each client kind does with it (seen with grpc-go 1.85.0, grpcio 1.85.3, grpc-java 1.85.1). */
  clients: Partial<Record<ClientKind, Expect>>;
}

const CONSTRUCTS: Construct[] = [
  { name: 'lb: maglev', yaml: yaml({ cluster: '\n    lb: maglev' }), clients: { 'grpc-go': { nack: TypeUrl.Cluster }, 'c-core': { nack: TypeUrl.Cluster }, 'grpc-java': { nack: TypeUrl.Cluster } } },
  { name: 'lb: least_request', yaml: yaml({ cluster: '\n    lb: least_request' }), clients: { 'c-core': { nack: TypeUrl.Cluster } } },
  { name: 'DNS endpoints', yaml: yaml({ endpoints: '[localhost:1]' }), clients: { 'grpc-go': { nack: TypeUrl.Cluster }, 'c-core': { nack: TypeUrl.Cluster }, 'grpc-java': { nack: TypeUrl.Cluster } } },
  { name: 'upstream TLS from files', yaml: yaml({ cluster: '\n    tls: { insecureSkipVerify: true }' }), clients: { 'grpc-go': { nack: TypeUrl.Cluster }, 'c-core': { nack: TypeUrl.Cluster }, 'grpc-java': { nack: TypeUrl.Cluster } } },
  { name: 'a redirect route', yaml: yaml({ action: 'redirect: { host: example.com }' }), clients: { 'grpc-go': { rpcFails: true }, 'c-core': { rpcFails: true }, 'grpc-java': { nack: TypeUrl.RouteConfiguration } } },
  { name: 'retry attempts 0', yaml: yaml({ route: '\n            retry: { attempts: 0, on: [unavailable] }' }), clients: { 'grpc-go': { nack: TypeUrl.RouteConfiguration }, 'c-core': { nack: TypeUrl.RouteConfiguration }, 'grpc-java': { rpcFails: true } } },
  { name: 'a domain with a * in the middle', yaml: yaml({ domains: '["orders", "a.*.com"]' }), clients: { 'grpc-go': { rpcFails: true }, 'c-core': { nack: TypeUrl.RouteConfiguration } } },
];

export function capabilityMatrix(kind: ClientKind): void {
  describe(`${kind}: what admission refuses on api listeners, the real client cannot honour`, () => {
    const mine = CONSTRUCTS.filter((c) => c.clients[kind]);
    it.each(mine.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const errors = validateFiles([{ file: 'planted.yaml', text: c.yaml }]).diagnostics.filter((d) => d.severity === 'error');
      expect(errors.length, 'validate must refuse it').toBeGreaterThan(0);
      expect(errors[0].message).toContain('proxyless gRPC clients');
      const expected = c.clients[kind]!;
      // Generous bounds: a JVM client on a loaded 2-core machine takes seconds to start and subscribe.
      const planted = await plantConfig(kind, c.yaml, { awaitTypes: 'nack' in expected ? [expected.nack] : [TypeUrl.Listener, TypeUrl.RouteConfiguration], timeoutMs: 45_000 });
      if ('nack' in expected) expect(Object.keys(planted.nacked)).toContain(expected.nack);
      else expect(Object.keys(planted.rpc.counts)).toEqual([]);
      if ('rpcFails' in expected) expect(Object.values(planted.rpc.errors).reduce((a, b) => a + b, 0)).toBe(1);
    }, 90_000);
  });
}
