import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { applyEnvoyApiAdditions } from './envoy-additions.js';
import { PROTO_INCLUDE_DIRS } from './paths.js';

/**
 * The Envoy protos every Banyan process needs: the xDS services and resources, the core filters
 * (connection manager, router, access log), the bootstrap, and the two services Banyan itself serves
 * (rls.proto, external_auth.proto). Imports are followed, so only entry points are listed. HTTP
 * features bring their own filter protos (HttpFeature.protos, loaded through `loadProtos`), so adding
 * a feature never means editing this list.
 */
const ENTRY_PROTOS = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/cluster/v3/cds.proto',
  'envoy/service/endpoint/v3/eds.proto',
  'envoy/service/listener/v3/lds.proto',
  'envoy/service/route/v3/rds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
];

let entryProtos: readonly string[] = ENTRY_PROTOS;

/**
 * Narrows the Envoy API this process loads to `files` (with their imports, Banyan's own protos and
 * whatever `loadProtos` adds). For `banyan ratelimit`, which serves one service: the whole API is
 * 10–15 MB of its RSS. Only before the first load; a type outside them then fails at its lookup.
 */
export function restrictEnvoyProtos(files: readonly string[]): void {
  if (cachedRoot) throw new Error('restrictEnvoyProtos: the Envoy protos are already loaded');
  entryProtos = files;
}

/** Protos added by `loadProtos` (feature modules), loaded with ENTRY_PROTOS or into the loaded root. */
const addedProtos = new Set<string>();

/**
 * Makes `files` part of the root. Feature modules call it when they are defined, which may be before
 * or after the root is first loaded; either way their types are there before anything encodes them.
 */
export function loadProtos(files: readonly string[]): void {
  const fresh = files.filter((f) => !addedProtos.has(f));
  for (const f of fresh) addedProtos.add(f);
  if (cachedRoot && fresh.length) {
    cachedRoot.loadSync(fresh, { keepCase: true });
    cachedRoot.resolveAll();
  }
}

/** Banyan's own protos under protos/, loaded when present. */
const BANYAN_PROTOS = ['ratelimit/config/ratelimit/v3/rls_conf.proto'];

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  RateLimitConfig: 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig',
  /** SDS: certificates and CA bundles, referenced by listeners' and clusters' TLS contexts. */
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type TypeUrlValue = (typeof TypeUrl)[keyof typeof TypeUrl];

function resolveInclude(origin: string, target: string): string | null {
  if (path.isAbsolute(target)) return target;
  for (const dir of PROTO_INCLUDE_DIRS) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  // Unresolvable: let protobufjs report it with the importing file's name.
  return origin ? path.resolve(path.dirname(origin), target) : target;
}

let cachedRoot: protobuf.Root | undefined;

/**
 * Reads Envoy's API (and Banyan's own protos) from disk into one protobufjs root, with the API
 * additions declared, once per process. The only I/O behind every encode, decode and lookup: the
 * pipeline, the CLI and tests call it up front, so that compile() and admission then never touch
 * the disk nor see the root change under them. Field names keep their proto (snake_case) spelling so
 * that compiled resources read like Envoy's own YAML/JSON docs.
 */
export function loadEnvoyProtos(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const root = new protobuf.Root();
  root.resolvePath = resolveInclude;
  const files = [...entryProtos, ...addedProtos];
  for (const own of BANYAN_PROTOS) if (resolveInclude('', own) && fs.existsSync(resolveInclude('', own)!)) files.push(own);
  root.loadSync(files, { keepCase: true });
  applyEnvoyApiAdditions(root);
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/** The protobufjs root holding Envoy's API; loads it on first use when nothing called loadEnvoyProtos. */
export function envoyRoot(): protobuf.Root {
  return cachedRoot ?? loadEnvoyProtos();
}

const typeCache = new Map<string, protobuf.Type>();

/** Looks up a message type by full name ("envoy.config.cluster.v3.Cluster") or type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  const name = nameOrUrl.startsWith(TYPE_URL_PREFIX) ? nameOrUrl.slice(TYPE_URL_PREFIX.length) : nameOrUrl;
  let t = typeCache.get(name);
  if (!t) {
    t = envoyRoot().lookupType(name);
    typeCache.set(name, t);
  }
  return t;
}

/**
 * Encodes a plain object (protobufjs object form: snake_case keys, enums as names, Durations as
 * {seconds, nanos}, Any as {'@type': url, ...fields}) into bytes. Unknown fields are rejected so that
 * a compiler bug fails loudly instead of producing a silently truncated resource.
 */
export function encodeMessage(nameOrUrl: string, value: object): Uint8Array {
  const type = messageType(nameOrUrl);
  assertKnownFields(type, value, type.fullName.slice(1));
  return type.encode(type.fromObject(value)).finish();
}

export function decodeMessage<T = Record<string, unknown>>(nameOrUrl: string, bytes: Uint8Array): T {
  const type = messageType(nameOrUrl);
  return type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS) as T;
}

export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  bytes: String,
  defaults: false,
  arrays: false,
  oneofs: false,
  json: true,
};

/** Encodes a google.protobuf.Any holding `value` of the given type. */
export function encodeAny(typeUrl: string, value: object): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, value) };
}

function assertKnownFields(type: protobuf.Type, value: unknown, where: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  if (type.fullName === '.google.protobuf.Struct' || type.fullName === '.google.protobuf.Value') return;
  if (type.fullName === '.google.protobuf.Any') {
    const url = (value as Record<string, unknown>)['@type'];
    if (typeof url === 'string') {
      const { ['@type']: _ignored, ...rest } = value as Record<string, unknown>;
      assertKnownFields(messageType(url), rest, url);
    }
    return;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${where}: unknown field "${key}"`);
    const resolved = field.resolvedType;
    if (!(resolved instanceof protobuf.Type)) continue;
    if (field.map) {
      for (const [k, v] of Object.entries(child as Record<string, unknown>)) assertKnownFields(resolved, v, `${where}.${key}[${k}]`);
    } else if (Array.isArray(child)) {
      child.forEach((c, i) => assertKnownFields(resolved, c, `${where}.${key}[${i}]`));
    } else {
      assertKnownFields(resolved, child, `${where}.${key}`);
    }
  }
}
