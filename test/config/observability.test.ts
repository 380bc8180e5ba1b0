/**
 * A listener's `tracing:`, `requestId:` and `accessLog:` keys: what the schema refuses (where it was
 * written), the defaults the builder applies, what compiles, and what admission refuses on api
 * listeners (proxyless gRPC runs no Envoy tracer, request id logic or access logger).
 */
import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/index.js';
import { compile } from '../../src/compile/index.js';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/schema-observability.js';
import { TypeUrl } from '../../src/proto/envoy.js';

const yaml = (keys: string, kind = '') => `listeners:
  - name: edge
    ${kind || 'port: 10000'}
${keys
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
    routes:
      - { name: r, match: { prefix: / }, to: app }
clusters: [{ name: app, endpoints: [10.0.0.1:8080], protocol: http2 }]
`;

function load(text: string) {
  const r = loadConfigFromString(text, 'x.yaml');
  return { config: r.config, errors: r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
}

const hcmOf = (text: string): any => {
  const { config, errors } = load(text);
  expect(errors).toEqual([]);
  const listener = compile(config!).groups.get('default')!.get(TypeUrl.Listener)!.get('edge') as any;
  return listener.filter_chains[0].filters[0].typed_config;
};

describe('observability keys: defaults', () => {
  it('tracing: the listener name as service name, 100% sampling, one collector cluster', () => {
    const { config } = load(yaml('tracing: { collector: "otel.observability:4317" }'));
    expect(config!.listeners[0].tracing).toMatchObject({
      collectorHost: 'otel.observability',
      collectorPort: 4317,
      serviceName: 'edge',
      sampling: { random: 100, client: 100, overall: 100 },
      customTags: [],
    });
    const clusters = compile(config!).groups.get('default')!.get(TypeUrl.Cluster)!;
    expect([...clusters.keys()].sort()).toEqual(['app', 'banyan_otel_otel.observability_4317']);
  });

  it('one collector cluster for listeners that share a collector; a config cluster of that name is warned about', () => {
    const text = `listeners:
  - { name: a, port: 10000, tracing: { collector: "otel:4317" }, routes: [{ name: r, match: { prefix: / }, to: app }] }
  - { name: b, port: 10001, tracing: { collector: "otel:4317" }, routes: [{ name: s, match: { prefix: / }, to: banyan_otel_otel_4317 }] }
clusters: [{ name: app, endpoints: [10.0.0.1:8080] }, { name: banyan_otel_otel_4317, endpoints: [10.0.0.2:8080] }]
`;
    const { config, errors } = load(text);
    expect(errors).toEqual([]);
    const snap = compile(config!);
    const otel = [...snap.groups.get('default')!.get(TypeUrl.Cluster)!.keys()].filter((n) => n.startsWith('banyan_otel_'));
    expect(otel).toEqual(['banyan_otel_otel_4317']);
    expect(snap.warnings.map(formatDiagnostic).join('\n')).toMatch(/cluster name "banyan_otel_otel_4317" is reserved for Banyan's own service/);
  });

  it('requestId: generate, not preserving a client id, UUID extension sampling by the id', () => {
    const hcm = hcmOf(yaml('requestId: {}'));
    expect(hcm.generate_request_id).toEqual({ value: true });
    expect(hcm.preserve_external_request_id).toBeUndefined();
    expect(hcm.request_id_extension.typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig',
      pack_trace_reason: { value: true },
      use_request_id_for_trace_sampling: { value: true },
    });
    expect(hcmOf(yaml('requestId: { generate: false, preserveExternal: true }'))).toMatchObject({ generate_request_id: { value: false }, preserve_external_request_id: true });
  });

  it('accessLog: true stays Envoy\'s default line on stdout; the object form defaults to JSON on stdout with trace ids', () => {
    expect(hcmOf(yaml('accessLog: true')).access_log).toEqual([
      { name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } },
    ]);
    const { config } = load(yaml('accessLog: {}'));
    expect(config!.listeners[0]).toMatchObject({ accessLog: true, accessLogOptions: { format: 'json', path: '/dev/stdout' } });
    const log = hcmOf(yaml('accessLog: { fields: { tenant: "%REQ(X-TENANT)%", user_agent: null } }')).access_log[0];
    const fields = log.typed_config.log_format.json_format.fields;
    expect(fields.trace_id).toEqual({ stringValue: '%TRACE_ID%' });
    expect(fields.traceparent).toEqual({ stringValue: '%REQ(TRACEPARENT)%' });
    expect(fields.tenant).toEqual({ stringValue: '%REQ(X-TENANT)%' });
    expect(fields.user_agent).toBeUndefined();
    expect(hcmOf(yaml('accessLog: false')).access_log).toBeUndefined();
  });
});

describe('observability keys: refused at the YAML', () => {
  it.each([
    ['tracing: { collector: otel }', /not host:port/],
    ['tracing: { collector: "otel:4317", sampling: { random: 101 } }', /100/],
    ['tracing: { collector: "otel:4317", exporter: zipkin }', /exporter/],
    ['tracing: { collector: "otel:4317", customTags: { t: { literal: a, header: b } } }', /customTags/],
    ['accessLog: { format: json, text: "%START_TIME%" }', /"text" is for format: text/],
    ['accessLog: { format: text, fields: { a: "%START_TIME%" } }', /"fields" is for format: json/],
    ['accessLog: { fields: { code: "%RESPONSE_CODE" } }', /"%RESPONSE_CODE" is not an Envoy command/],
    ['accessLog: { fields: { code: "%response_code%" } }', /is not an Envoy command/],
    ['accessLog: { path: relative.log }', /absolute/],
    ['requestId: { generate: yes }', /generate/],
  ])('%s', (keys, message) => {
    const { errors } = load(yaml(keys));
    expect(errors.length, errors.join('\n')).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(message);
    expect(errors[0]).toMatch(/^x\.yaml:\d+:\d+: error: /);
  });

  it('checks the shape of every %COMMAND% (what Envoy would NACK the listener for)', () => {
    for (const ok of ['%START_TIME%', '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', '%REQ(USER-AGENT):64%', '%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%', 'plain text', '%TRACE_ID% - %RESPONSE_CODE%']) {
      expect(formatProblem(ok), ok).toBeUndefined();
    }
    for (const bad of ['%', '%START_TIME', '%%', '%start_time%', '%REQ(a%']) expect(formatProblem(bad), bad).toBeDefined();
  });
});

describe('observability keys: proxyless gRPC (api listeners)', () => {
  it.each([
    ['tracing: { collector: "otel:4317" }', /`tracing:` .*cannot honour: gRPC clients run no Envoy tracer/],
    ['requestId: {}', /`requestId:` .*cannot honour/],
    ['accessLog: { format: json }', /`accessLog:`.*cannot honour: gRPC clients write no Envoy access logs/],
  ])('%s is an admission error', (keys, message) => {
    const { config, errors } = load(yaml(keys, 'kind: api'));
    expect(errors).toEqual([]);
    const admitted = new Admission().admit(config!, { file: 'x.yaml', line: 1, col: 1 });
    expect(admitted.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n')).toMatch(message);
  });

  it('socket listeners with all three are admitted', () => {
    const { config, errors } = load(yaml('tracing: { collector: "10.0.0.9:4317" }\nrequestId: {}\naccessLog: { format: json }'));
    expect(errors).toEqual([]);
    expect(new Admission().admit(config!, { file: 'x.yaml', line: 1, col: 1 }).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });
});
