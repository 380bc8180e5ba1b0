import protobuf from 'protobufjs';
import { messageType } from '../proto/envoy.js';

/**
 * Hand assembly of xDS responses from pre-encoded parts. Protobuf fields concatenate, so a
 * DiscoveryResponse is (version, resources, type_url) encoded once plus a per-stream nonce field.
 * Field numbers come from the loaded protos rather than being hard-coded.
 */
function fieldId(type: string, field: string): number {
  const f = messageType(type).fields[field];
  if (!f) throw new Error(`${type} has no field ${field}`);
  return f.id;
}

const LEN = 2; // wire type: length-delimited
const tag = (id: number) => (id << 3) | LEN;

const ANY = 'google.protobuf.Any';
const RESP = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
const RES = 'envoy.service.discovery.v3.Resource';

let tags: ReturnType<typeof loadTags> | undefined;
function loadTags() {
  return {
    anyTypeUrl: tag(fieldId(ANY, 'type_url')),
    anyValue: tag(fieldId(ANY, 'value')),
    respVersion: tag(fieldId(RESP, 'version_info')),
    respResources: tag(fieldId(RESP, 'resources')),
    respTypeUrl: tag(fieldId(RESP, 'type_url')),
    respNonce: tag(fieldId(RESP, 'nonce')),
    deltaSystemVersion: tag(fieldId(DELTA, 'system_version_info')),
    deltaResources: tag(fieldId(DELTA, 'resources')),
    deltaTypeUrl: tag(fieldId(DELTA, 'type_url')),
    deltaRemoved: tag(fieldId(DELTA, 'removed_resources')),
    deltaNonce: tag(fieldId(DELTA, 'nonce')),
    resName: tag(fieldId(RES, 'name')),
    resVersion: tag(fieldId(RES, 'version')),
    resResource: tag(fieldId(RES, 'resource')),
  };
}
function t() {
  tags ??= loadTags();
  return tags;
}

/** google.protobuf.Any { type_url, value } around already-encoded message bytes. */
export function encodeAnyBytes(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(t().anyTypeUrl).string(typeUrl).uint32(t().anyValue).bytes(value).finish();
}

/** envoy.service.discovery.v3.Resource { name, version, resource: Any } for delta responses. */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  return protobuf.Writer.create()
    .uint32(t().resName)
    .string(name)
    .uint32(t().resVersion)
    .string(version)
    .uint32(t().resResource)
    .bytes(any)
    .finish();
}

/** The stream-independent part of a SotW DiscoveryResponse. */
export function encodeSotwBody(version: string, typeUrl: string, anys: Iterable<Uint8Array>): Buffer {
  const w = protobuf.Writer.create().uint32(t().respVersion).string(version);
  for (const a of anys) w.uint32(t().respResources).bytes(a);
  w.uint32(t().respTypeUrl).string(typeUrl);
  return Buffer.from(w.finish());
}

/** Shared body + this stream's nonce: the bytes grpc-js writes as-is. */
export function withSotwNonce(body: Buffer, nonce: string): Buffer {
  return Buffer.concat([body, protobuf.Writer.create().uint32(t().respNonce).string(nonce).finish()]);
}

export function encodeDeltaResponse(
  systemVersion: string,
  typeUrl: string,
  resources: Iterable<Uint8Array>,
  removed: Iterable<string>,
  nonce: string,
): Buffer {
  const w = protobuf.Writer.create().uint32(t().deltaSystemVersion).string(systemVersion);
  for (const r of resources) w.uint32(t().deltaResources).bytes(r);
  w.uint32(t().deltaTypeUrl).string(typeUrl);
  for (const name of removed) w.uint32(t().deltaRemoved).string(name);
  w.uint32(t().deltaNonce).string(nonce);
  return Buffer.from(w.finish());
}
