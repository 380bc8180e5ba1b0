/**
 * Property tests of Banyan's promise: "if `banyan validate` says yes, every proxy receives exactly the
 * values the operator wrote, and Envoy's own validation rules accept them; if it says no, the message
 * names file:line:col." Over generated operator YAML (arbitraries.ts), seeded and bounded:
 *
 * - accepted ⇒ the config loads, compiles and passes admission with no error; every resource of every
 *   group encodes, decodes, and re-encodes to the canonical JSON of the compiled object (and to the
 *   bytes admission handed the xDS cache); and the values a proxy decodes from the wire equal what the
 *   YAML says — read here from the text with the `yaml` package, never from Banyan's model;
 * - rejected ⇒ at least one error, each naming the generated file and a line:col inside the text, no
 *   config and no snapshot; and an error lies inside the element the generator broke;
 * - the generator's own verdict agrees: a fault it planted is rejected, a document without one accepted;
 * - determinism: the same text validated twice (fresh, and through an Admission that has memoized
 *   other configs) gives identical diagnostics and identical canonical JSON.
 *
 * Corners where Banyan was found to be wrong are listed in arbitraries.ts ("found bugs"); one still
 * open would be excluded there behind a KNOWN_BUG_* flag.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML, { isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { Admission, firstFilePos, validateFiles } from '../../src/admission/index.js';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { loadConfigFromString } from '../../src/config/load.js';
import { compile } from '../../src/compile/index.js';
import type { CompiledSnapshot } from '../../src/compile/types.js';
import { decodeMessage, encodeMessage, envoyRoot, TypeUrl } from '../../src/proto/envoy.js';
import { canonicalJson, canonicalJsonOf } from '../../src/proto/json.js';
import { configDocument, durationNs, MAX_DURATION_NS, type Fault, type GeneratedConfig, type Path } from './arbitraries.js';

/**
 * Fixed, so every run explores the same configs; fast-check prints seed and path on failure.
 * BANYAN_PROPERTY_SEED / BANYAN_PROPERTY_RUNS explore further by hand (never set in CI).
 */
const SEED = Number(process.env.BANYAN_PROPERTY_SEED ?? 0x0ba1a4);
/** Bounded so this file stays well under 30 s on a loaded 2-core machine. */
const RUNS = Number(process.env.BANYAN_PROPERTY_RUNS ?? 150);

type Obj = Record<string, any>;

// ------------------------------------------------------------------------------ reading the YAML

/** The text as the operator wrote it, read with `yaml` alone: merged documents and their nodes. */
class Written {
  readonly docs: Document.Parsed[];
  readonly js: Obj;
  constructor(readonly text: string) {
    this.docs = YAML.parseAllDocuments(text) as Document.Parsed[];
    this.js = Object.assign({}, ...this.docs.map((d) => d.toJS() ?? {}));
  }
  /** The node at `path`, aliases resolved (at the end and along the way). */
  node(path: Path): Node | undefined {
    for (const d of this.docs) {
      if (!isMap(d.contents) || !d.contents.has(path[0])) continue;
      let n: unknown = d.contents;
      for (const seg of path) {
        n = this.deref(d, n);
        n = isMap(n) || isSeq(n) ? n.get(seg, true) : undefined;
        if (n === undefined) break;
      }
      if (n !== undefined) return this.deref(d, n) as Node;
    }
    return undefined;
  }
  deref(doc: Document.Parsed, n: unknown): unknown {
    return isAlias(n) ? n.resolve(doc) : n;
  }
  /** The scalar `node` (from a document of this text), aliases resolved. */
  scalar(n: unknown): unknown {
    for (const d of this.docs) if (isAlias(n)) return n.resolve(d) ?? n;
    return n;
  }
}

/** A scalar as typed: a plain scalar YAML reads as a number or boolean keeps its source text. */
function scalarText(node: unknown): string {
  if (!isScalar(node)) throw new Error('expected a scalar');
  if (node.type === 'PLAIN' && typeof node.value !== 'string') return node.source as unknown as string;
  return String(node.value);
}

const ns = (v: unknown): bigint | undefined => (v === undefined ? undefined : v === 0 ? 0n : durationNs(v as string));
const wireNs = (d: Obj | undefined): bigint | undefined => (d === undefined ? undefined : BigInt(d.seconds ?? 0) * 1_000_000_000n + BigInt(d.nanos ?? 0));

// ------------------------------------------------------------------------------ the wire side

type WireIndex = Map<string, Map<string, Obj>>;

interface WireCheck {
  index: WireIndex;
  canonical: Map<string, unknown>;
}

/**
 * Every resource of every group: encoded, decoded and re-encoded, the canonical JSON of what comes
 * back equals the canonical JSON of the compiled object, and the bytes equal the ones admission handed
 * the xDS cache. Returns the decoded resources by type and name, and the canonical JSON of each
 * (group/type/name → JSON). A resource several groups share (the same object) is checked once.
 */
function throughTheWire(snapshot: CompiledSnapshot, wire: ReadonlyMap<object, { bytes: Uint8Array }>): WireCheck {
  const index: WireIndex = new Map();
  const canonical = new Map<string, unknown>();
  const done = new Map<object, { json: unknown; decoded: Obj }>();
  for (const [group, set] of snapshot.groups) {
    for (const [typeUrl, resources] of set) {
      for (const [name, resource] of resources) {
        let r = done.get(resource);
        if (!r) {
          const where = `${group} ${typeUrl} "${name}"`;
          const bytes = encodeMessage(typeUrl, resource);
          const decoded = decodeMessage<Obj>(typeUrl, bytes);
          const json = canonicalJson(typeUrl, bytes);
          expect(canonicalJson(typeUrl, encodeMessage(typeUrl, decoded)), `${where}: decoded and re-encoded`).toEqual(json);
          const admitted = wire.get(resource);
          expect(admitted, `${where}: admission's wire form`).toBeDefined();
          expect(Buffer.from(admitted!.bytes).equals(Buffer.from(bytes)), `${where}: admission's bytes`).toBe(true);
          done.set(resource, (r = { json, decoded }));
        }
        canonical.set(`${group}\u0000${typeUrl}\u0000${name}`, r.json);
        let byName = index.get(typeUrl);
        if (!byName) index.set(typeUrl, (byName = new Map()));
        const seen = byName.get(name);
        if (seen) expect(r.decoded, `${typeUrl} ${name} is the same in every group`).toEqual(seen);
        byName.set(name, r.decoded);
      }
    }
  }
  return { index, canonical };
}

/** group/type/name → canonical JSON, for comparing two validations of one text. */
function canonicalOf(snapshot: CompiledSnapshot): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const memo = new Map<object, unknown>();
  for (const [group, set] of snapshot.groups) {
    for (const [typeUrl, resources] of set) {
      for (const [name, resource] of resources) {
        if (!memo.has(resource)) memo.set(resource, canonicalJsonOf(typeUrl, resource));
        out.set(`${group}\u0000${typeUrl}\u0000${name}`, memo.get(resource));
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------ written == delivered

const STATUS_CODES = (): Record<string, number> => envoyRoot().lookupEnum('envoy.type.v3.StatusCode').values;
const REDIRECT_CODE: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };
const IP = /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:]*:[0-9a-f:]*)$/i;

function checkWritten(w: Written, index: WireIndex): void {
  const get = (type: string, name: string): Obj => {
    const r = index.get(type)?.get(name);
    expect(r, `${type} "${name}" is served`).toBeDefined();
    return r!;
  };
  const listeners: Obj[] = w.js.listeners ?? [];
  listeners.forEach((L, li) => checkListener(w, L, li, get(TypeUrl.Listener, L.name), get(TypeUrl.RouteConfiguration, L.name)));
  const clusters: Obj[] = w.js.clusters ?? [];
  for (const C of clusters) {
    const served = index.get(TypeUrl.Cluster)?.get(C.name);
    // A cluster no route uses is sent to no proxy (a warning says so).
    if (served) checkCluster(C, served, index);
  }
  (w.js.ratelimit ?? []).forEach((D: Obj, di: number) => {
    const rc = get(TypeUrl.RateLimitConfig, D.domain);
    expect(rc.domain).toBe(D.domain);
    checkDescriptors(w, ['ratelimit', di, 'descriptors'], D.descriptors ?? [], rc.descriptors ?? []);
  });
}

function checkListener(w: Written, L: Obj, li: number, lis: Obj, rc: Obj): void {
  const api = L.kind === 'api';
  if (api) {
    expect(lis.api_listener).toBeDefined();
    expect(lis.address).toBeUndefined();
  } else {
    expect(lis.address.socket_address.address).toBe(L.address ?? '0.0.0.0');
    expect(lis.address.socket_address.port_value).toBe(L.port);
    const hcm = lis.filter_chains[0].filters[0].typed_config;
    const filter = (name: string) => (hcm.http_filters as Obj[]).find((f) => f.name === name)?.typed_config;
    if (L.ratelimit) {
      const f = filter('envoy.filters.http.ratelimit');
      expect(f.domain).toBe(L.ratelimit.domain);
      expect(wireNs(f.timeout)).toBe(ns(L.ratelimit.timeout ?? '50ms'));
      expect(f.failure_mode_deny ?? false).toBe(L.ratelimit.failureMode === 'deny');
    } else expect(filter('envoy.filters.http.ratelimit')).toBeUndefined();
    if (L.authz) {
      const f = filter('envoy.filters.http.ext_authz');
      expect(wireNs(f.grpc_service.timeout)).toBe(ns(L.authz.timeout ?? '250ms'));
      expect(f.failure_mode_allow ?? false).toBe(L.authz.failureMode === 'allow');
    }
    expect(hcm.access_log !== undefined).toBe(L.accessLog === true);
  }
  const hosts: Obj[] = L.routes ? [{ name: '*', domains: ['*'], routes: L.routes }] : L.hosts;
  const hostPath = (hi: number): Path => (L.routes ? ['listeners', li] : ['listeners', li, 'hosts', hi]);
  expect(rc.virtual_hosts.length).toBe(hosts.length);
  hosts.forEach((h, hi) => {
    const vh = rc.virtual_hosts[hi];
    const domains = h.domains ?? ['*'];
    const hostName = h.name ?? domains[0];
    expect(vh.name).toBe(hostName);
    expect(vh.domains).toEqual(domains);
    expect((vh.routes ?? []).length).toBe(h.routes.length);
    (h.routes as Obj[]).forEach((r, ri) => checkRoute(w, [...hostPath(hi), 'routes', ri], r, vh.routes[ri], `${hostName}/${ri}`, api));
  });
}

function checkRoute(w: Written, at: Path, r: Obj, wr: Obj, defaultName: string, api: boolean): void {
  const where = `route at ${at.join('.')}`;
  expect(wr.name, where).toBe(r.name ?? defaultName);
  // match
  const m = r.match;
  const wm = wr.match;
  if (m.prefix !== undefined) expect(wm.prefix, where).toBe(m.prefix);
  else if (m.path !== undefined) expect(wm.path, where).toBe(m.path);
  else expect(wm.safe_regex.regex, where).toBe(m.regex);
  expect(wm.case_sensitive === undefined ? true : (wm.case_sensitive.value ?? false), where).toBe(m.caseSensitive ?? true);
  expect((wm.headers ?? []).length, where).toBe((m.headers ?? []).length);
  (m.headers ?? []).forEach((h: Obj, i: number) => {
    const wh = wm.headers[i];
    expect(wh.name).toBe(h.name);
    checkStringMatch(h, wh);
    expect(wh.invert_match ?? false).toBe(h.invert ?? false);
  });
  expect((wm.query_parameters ?? []).length, where).toBe((m.query ?? []).length);
  (m.query ?? []).forEach((q: Obj, i: number) => {
    const wq = wm.query_parameters[i];
    expect(wq.name).toBe(q.name);
    checkStringMatch(q, wq);
  });
  expect(wm.grpc !== undefined, where).toBe(m.grpc === true);

  if (r.to !== undefined) {
    const a = wr.route;
    if (typeof r.to === 'string') expect(a.cluster, where).toBe(r.to);
    else if (r.to.length === 1) expect(a.cluster, where).toBe(r.to[0].cluster);
    else {
      const sent = (a.weighted_clusters.clusters as Obj[]).map((c) => {
        expect(c.weight, `${where}: weight present`).toBeDefined();
        return { cluster: c.name, weight: c.weight.value ?? 0 };
      });
      expect(sent, `${where}: weights`).toEqual(r.to.map((b: Obj) => ({ cluster: b.cluster, weight: b.weight })));
    }
    if (api) {
      expect(a.timeout, where).toBeUndefined();
      expect(wireNs(a.max_stream_duration?.max_stream_duration), `${where}: timeout as max_stream_duration`).toBe(ns(r.timeout));
    } else expect(wireNs(a.timeout), `${where}: timeout`).toBe(ns(r.timeout));
    expect(wireNs(a.idle_timeout), `${where}: idleTimeout`).toBe(ns(r.idleTimeout));
    if (r.retry) {
      const rp = a.retry_policy;
      expect(rp.num_retries, where).toBeDefined();
      expect(rp.num_retries.value ?? 0, `${where}: attempts`).toBe(r.retry.attempts ?? 1);
      const codes: number[] = r.retry.retriableStatusCodes ?? [];
      const on: string[] = r.retry.on ?? ['5xx'];
      expect((rp.retry_on ?? '').split(','), `${where}: retry on`).toEqual(codes.length && !on.includes('retriable-status-codes') ? [...on, 'retriable-status-codes'] : on);
      expect(wireNs(rp.per_try_timeout), `${where}: perTryTimeout`).toBe(ns(r.retry.perTryTimeout));
      expect(rp.retriable_status_codes ?? [], where).toEqual(codes);
      if (r.retry.backoff) {
        const base = ns(r.retry.backoff.base)!;
        expect(wireNs(rp.retry_back_off.base_interval), `${where}: backoff base`).toBe(base);
        // Unset: Envoy's default, 10 × base, capped at Duration's range.
        const tenfold = base * 10n < MAX_DURATION_NS ? base * 10n : MAX_DURATION_NS;
        expect(wireNs(rp.retry_back_off.max_interval), `${where}: backoff max`).toBe(r.retry.backoff.max !== undefined ? ns(r.retry.backoff.max) : tenfold);
      } else expect(rp.retry_back_off, where).toBeUndefined();
    } else expect(a.retry_policy, where).toBeUndefined();
    const mirrors: Obj[] = r.mirror ? [r.mirror] : (r.mirrors ?? []);
    expect((a.request_mirror_policies ?? []).length, where).toBe(mirrors.length);
    mirrors.forEach((mi, i) => {
      const mp = a.request_mirror_policies[i];
      expect(mp.cluster).toBe(mi.cluster);
      const f = mp.runtime_fraction.default_value;
      const scale = { HUNDRED: 1, TEN_THOUSAND: 100, MILLION: 10_000 }[(f.denominator ?? 'HUNDRED') as string]!;
      expect((f.numerator ?? 0) / scale, `${where}: mirror percent`).toBe(mi.percent ?? 100);
    });
    expect(a.prefix_rewrite, where).toBe(r.prefixRewrite);
    expect(a.host_rewrite_literal, where).toBe(r.hostRewrite);
  } else if (r.redirect) {
    const red = r.redirect;
    const wrd = wr.redirect;
    expect(wrd.scheme_redirect, where).toBe(red.scheme);
    expect(wrd.host_redirect, where).toBe(red.host);
    expect(wrd.port_redirect, where).toBe(red.port);
    expect(wrd.path_redirect, where).toBe(red.path);
    expect(wrd.prefix_rewrite, where).toBe(red.prefixRewrite);
    expect(wrd.response_code ?? 'MOVED_PERMANENTLY', where).toBe(REDIRECT_CODE[red.status ?? 301]);
    expect(wrd.strip_query ?? false, where).toBe(red.stripQuery ?? false);
  } else {
    expect(wr.direct_response.status, where).toBe(r.direct.status);
    expect(wr.direct_response.body?.inline_string, where).toBe(r.direct.body);
  }

  // Header mutations, byte for byte as written (the scalar's text, not YAML's reading of it).
  for (const side of ['request', 'response'] as const) {
    const written: { name: string; value: string; append: boolean }[] = [];
    const add = w.node([...at, 'headers', side, 'add']);
    if (isMap(add)) for (const pair of add.items) written.push({ name: String((pair.key as Obj).value), value: scalarText(w.scalar(pair.value)), append: false });
    if (isSeq(add))
      (r.headers[side].add as Obj[]).forEach((o, i) =>
        written.push({ name: o.name, value: scalarText(w.node([...at, 'headers', side, 'add', i, 'value'])), append: o.append ?? false }),
      );
    const sent = ((wr[`${side}_headers_to_add`] ?? []) as Obj[]).map((h) => ({
      name: h.header.key,
      value: h.header.value ?? '',
      append: (h.append_action ?? 'APPEND_IF_EXISTS_OR_ADD') === 'APPEND_IF_EXISTS_OR_ADD',
    }));
    expect(sent, `${where}: ${side} headers`).toEqual(written);
    sent.forEach((h, i) => expect(Buffer.from(h.value).equals(Buffer.from(written[i].value)), `${where}: ${side} header ${h.name} bytes`).toBe(true));
    expect(wr[`${side}_headers_to_remove`] ?? [], where).toEqual(r.headers?.[side]?.remove ?? []);
  }

  const perFilter = wr.typed_per_filter_config ?? {};
  const local = perFilter['envoy.filters.http.local_ratelimit'];
  if (r.localRateLimit) {
    const l = r.localRateLimit;
    expect(local.token_bucket.max_tokens, where).toBe(l.tokens);
    expect(local.token_bucket.tokens_per_fill.value, where).toBe(l.fill?.tokens ?? l.tokens);
    expect(wireNs(local.token_bucket.fill_interval), `${where}: fill.every`).toBe(ns(l.fill?.every ?? '1s'));
    expect(local.status ? STATUS_CODES()[local.status.code] : 429, `${where}: local rate limit status`).toBe(l.status ?? 429);
  } else expect(local, where).toBeUndefined();
  const cors = perFilter['envoy.filters.http.cors'];
  expect(cors !== undefined, where).toBe(r.cors !== undefined && !api);
  if (cors) {
    expect(cors.allow_origin_string_match.length, where).toBe(r.cors.allowOrigins.length);
    expect(cors.allow_methods, where).toBe(r.cors.allowMethods?.join(','));
    // Access-Control-Max-Age: whole seconds, as written.
    expect(cors.max_age, `${where}: cors maxAge`).toBe(r.cors.maxAge === undefined ? undefined : String(ns(r.cors.maxAge)! / 1_000_000_000n));
    if (r.cors.maxAge !== undefined) expect(ns(r.cors.maxAge)! % 1_000_000_000n, `${where}: cors maxAge is whole seconds`).toBe(0n);
  }
  if (r.ratelimit) {
    const limits: Obj[] = wr.route.rate_limits;
    expect(limits.length, where).toBe(r.ratelimit.length);
    r.ratelimit.forEach((d: unknown[], i: number) =>
      d.forEach((act, j) => {
        const wa = limits[i].actions[j];
        if (act === 'remote_address') expect(wa.remote_address).toBeDefined();
        else if ((act as Obj).header) expect([wa.request_headers.header_name, wa.request_headers.descriptor_key]).toEqual([(act as Obj).header, (act as Obj).as ?? (act as Obj).header]);
        else if ((act as Obj).generic_key) expect(wa.generic_key.descriptor_value).toBe((act as Obj).generic_key);
      }),
    );
  }
}

function checkStringMatch(m: Obj, wire: Obj): void {
  const sm = wire.string_match;
  if (m.exact !== undefined) expect(sm.exact).toBe(m.exact);
  else if (m.prefix !== undefined) expect(sm.prefix).toBe(m.prefix);
  else if (m.suffix !== undefined) expect(sm.suffix).toBe(m.suffix);
  else if (m.regex !== undefined) expect(sm.safe_regex.regex).toBe(m.regex);
  else expect(wire.present_match).toBe(m.present ?? true);
}

function checkCluster(C: Obj, cw: Obj, index: WireIndex): void {
  const where = `cluster ${C.name}`;
  const eps = (C.endpoints as unknown[]).map((e) => {
    if (typeof e !== 'string') return { address: (e as Obj).address, port: (e as Obj).port, weight: (e as Obj).weight, zone: (e as Obj).zone };
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(e)!;
    return { address: m[1], port: Number(m[2]), weight: undefined, zone: undefined };
  });
  const eds = C.discovery === 'eds' || (C.discovery === undefined && eps.every((e) => IP.test(e.address)));
  expect(cw.type, where).toBe(eds ? 'EDS' : 'STRICT_DNS');
  expect(wireNs(cw.connect_timeout), `${where}: connectTimeout`).toBe(ns(C.connectTimeout ?? '5s'));
  expect(cw.lb_policy ?? 'ROUND_ROBIN', where).toBe((C.lb ?? 'round_robin').toUpperCase());
  expect(cw.typed_extension_protocol_options !== undefined, where).toBe(C.protocol === 'http2');
  const cla = eds ? index.get(TypeUrl.ClusterLoadAssignment)?.get(C.name) : cw.load_assignment;
  expect(cla, `${where}: endpoints are served`).toBeDefined();
  const sent = (cla!.endpoints as Obj[]).flatMap((loc) => {
    expect(loc.load_balancing_weight?.value, `${where}: locality weight`).toBeGreaterThanOrEqual(1);
    return (loc.lb_endpoints as Obj[]).map((lb) => ({
      address: lb.endpoint.address.socket_address.address,
      port: lb.endpoint.address.socket_address.port_value,
      weight: lb.load_balancing_weight?.value,
      zone: loc.locality?.zone,
    }));
  });
  const key = (e: Obj) => JSON.stringify([e.address, e.port, e.weight ?? null, e.zone ?? null]);
  expect(sent.map(key).sort(), `${where}: endpoints`).toEqual(eps.map(key).sort());

  const cb = C.circuitBreaker;
  if (cb) {
    const t = cw.circuit_breakers.thresholds[0];
    for (const [k, f] of [['maxConnections', 'max_connections'], ['maxPendingRequests', 'max_pending_requests'], ['maxRequests', 'max_requests'], ['maxRetries', 'max_retries']]) {
      if (cb[k] === undefined) expect(t[f], where).toBeUndefined();
      else expect(t[f]?.value ?? (t[f] ? 0 : undefined), `${where}: circuitBreaker.${k}`).toBe(cb[k]);
    }
  } else expect(cw.circuit_breakers, where).toBeUndefined();
  const od = C.outlierDetection;
  if (od) {
    const o = cw.outlier_detection;
    expect(o.consecutive_5xx ? (o.consecutive_5xx.value ?? 0) : undefined, `${where}: consecutive5xx`).toBe(od.consecutive5xx);
    expect(wireNs(o.interval), where).toBe(ns(od.interval));
    expect(wireNs(o.base_ejection_time), where).toBe(ns(od.baseEjectionTime));
    expect(o.max_ejection_percent ? (o.max_ejection_percent.value ?? 0) : undefined, where).toBe(od.maxEjectionPercent);
  } else expect(cw.outlier_detection, where).toBeUndefined();
  const hc = C.healthCheck;
  if (hc) {
    const h = cw.health_checks[0];
    expect(h.http_health_check.path, where).toBe(hc.http);
    expect(wireNs(h.interval), where).toBe(ns(hc.interval ?? '10s'));
    expect(wireNs(h.timeout), where).toBe(ns(hc.timeout ?? '1s'));
    expect(h.healthy_threshold.value, where).toBe(hc.healthyThreshold ?? 2);
    expect(h.unhealthy_threshold.value, where).toBe(hc.unhealthyThreshold ?? 3);
    const covered = ((h.http_health_check.expected_statuses ?? []) as Obj[]).flatMap((r) => Array.from({ length: Number(r.end) - Number(r.start) }, (_, i) => Number(r.start) + i));
    expect(covered.sort(), `${where}: expected statuses`).toEqual([...new Set<number>(hc.expectedStatuses ?? [200])].sort());
  } else expect(cw.health_checks, where).toBeUndefined();
  if (C.tls) {
    const tls = cw.transport_socket.typed_config;
    expect(tls.sni, `${where}: sni`).toBe(C.tls.sni);
    if (C.tls.sni !== undefined) expect(Buffer.from(tls.sni).equals(Buffer.from(C.tls.sni))).toBe(true);
    expect(tls.common_tls_context.alpn_protocols ?? [], where).toEqual(C.tls.alpn ?? []);
    expect(tls.common_tls_context.validation_context === undefined, where).toBe(C.tls.insecureSkipVerify === true);
  } else expect(cw.transport_socket, where).toBeUndefined();
}

function checkDescriptors(w: Written, at: Path, written: Obj[], sent: Obj[]): void {
  expect(sent.length, at.join('.')).toBe(written.length);
  written.forEach((d, i) => {
    const s = sent[i];
    expect(s.key).toBe(d.key);
    const valueNode = w.node([...at, i, 'value']);
    expect(s.value, `${at.join('.')}[${i}].value as written`).toBe(valueNode === undefined ? undefined : scalarText(valueNode));
    if (d.rate_limit?.unlimited) expect(s.rate_limit.unlimited).toBe(true);
    else if (d.rate_limit) {
      expect(s.rate_limit.unit).toBe(String(d.rate_limit.unit).toUpperCase());
      expect(s.rate_limit.requests_per_unit ?? 0).toBe(d.rate_limit.requests_per_unit);
    }
    expect(s.shadow_mode ?? false).toBe(d.shadow_mode ?? false);
    checkDescriptors(w, [...at, i, 'descriptors'], d.descriptors ?? [], s.descriptors ?? []);
  });
}

// ------------------------------------------------------------------------------ positions

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

/** Whether some error lies inside the text of the element a fault was planted in. */
function located(w: Written, errors: Diagnostic[], fault: Fault): boolean | undefined {
  let range: [number, number];
  if (Array.isArray(fault.anchor)) {
    const node = w.node(fault.anchor);
    if (!node?.range) return undefined;
    range = [node.range[0], node.range[2]];
  } else range = [fault.anchor.from, fault.anchor.to];
  const starts = lineStarts(w.text);
  return errors.some((d) => {
    const offset = starts[d.line - 1] + d.col - 1;
    return offset >= range[0] && offset <= range[1];
  });
}

// ------------------------------------------------------------------------------ the property

const stats = { runs: 0, accepted: 0, rejected: 0, faulty: 0, faultsPlanted: 0, singleFault: 0, located: 0, faultyAccepted: 0, ms: 0 };
/** Shared across runs, so validate also runs with verdicts memoized from other configs. */
const sharedAdmission = new Admission();

function show(gen: GeneratedConfig, diagnostics: readonly Diagnostic[]): string {
  return `--- ${gen.file}\n${gen.text}\n--- faults planted: ${JSON.stringify(gen.faults.map((f) => f.reason))}\n--- diagnostics:\n${diagnostics.map(formatDiagnostic).join('\n')}`;
}

function checkChain(gen: GeneratedConfig): void {
  const started = performance.now();
  const { file, text } = gen;
  const first = validateFiles([{ file, text }]);
  const again = validateFiles([{ file, text }], sharedAdmission);
  stats.runs++;
  if (gen.faultyMode) stats.faulty++;
  stats.faultsPlanted += gen.faults.length;

  // Determinism: identical diagnostics, identical verdict.
  expect(again.diagnostics, 'validating the same text twice').toEqual(first.diagnostics);
  expect(again.snapshot !== undefined).toBe(first.snapshot !== undefined);
  const errors = first.diagnostics.filter((d) => d.severity === 'error');
  const w = new Written(text);
  // The generator's own check: the text reads as the tree it was emitted from (unless broken on purpose).
  if (!gen.faults.some((f) => !Array.isArray(f.anchor))) expect(JSON.stringify(w.js), `generated text reads as its tree\n${text}`).toBe(JSON.stringify(gen.tree));

  if (first.snapshot) {
    stats.accepted++;
    if (gen.faultyMode) stats.faultyAccepted++;
    expect(gen.faults.map((f) => f.reason), `accepted a config with planted faults\n${show(gen, first.diagnostics)}`).toEqual([]);
    expect(errors).toEqual([]);
    // The chain step by step: load, compile, admission — no error anywhere.
    const loaded = loadConfigFromString(text, file);
    expect(loaded.config, 'load accepts what validate accepted').toBeDefined();
    const compiled = compile(loaded.config!);
    const admitted = new Admission().admit(loaded.config!, firstFilePos([{ file }]));
    expect(admitted.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(admitted.snapshot).toBeDefined();
    // Every resource through the wire, equal to what was compiled and to what admission encoded.
    const direct = throughTheWire(admitted.snapshot!, admitted.wire!);
    const compiledJson = (s: CompiledSnapshot) => JSON.stringify([...s.groups].map(([g, set]) => [g, [...set].map(([t, rs]) => [t, [...rs]])]));
    expect(compiledJson(compiled), 'compile is deterministic').toBe(compiledJson(admitted.snapshot!));
    // Determinism: the same text, validated twice, gives the same canonical JSON (and the one admitted here).
    const viaValidate = canonicalOf(first.snapshot);
    expect(canonicalOf(again.snapshot!), 'canonical JSON of the same text, validated twice').toEqual(viaValidate);
    expect(viaValidate).toEqual(direct.canonical);
    // What the proxy decodes is what the operator wrote.
    try {
      checkWritten(w, direct.index);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${show(gen, first.diagnostics)}`);
    }
  } else {
    stats.rejected++;
    expect(first.config).toBeUndefined();
    expect(errors.length, `rejected without an error\n${show(gen, first.diagnostics)}`).toBeGreaterThan(0);
    const lines = text.split('\n');
    for (const d of errors) {
      const where = `${formatDiagnostic(d)}\n${show(gen, first.diagnostics)}`;
      expect(d.file, where).toBe(file);
      expect(d.line >= 1 && d.line <= lines.length, `line inside the text: ${where}`).toBe(true);
      expect(d.col >= 1 && d.col <= lines[d.line - 1].length + 1, `column inside the line: ${where}`).toBe(true);
    }
    expect(gen.faults.length, `rejected a config without planted faults\n${show(gen, first.diagnostics)}`).toBeGreaterThan(0);
    const verdicts = gen.faults.map((f) => located(w, errors, f));
    const known = verdicts.filter((v) => v !== undefined);
    if (gen.faults.length === 1) stats.singleFault++;
    if (known.some(Boolean)) stats.located++;
    // Through an alias, an error points where the value is written, which may be another element.
    if (gen.aliases) return void (stats.ms += performance.now() - started);
    if (gen.faults.length === 1 && known.length === 1) expect(known[0], `an error inside the element with the fault\n${show(gen, first.diagnostics)}`).toBe(true);
    else if (known.length) expect(known.some(Boolean), `an error inside some element with a fault\n${show(gen, first.diagnostics)}`).toBe(true);
  }
  stats.ms += performance.now() - started;
}

describe('validate → compile → admission → wire, over generated operator YAML', () => {
  it(`holds for ${RUNS} configs (seed ${SEED})`, { timeout: Math.max(30_000, RUNS * 300) }, () => {
    fc.assert(fc.property(configDocument, checkChain), { seed: SEED, numRuns: RUNS, endOnFailure: false });
    const share = (n: number) => `${((100 * n) / stats.runs).toFixed(0)}%`;
    console.log(
      `property chain: seed ${SEED}, ${stats.runs} configs, accepted ${stats.accepted} (${share(stats.accepted)}), rejected ${stats.rejected} (${share(stats.rejected)}), ` +
        `faulty mode ${stats.faulty} (${stats.faultyAccepted} drew no fault), faults planted ${stats.faultsPlanted}, rejected with one fault ${stats.singleFault}, ` +
        `rejections with an error inside a faulty element ${stats.located}, ${(stats.ms / stats.runs).toFixed(1)} ms/config`,
    );
    // Both sides of the property are exercised.
    expect(stats.accepted / stats.runs).toBeGreaterThan(0.2);
    expect(stats.rejected / stats.runs).toBeGreaterThan(0.2);
  });
});

